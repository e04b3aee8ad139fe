"""Tests of the synthetic-data rasteriser, backgrounds and winding-number test."""
import numpy as np
import pytest
import torch

from gclhand.datasets.synth.backgrounds import BACKGROUND_KINDS, random_background
from gclhand.datasets.synth.penetration import interpenetration, penetration_depth
from gclhand.datasets.synth.renderer import (project_points, rasterize, render_mesh, shade,
                                             vertex_normals)

# fx = fy = 10 px, principal point (4, 4): pixel (u, v) looks along ((u - 4) / 10, (v - 4) / 10, 1)
K = torch.tensor([[10.0, 0.0, 4.0], [0.0, 10.0, 4.0], [0.0, 0.0, 1.0]])


def _tri_at_depth(u0, v0, u1, v1, u2, v2, z):
    """Triangle whose vertices project to the given pixels, all at depth z."""
    uv = torch.tensor([[u0, v0], [u1, v1], [u2, v2]], dtype=torch.float64)
    xy = (uv - 4.0) / 10.0 * z
    return torch.cat([xy, torch.full((3, 1), float(z), dtype=torch.float64)], 1)


def test_project_points_hand_computed():
    pts = torch.tensor([[0.1, -0.2, 2.0], [0.0, 0.0, 1.0]])
    uv = project_points(pts, K)
    assert torch.allclose(uv, torch.tensor([[4.5, 3.0], [4.0, 4.0]]))


def _two_triangles():
    # far: big triangle covering the top-left half of the 8x8 image (depth 2)
    far = _tri_at_depth(-0.5, -0.5, 9.5, -0.5, -0.5, 9.5, 2.0)
    # near: small triangle around pixel (2, 2) (depth 1)
    near = _tri_at_depth(0.5, 0.5, 4.5, 0.5, 0.5, 4.5, 1.0)
    return torch.cat([far, near]), torch.tensor([[0, 1, 2], [3, 4, 5]])


@pytest.mark.parametrize('order', [(0, 1), (1, 0)])
def test_zbuffer_nearer_face_wins(order):
    verts, faces = _two_triangles()
    faces = faces[list(order)]
    frags = rasterize(verts, faces, K.double(), 8)
    near_id = order.index(1)
    far_id = order.index(0)
    # pixel (u=2, v=2) is inside both triangles: the near one (depth 1) wins
    assert frags.face_idx[2, 2] == near_id
    assert frags.depth[2, 2] == pytest.approx(1.0)
    # pixel (u=6, v=1) is only inside the far triangle (u + v <= 9)
    assert frags.face_idx[1, 6] == far_id
    assert frags.depth[1, 6] == pytest.approx(2.0)
    # pixel (u=7, v=7): u + v = 14 > 9, outside every triangle
    assert frags.face_idx[7, 7] == -1 and torch.isinf(frags.depth[7, 7])
    # exact coverage of the far triangle: pixel centres with u + v <= 9 (its hypotenuse)
    v, u = torch.meshgrid(torch.arange(8), torch.arange(8), indexing='ij')
    assert torch.equal(frags.mask, (u + v) <= 9)


def test_background_kept_and_unlit_colours_exact():
    verts, faces = _two_triangles()
    bg = torch.full((8, 8, 3), 0.25, dtype=torch.float64)
    colors = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=torch.float64)  # per face
    img, frags = render_mesh(verts, faces, K.double(), 8, colors, background=bg, mode='none')
    assert torch.equal(img[7, 7], bg[7, 7])                                   # background
    assert torch.equal(img[2, 2], colors[1])                                  # near face
    assert torch.equal(img[1, 6], colors[0])                                  # far face


def test_perspective_correct_depth_of_tilted_triangle():
    # plane z = 1 + x through a large triangle; pixel (u, v) ray d = ((u-4)/10, (v-4)/10, 1)
    # meets it at t with t = 1 + t (u - 4) / 10  ->  z = t = 1 / (1 - (u - 4) / 10)
    p = torch.tensor([[-0.3, -0.3], [0.3, -0.3], [0.0, 0.5]], dtype=torch.float64)
    verts = torch.cat([p, (1 + p[:, :1])], 1)
    frags = rasterize(verts, torch.tensor([[0, 1, 2]]), K.double(), 8)
    for u, v in [(4, 4), (5, 4), (3, 5)]:
        assert frags.face_idx[v, u] == 0
        assert frags.depth[v, u].item() == pytest.approx(1 / (1 - (u - 4) / 10), rel=1e-9)
    # barycentrics interpolate the 3D point on the triangle: it lies on the pixel's ray
    b = frags.bary[5, 3]
    x = (b[:, None] * verts).sum(0)
    assert torch.allclose(x[:2] / x[2], torch.tensor([-0.1, 0.1], dtype=torch.float64))


