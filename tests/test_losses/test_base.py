"""HandLoss: a loss names the prediction and target it compares (gclhand/models/losses/base.py)."""
import pytest
import torch

from gclhand.models.losses import HandLoss, JointLoss3D
from gclhand.models.losses.base import MissingLossInput, pick


def test_pick_returns_the_entry_or_names_what_exists():
    assert pick({'a': 1, 'b': 2}, 'b', 'target', 'X') == 2
    with pytest.raises(MissingLossInput) as info:
        pick({'zeta': 1, 'alpha': 2}, 'beta', 'prediction', 'JointLoss3D')
    assert info.value.args[0] == ("JointLoss3D: no prediction 'beta' (the predictions are: "
                                  "alpha, zeta)")
    assert isinstance(info.value, KeyError)


def test_select_defaults_and_overrides():
    preds = dict(joints_3d=torch.zeros(1), verts_3d=torch.ones(1))
    targets = dict(joints_3d=torch.full((1,), 2.0), verts_3d=torch.full((1,), 3.0),
                   hand_valid=torch.full((1,), 4.0), other_valid=torch.full((1,), 5.0))
    loss = JointLoss3D()
    assert (loss.pred_key, loss.target_key, loss.valid_key) == ('joints_3d', 'joints_3d',
                                                                'hand_valid')
    got = loss.select(preds, targets)
    assert set(got) == {'pred', 'target', 'valid'}
    assert got['pred'] is preds['joints_3d'] and got['target'] is targets['joints_3d']
    assert got['valid'] is targets['hand_valid']
    other = JointLoss3D(pred='verts_3d', target='verts_3d', valid='other_valid')
    got = other.select(preds, targets)
    assert got['pred'] is preds['verts_3d'] and got['target'] is targets['verts_3d']
    assert got['valid'] is targets['other_valid']
    assert JointLoss3D(valid=None).select(preds, targets)['valid'] is None
    with pytest.raises(MissingLossInput, match="JointLoss3D: no target 'nope'"):
        JointLoss3D(target='nope').select(preds, targets)
    with pytest.raises(MissingLossInput, match="JointLoss3D: no prediction 'nope'"):
        JointLoss3D(pred='nope').select(preds, targets)
    with pytest.raises(MissingLossInput) as info:
        JointLoss3D(valid='gone').select(preds, targets)
    assert info.value.args[0] == ("JointLoss3D: no target 'gone' (the targets are: "
                                  "hand_valid, joints_3d, other_valid, verts_3d)")


def test_a_subclass_without_defaults_needs_both_keys():
    class Bare(HandLoss):
        pass

    assert Bare(pred='a', target='b').loss_weight == 1.0
    for kw in (dict(pred='a'), dict(target='b'), dict()):
        with pytest.raises(ValueError, match='Bare needs pred= and target= keys'):
            Bare(**kw)
    assert repr(Bare(loss_weight=2.0, pred='a', target='b', valid=None)).endswith(
        "(loss_weight=2.0, pred='a', target='b', valid=None)")
