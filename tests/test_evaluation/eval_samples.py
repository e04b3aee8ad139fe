"""Synthetic two-hand samples and meshes for the evaluation tests (metres, library order)."""
import itertools

import torch

from gclhand.structures import HandDataSample


def random_hands(num=3, num_verts=30, seed=0):
    """GT joints (N, 2, 21, 3) and vertices (N, 2, V, 3) of plausible size (~10 cm)."""
    g = torch.Generator().manual_seed(seed)
    joints = 0.04 * torch.randn(num, 2, 21, 3, generator=g, dtype=torch.float64)
    verts = 0.04 * torch.randn(num, 2, num_verts, 3, generator=g, dtype=torch.float64)
    offset = torch.tensor([[-0.1, 0., 0.5], [0.1, 0., 0.5]], dtype=torch.float64)
    return joints + offset[:, None], verts + offset[:, None]


def make_samples(gt_joints, gt_verts, pred_joints, pred_verts, pred_rel_root=None,
                 hand_valid=None, as_dict=False, as_numpy=False, **extra):
    """One HandDataSample (or its to_dict()) per row; predictions wrist-relative.

    ``extra``: further per-sample fields, each indexed by the sample (``gt_joints_3d_annot``,
    ``joints_valid``, ``gt_hand_type``, ``hand_type_valid``, ``pred_hand_type``, ...).
    """
    samples = []
    for i in range(gt_joints.shape[0]):
        fields = dict(gt_joints_3d=gt_joints[i], gt_verts_3d=gt_verts[i],
                      pred_joints_3d=pred_joints[i], pred_verts_3d=pred_verts[i],
                      hand_valid=torch.ones(2) if hand_valid is None else hand_valid[i])
        if pred_rel_root is not None:
            fields['pred_rel_root'] = pred_rel_root[i]
        fields.update({k: torch.as_tensor(v[i]) for k, v in extra.items()})
        if as_numpy:
            fields = {k: v.numpy() for k, v in fields.items()}
        sample = HandDataSample(metainfo=dict(sample_idx=i, img_path=f'img/{i}.jpg'), **fields)
        samples.append(sample.to_dict() if as_dict else sample)
    return samples


#: ``hand_type`` strings of InterHand2.6M as (left, right) presence flags.
HAND_TYPE_FLAGS = {'left': (1., 0.), 'right': (0., 1.), 'interacting': (1., 1.)}


def hand_type_flags(types):
    """(N, 2) float tensor of presence flags for a list of hand-type strings."""
    return torch.tensor([HAND_TYPE_FLAGS[t] for t in types])


def wrist_relative(joints, verts):
    root = joints[..., :1, :]
    return joints - root, verts - root


def octahedron(radius=1.0):
    """Vertices +x, -x, +y, -y, +z, -z and 8 outward-wound faces."""
    verts = torch.tensor([[1., 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]],
                         dtype=torch.float64) * radius
    faces = []
    for sx, sy, sz in itertools.product((0, 1), repeat=3):
        face = [sx, 2 + sy, 4 + sz]  # index 0/1 = +/-x, ...
        if (sx + sy + sz) % 2:  # an odd number of negative axes flips the winding
            face = face[::-1]
        faces.append(face)
    return verts, torch.tensor(faces)