def test_lambert_shading_two_sided():
    # a triangle facing the camera, lit along the view axis: I = albedo * (ambient + diffuse)
    verts = _tri_at_depth(-0.5, -0.5, 9.5, -0.5, -0.5, 9.5, 2.0)
    for faces in (torch.tensor([[0, 1, 2]]), torch.tensor([[0, 2, 1]])):   # both windings
        img, _ = render_mesh(verts, faces, K.double(), 8, torch.tensor([0.5, 0.5, 0.5]),
                             mode='flat', ambient=0.2, diffuse=0.6)
        assert img[1, 1].tolist() == pytest.approx([0.4] * 3)
    assert torch.allclose(vertex_normals(verts, torch.tensor([[0, 1, 2]])).abs(),
                          torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64).expand(3, 3))


def test_shade_rejects_bad_colours():
    verts, faces = _two_triangles()
    frags = rasterize(verts, faces, K.double(), 8)
    with pytest.raises(ValueError, match='expected 6 .per vertex.'):
        shade(frags, verts, faces, torch.ones(5, 3))


def test_rasterize_clips_to_image_and_skips_behind_camera():
    verts = _tri_at_depth(-50, -50, 100, -50, -50, 100, 1.0)
    behind = verts.clone()
    behind[:, 2] = -1.0
    frags = rasterize(torch.cat([verts, behind]), torch.tensor([[0, 1, 2], [3, 4, 5]]),
                      K.double(), (8, 6))
    assert frags.face_idx.shape == (8, 6) and (frags.face_idx == 0).all()


def _uv_sphere(r=1.0, n_lat=24, n_lon=48):
    """Closed UV sphere of radius r (outward winding), its vertex normals."""
    th = torch.linspace(0, torch.pi, n_lat + 1, dtype=torch.float64)[1:-1]
    ph = torch.linspace(0, 2 * torch.pi, n_lon + 1, dtype=torch.float64)[:-1]
    t, p = torch.meshgrid(th, ph, indexing='ij')
    v = torch.stack([t.sin() * p.cos(), t.sin() * p.sin(), t.cos()], -1).reshape(-1, 3)
    v = torch.cat([torch.tensor([[0, 0, 1.0], [0, 0, -1.0]], dtype=torch.float64), v]) * r
    idx = lambda i, j: 2 + i * n_lon + j % n_lon  # noqa: E731
    f = [(0, idx(0, j), idx(0, j + 1)) for j in range(n_lon)]
    f += [(1, idx(n_lat - 2, j + 1), idx(n_lat - 2, j)) for j in range(n_lon)]
    for i in range(n_lat - 2):
        for j in range(n_lon):
            f += [(idx(i, j), idx(i + 1, j), idx(i + 1, j + 1)),
                  (idx(i, j), idx(i + 1, j + 1), idx(i, j + 1))]
    return v, torch.tensor(f)


def test_penetration_depth_matches_sphere():
    v, f = _uv_sphere()
    n = vertex_normals(v, f)
    assert ((n * v).sum(-1) > 0.99).all()               # outward winding -> outward normals
    pts = torch.tensor([[0.0, 0.0, 0.0], [0.5, 0.0, 0.1], [0.0, 0.0, 1.5], [2.0, 0.0, 0.0]],
                       dtype=torch.float64)
    d = penetration_depth(pts, v, n)
    # exact depth of a point inside the unit sphere is 1 - |p| (up to the tessellation)
    assert d.tolist() == pytest.approx([1.0, 1 - 0.26**0.5, 0.0, 0.0], abs=0.02)
    # a copy shifted by 1.5 radii: the vertex (1, 0, 0) is 0.5 from the copy's centre
    frac, depth = interpenetration(v, n, v + torch.tensor([1.5, 0, 0], dtype=torch.float64), n)
    assert depth == pytest.approx(0.5, abs=0.02) and 0 < frac < 0.2
    assert interpenetration(v, n, v + torch.tensor([2.1, 0, 0], dtype=torch.float64), n) == (
        0.0, 0.0)


@pytest.mark.parametrize('kind', sorted(BACKGROUND_KINDS))
def test_backgrounds_deterministic_and_in_range(kind):
    a = BACKGROUND_KINDS[kind](np.random.default_rng(3), 32)
    b = BACKGROUND_KINDS[kind](np.random.default_rng(3), 32)
    assert a.shape == (32, 32, 3) and a.dtype == np.float32
    assert np.array_equal(a, b) and a.min() >= 0 and a.max() <= 1
    assert a.std() > 0 or kind == 'gradient'
    c = random_background(np.random.default_rng(4), 32)
    assert not np.array_equal(random_background(np.random.default_rng(5), 32), c)
