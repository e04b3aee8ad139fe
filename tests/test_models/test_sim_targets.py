"""Tests of the similarity targets S_g (gclhand/models/sim_targets)."""
import math
import re

import pytest
import torch

from gclhand.models.sim_targets import CosineTarget, DotTarget, GaussianTarget, HardTarget
from gclhand.registry import SIM_TARGETS
from gclhand.utils import ConfigError, build_component


def pose(**joints):
    """A (21, 3) root-relative pose with the given joints set, e.g. pose(j1=(1, 0, 0))."""
    p = torch.zeros(21, 3)
    for name, v in joints.items():
        p[int(name[1:])] = torch.tensor(v, dtype=torch.float)
    return p


def test_dot_target_hand_computed():
    a, b, c = pose(j1=(1, 0, 0)), pose(j1=(0, 2, 0)), pose(j1=(3, 4, 0))
    s = DotTarget()(torch.stack([a, b]), torch.stack([a, b, c, 5 * a]))
    expected = torch.tensor([[1.0, 0.0, 0.6, 1.0],
                             [0.0, 1.0, 0.8, 0.0]])
    assert torch.allclose(s, expected, atol=1e-6)


def test_dot_target_flattens_whole_pose():
    # two joints: the flattened vectors (1,0,0,0,1,0) and (1,0,0,0,0,0) have cosine 1/sqrt(2)
    p, q = pose(j1=(1, 0, 0), j2=(0, 1, 0)), pose(j1=(1, 0, 0))
    s = DotTarget()(p[None], q[None])
    assert s.item() == pytest.approx(1 / math.sqrt(2), abs=1e-6)


def test_cosine_target_per_joint_hand_computed():
    p = pose(j1=(1, 0, 0), j2=(0, 1, 0))
    r = pose(j1=(2, 0, 0), j2=(1, 0, 0))
    s = CosineTarget()(p[None], torch.stack([p, r]))
    # 20 non-root joints; p vs p: 2 unit cosines; p vs r: joint1 cos 1, joint2 cos 0
    assert torch.allclose(s, torch.tensor([[2 / 20, 1 / 20]]), atol=1e-6)
    full = torch.randn(3, 21, 3)
    full[:, 0] = 0
    assert torch.allclose(CosineTarget()(full, full).diagonal(), torch.ones(3), atol=1e-6)


def test_gaussian_target_hand_computed():
    base = torch.randn(21, 3) * 0.05
    shifted = base + torch.tensor([0.03, 0.04, 0.0])  # every joint 5 cm away
    s = GaussianTarget(bandwidth=0.05)(base[None], torch.stack([base, shifted]))
    assert torch.allclose(s, torch.tensor([[1.0, math.exp(-0.5)]]), atol=1e-5)
    with pytest.raises(ValueError, match='bandwidth'):
        GaussianTarget(bandwidth=0)


def test_hard_target_is_identity_block():
    s = HardTarget()(torch.randn(2, 21, 3), torch.randn(5, 21, 3))
    assert torch.equal(s, torch.eye(2, 5))


@pytest.mark.parametrize('name', ['DotTarget', 'CosineTarget', 'GaussianTarget', 'HardTarget'])
def test_registered_shapes_and_no_grad(name):
    t = build_component(SIM_TARGETS, dict(type=name))
    jq = torch.randn(4, 21, 3, requires_grad=True)
    s = t(jq, torch.randn(7, 21, 3))
    assert s.shape == (4, 7) and not s.requires_grad
    assert s.min() >= -1 - 1e-6 and s.max() <= 1 + 1e-6
    with pytest.raises(ValueError, match=r'\(M, J, 3\)'):
        t(torch.randn(4, 63), torch.randn(7, 21, 3))


@pytest.mark.parametrize('shapes', [((4, 63), (7, 21, 3)), ((4, 21, 3), (7, 63)),
                                    ((4, 21, 3), (7, 20, 3)), ((4, 21, 3), (7, 21, 2))])
