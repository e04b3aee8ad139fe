import numpy as np
import pytest
import torch

from gclhand.hand import joints as J


@pytest.mark.parametrize('fwd,inv,n', [
    (J.MANO_TO_LIBRARY, J.LIBRARY_TO_MANO, 21),
    (J.INTERHAND_HAND_TO_LIBRARY, J.LIBRARY_TO_INTERHAND_HAND, 21),
    (J.INTERHAND_TO_LIBRARY, J.LIBRARY_TO_INTERHAND, 42),
])
def test_index_maps_are_bijections(fwd, inv, n):
    assert sorted(fwd.tolist()) == list(range(n))
    np.testing.assert_array_equal(fwd[inv], np.arange(n))
    np.testing.assert_array_equal(inv[fwd], np.arange(n))


def test_mano_to_library_hand_computed():
    mano = np.arange(21)
    lib = J.mano_to_library(mano[:, None])[:, 0]
    # wrist; thumb = MANO 13, 14, 15 + tip 16; index = 1, 2, 3 + tip 17; pinky = 7, 8, 9 + 20
    assert lib[0] == 0
    assert lib[1:5].tolist() == [13, 14, 15, 16]
    assert lib[5:9].tolist() == [1, 2, 3, 17]
    assert lib[9:13].tolist() == [4, 5, 6, 18]
    assert lib[13:17].tolist() == [10, 11, 12, 19]
    assert lib[17:21].tolist() == [7, 8, 9, 20]
    assert J.JOINT_NAMES[9] == 'middle1'  # the IntagHand-protocol root


def test_interhand_to_library_hand_computed():
    ih = torch.arange(42, dtype=torch.float32)[:, None].repeat(1, 3)
    lib = J.interhand_to_library(ih)
    assert lib.shape == (2, 21, 3)
    left, right = lib[0, :, 0], lib[1, :, 0]
    assert right[0] == 20 and left[0] == 41  # wrists
    assert right[1:5].tolist() == [3, 2, 1, 0]  # thumb1..tip = InterHand 3..0
    assert right[17:21].tolist() == [19, 18, 17, 16]  # pinky
    assert left[4] == 21 and left[5] == 28  # left thumb tip, left index1 (21 + 7)


@pytest.mark.parametrize('shape', [(42, 3), (5, 42, 3), (42, ), (7, 42)])
def test_interhand_roundtrip(shape):
    x = np.random.default_rng(0).normal(size=shape)
    lib = J.interhand_to_library(x)
    back = J.library_to_interhand(lib)
    np.testing.assert_array_equal(back, x)
    t = torch.as_tensor(x)
    assert torch.equal(J.library_to_interhand(J.interhand_to_library(t)), t)


def test_mano_roundtrip_and_errors():
    x = torch.randn(4, 21, 3)
    assert torch.equal(J.library_to_mano(J.mano_to_library(x)), x)
    with pytest.raises(ValueError, match='^mano_to_library: expected 21 joints'):
        J.mano_to_library(torch.randn(4, 16, 3))
    with pytest.raises(ValueError, match='^library_to_mano: expected 21 joints'):
        J.library_to_mano(np.zeros((16, 3)))
    with pytest.raises(ValueError, match='^interhand_to_library: expected 42 joints'):
        J.interhand_to_library(np.zeros((21, 3)))


def test_bones_form_a_tree():
    assert len(J.BONES) == 20
    assert J.LIBRARY_PARENTS[1] == 0 and J.LIBRARY_PARENTS[4] == 3
    assert J.LIBRARY_PARENTS[J.finger_joint('ring', 1)] == 0
    assert J.finger_joint('pinky', 4) == 20
