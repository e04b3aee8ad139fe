import torch
from eval_samples import octahedron

from gclhand.evaluation.penetration import (penetration_depth, two_hand_penetration,
                                            winding_number)


def test_winding_number_inside_outside_and_orientation():
    verts, faces = octahedron()
    points = torch.tensor([[0., 0., 0.], [0.2, 0.1, -0.3], [2., 0., 0.], [0., 0.6, 0.6]],
                          dtype=torch.float64)
    expected = torch.tensor([1., 1., 0., 0.], dtype=torch.float64)
    assert torch.allclose(winding_number(points, verts, faces, chunk=3), expected, atol=1e-9)
    assert torch.allclose(winding_number(points, verts, faces.flip(-1)), -expected, atol=1e-9)


def test_far_points_are_outside():
    verts, faces = octahedron()
    far = verts + torch.tensor([5., 1., 0.], dtype=torch.float64)
    assert penetration_depth(far, verts, faces).sum() == 0


def test_penetration_depth_inside_and_outside():
    verts, faces = octahedron()
    points = torch.tensor([[0.4, 0., 0.], [1.5, 0., 0.], [0., 0., -0.9]], dtype=torch.float64)
    depth = penetration_depth(points, verts, faces)
    assert torch.allclose(depth, torch.tensor([0.6, 0., 0.1], dtype=torch.float64))


def test_two_overlapping_octahedra():
    verts, faces = octahedron(0.01)
    both = torch.stack([verts + torch.tensor([0.015, 0., 0.], dtype=torch.float64), verts])
    res = two_hand_penetration(both, faces, faces)
    # only the left's -x vertex (at 5 mm) is inside the right mesh, 5 mm below its +x tip
    assert torch.allclose(res['max_depth'], torch.full((2,), 0.005, dtype=torch.float64))
    assert torch.allclose(res['mean_depth'], torch.full((2,), 0.005 / 6, dtype=torch.float64))
    assert torch.allclose(res['ratio'], torch.full((2,), 1 / 6, dtype=torch.float64))
    assert two_hand_penetration(both, faces, faces, threshold=0.006)['max_depth'].sum() == 0
    apart = torch.stack([verts + torch.tensor([0.05, 0., 0.], dtype=torch.float64), verts])
    assert two_hand_penetration(apart, faces, faces)['max_depth'].sum() == 0


def test_depth_equal_to_the_threshold_counts_as_touching():
    verts, faces = octahedron(0.01)
    both = torch.stack([verts + torch.tensor([0.015, 0., 0.], dtype=torch.float64), verts])
    depth = two_hand_penetration(both, faces, faces)['max_depth']  # exactly as computed
    assert two_hand_penetration(both, faces, faces, threshold=float(depth[0]))[
        'max_depth'].sum() == 0