def test_each_wrong_shape_is_refused_with_the_target_name(shapes):
    a, b = (torch.zeros(s) for s in shapes)
    with pytest.raises(ValueError, match=rf'^DotTarget expects poses \(M, J, 3\) and '
                                         rf'\(K, J, 3\), got {re.escape(str(shapes[0]))} and '
                                         rf'{re.escape(str(shapes[1]))}$'):
        DotTarget()(a, b)


def test_defaults_zero_poses_and_dtypes():
    assert GaussianTarget().bandwidth == 0.2 and CosineTarget().root_index == 0
    assert GaussianTarget(0.3).extra_repr() == 'bandwidth=0.3'
    z, p = torch.zeros(1, 21, 3), pose(j1=(1, 0, 0))[None]
    assert DotTarget()(z, p).item() == 0.0 and CosineTarget()(z, p).item() == 0.0
    h = HardTarget()(torch.zeros(2, 21, 3, dtype=torch.float64), torch.zeros(3, 21, 3))
    assert h.dtype == torch.float64 and torch.equal(h, torch.eye(2, 3).double())


def test_cosine_target_excludes_its_root_joint():
    # root 5: joint 5 differs between the poses but does not count; 20 other joints
    p, q = pose(j1=(1, 0, 0), j5=(0, 1, 0)), pose(j1=(1, 0, 0), j5=(0, -1, 0))
    assert CosineTarget(root_index=5)(p[None], q[None]).item() == pytest.approx(1 / 20)
    assert CosineTarget()(p[None], q[None]).item() == pytest.approx(0.0, abs=1e-7)


def test_gaussian_target_bandwidth_message():
    with pytest.raises(ValueError, match=r'^GaussianTarget.bandwidth must be > 0, got -1$'):
        GaussianTarget(bandwidth=-1)


def test_a_target_of_the_wrong_shape_is_refused_with_its_name():
    """A plugin target returning (M,) would broadcast against (M, M) at the first step (the
    pool is empty, K == M) and train on garbage: refused, naming the class and the shape."""
    from gclhand.models.sim_targets.base import SimTarget

    class RowTarget(SimTarget):
        def similarity(self, joints_q, joints_k):
            return (joints_q * joints_k).flatten(1).sum(1)  # (M,): one value per row

    q = torch.randn(4, 21, 3)
    with pytest.raises(ConfigError, match=r'RowTarget \(model\.dgcl\.cross_contrast\.'
                                          r'sim_target\) returned a torch.float32 tensor of '
                                          r'shape \(4,\); expected a float \(M, K\) = '
                                          r'\(4, 4\)'):
        RowTarget()(q, q)


@pytest.mark.parametrize('scale,bad', [(1.0, False), (1.0 + 1e-6, False), (1.5, True),
                                       (float('nan'), True), (float('inf'), True)])
def test_a_target_outside_minus_one_one_or_not_finite_is_refused(scale, bad):
    """S_g is compared with S_p, dot products of unit vectors: a plugin target out of
    [-1, 1] (or NaN) would train the features towards values they cannot take."""
    from gclhand.models.sim_targets.base import SimTarget

    class ScaledTarget(SimTarget):
        def similarity(self, joints_q, joints_k):
            out = torch.eye(joints_q.shape[0], joints_k.shape[0])
            out[0, 1] = -scale
            return out

    q = torch.randn(3, 21, 3)
    if not bad:
        assert ScaledTarget()(q, q)[0, 1] == -scale
        return
    with pytest.raises(ConfigError, match=r'ScaledTarget \(model\.dgcl\.cross_contrast\.'
                                          r'sim_target\) returned values up to '
                                          r'(1\.5|nan|inf) in magnitude; S_g must be finite '
                                          r'and within \[-1, 1\]'):
        ScaledTarget()(q, q)


def test_a_nan_pose_is_left_to_the_nonfinite_guard():
    """A NaN label gives NaN similarities: that is the step's non-finite loss to skip (the
    estimator names the label), not a broken plugin."""
    q = torch.randn(3, 21, 3)
    q[1, 4, 0] = float('nan')
    out = DotTarget()(q, q)
    assert torch.isnan(out[1]).all() and torch.isfinite(out[0, [0, 2]]).all()
