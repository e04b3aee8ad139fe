import copy

import pytest
import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper
from mmengine.runner.checkpoint import load_state_dict

from gclhand.models.losses import HandLoss
from gclhand.registry import ENCODERS, HEADS, LOSSES, MODELS, NECKS
from gclhand.utils.build import ConfigError
from gclhand.structures.hand_data_sample import HandDataSample

IMG = 64
LOSS_KEYS = {'loss_joints_3d', 'loss_verts_3d', 'loss_joints_2d', 'loss_bone_length',
             'loss_transition'}


def tiny_cfg(**kw):
    cfg = dict(
        type='TwoHandEstimator',
        encoder=dict(type='ResNet', depth=18, base_channels=8, stage_blocks=(1, 1, 1, 1),
                     norm_cfg=dict(type='GN', num_groups=4)),
        hand_split=dict(type='HandSplit', hidden_channels=32),
        decoder=dict(type='ChebGCNDecoder', channels=(16, 16, 16), K=2, num_heads=2),
        camera_head=dict(type='CameraHead', hidden_channels=32),
        losses=dict(joints_3d=dict(type='JointLoss3D', loss_weight=10.0),
                    verts_3d=dict(type='VertexLoss3D', loss_weight=10.0),
                    joints_2d=dict(type='Joint2DLoss', loss_weight=1e-3),
                    bone_length=dict(type='BoneLengthLoss', loss_weight=1e-3),
                    transition=dict(type='TransitionLoss', loss_weight=1.0)))
    cfg.update(kw)
    return cfg


def build(seed=0, **kw):
    torch.manual_seed(seed)
    model = MODELS.build(tiny_cfg(**kw))
    model.init_weights()
    return model


def make_batch(model, n=2, seed=0):
    """Two posed hands of the library's hand model, projected into a 64 px crop; the image
    marks each hand's 2D joints (left in red, right in green) so that images differ."""
    hm = model.hand_model
    g = torch.Generator().manual_seed(seed)
    f, c = IMG * 2.0, IMG / 2
    K = torch.tensor([[f, 0, c], [0, f, c], [0, 0, 1]])
    joints, verts = [], []
    for h, side in enumerate(('left', 'right')):
        out = hm(side=side, hand_pose=torch.randn(n, 45, generator=g) * 0.3,
                 betas=torch.zeros(n, 10), global_orient=torch.randn(n, 3, generator=g) * 0.3,
                 transl=torch.tensor([[-0.05 + 0.1 * h, 0.0, 0.6]]).expand(n, 3))
        joints.append(out.joints.float())
        verts.append(out.vertices.float())
    joints, verts = torch.stack(joints, 1), torch.stack(verts, 1)  # (n, 2, 21|778, 3)
    uv = (joints @ K.T)[..., :2] / (joints @ K.T)[..., 2:]
    ys, xs = torch.meshgrid(torch.arange(IMG), torch.arange(IMG), indexing='ij')
    inputs, samples = [], []
    for i in range(n):
        img = torch.zeros(3, IMG, IMG)
        for h in range(2):
            d2 = (xs[None] - uv[i, h, :, 0, None, None])**2 + (ys[None] - uv[i, h, :, 1, None,
                                                                                  None])**2
            img[h] = torch.exp(-d2 / 4).amax(0)
        inputs.append((img * 255).to(torch.uint8))
        s = HandDataSample(metainfo=dict(sample_idx=i, img_shape=(IMG, IMG)))
        s.gt_joints_3d, s.gt_verts_3d, s.gt_joints_2d = joints[i], verts[i], uv[i]
        s.cam_K, s.hand_valid = K, torch.ones(2)
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def intaghand_mpjpe_mm(pred, gt):
    """IntagHand protocol: root middle MCP (9), prediction scaled to the GT wrist-MCP bone."""
    def norm(j):
        return (j[..., 9, :] - j[..., 0, :]).norm(dim=-1)[..., None, None]
    p = (pred - pred[..., 9:10, :]) * norm(gt) / norm(pred)
    g = gt - gt[..., 9:10, :]
    return float((p - g).norm(dim=-1).mean() * 1000)


@MODELS.register_module(force=True)
class ToyDGCLForTest(nn.Module):
    """Stands in for DGCLNet: records its calls and returns one weighted loss term."""

    def __init__(self, channels=16):
        super().__init__()
        self.proj = nn.Linear(channels, 3)
        self.calls, self.steps = [], 0

    def decode(self, G, feats, decoder, coarse_graph):
        self.calls.append(dict(G=G.shape, graph=coarse_graph))
        out = decoder(G, feats)
        return out, out['node_feats']

    def loss(self, pair, gt_joints, hand_valid=None):
        self.calls[-1].update(gt_joints=gt_joints, hand_valid=hand_valid)
        return dict(loss_self_contrast=self.proj(pair).abs().mean())

    def step(self, decoder):
        self.steps += 1

    def discard_step(self):
        self.steps -= 100


def test_a_loss_set_to_none_is_switched_off():
    losses = tiny_cfg()['losses']
    model = build(losses=dict(losses, bone_length=None))
    assert 'bone_length' not in model.losses
    data = model.data_preprocessor(make_batch(model), True)
    assert set(model(**data, mode='loss')) == LOSS_KEYS - {'loss_bone_length'}


def test_loss_mode_all_terms_and_gradients():
    model = build()
    data = model.data_preprocessor(make_batch(model), True)
    losses = model(**data, mode='loss')
    assert set(losses) == LOSS_KEYS
    assert all(torch.isfinite(v) and v.ndim == 0 for v in losses.values())
    sum(losses.values()).backward()
    for name in ('encoder.conv1.weight', 'hand_split.hand_embed', 'decoder.head_weight',
                 'camera_head.mlp.0.weight'):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name


def test_predict_fields_and_units():
    model = build().eval()
    data = make_batch(model)
    preds = model.test_step(data)
    p = preds[0]
    assert p.pred_joints_3d.shape == (2, 21, 3) and p.pred_verts_3d.shape == (2, 778, 3)
    assert p.pred_rel_root.shape == (3, ) and p.pred_cam.shape == (2, 3)
    assert p.pred_joints_2d.shape == (2, 21, 2)
    assert torch.allclose(p.pred_joints_3d[:, 0], torch.zeros(2, 3))  # wrist-relative
    # metric scale: at initialisation the output is the template hand, whose
    # wrist-to-middle-MCP bone is canonical_length metres
    bone = (p.pred_joints_3d[:, 9] - p.pred_joints_3d[:, 0]).norm(dim=-1)
    torch.testing.assert_close(bone, torch.full((2, ), model.canonical_length), rtol=0.1,
                               atol=0)
    # the initial camera puts the hands around the image centre (pixels)
    assert ((p.pred_joints_2d - IMG / 2).abs() < IMG / 2).all()
    out = model(**model.data_preprocessor(data), mode='tensor')
    assert out['verts'].shape == (2, 2, 778, 3) and out['node_feats'].shape == (2, 2, 252, 16)


def test_dgcl_called_then_deploy_and_checkpoint_compat():
    model = build(dgcl=dict(type='ToyDGCLForTest', channels=16))
    data = model.data_preprocessor(make_batch(model), True)
    losses = model(**data, mode='loss')
    assert set(losses) == LOSS_KEYS | {'loss_self_contrast'}
    call = model.dgcl.calls[-1]
    assert call['G'] == (2, 2, 63, 16)
    # DGCL's joints: wrist-relative and in units of each hand's wrist-to-middle-MCP length,
    # the main 3D losses' normalisation (issue 18.2)
    joints = call['gt_joints']
    assert torch.equal(joints[:, :, 0], torch.zeros(2, 2, 3))
    torch.testing.assert_close(joints[:, :, 9].norm(dim=-1), torch.ones(2, 2))
    gt = torch.stack([s.gt_joints_3d for s in data['data_samples']])
    length = (gt[:, :, 9] - gt[:, :, 0]).norm(dim=-1)[..., None, None]
    torch.testing.assert_close(joints, (gt - gt[:, :, :1]) / length)
    assert torch.equal(call['hand_valid'], torch.ones(2, 2))
    assert torch.equal(call['graph'][0], model.decoder.graph(0)[0])
    # train_step advances DGCL once per optimiser step
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1e-3))
    model.train_step(make_batch(model), wrapper)
    assert model.dgcl.steps == 1

    baseline = build(seed=1)
    state = copy.deepcopy(model.state_dict())
    assert any(k.startswith('dgcl.') for k in state)
    n_base = sum(p.numel() for p in baseline.parameters())
    assert sum(p.numel() for p in model.parameters()) > n_base
    model.deploy()
    assert model.dgcl is None
    assert sum(p.numel() for p in model.parameters()) == n_base

    baseline.load_state_dict(state, strict=True)  # 'dgcl.' keys dropped by the hook
    for k, v in baseline.state_dict().items():
        assert torch.equal(v, state[k]), k
    other = build(seed=2)
    load_state_dict(other, state, strict=True)  # MMEngine's loader (used by the Runner)
    assert torch.equal(other.encoder.conv1.weight, state['encoder.conv1.weight'])


def test_nonfinite_loss_skips_update_then_raises(monkeypatch):
    model = build(max_consecutive_nonfinite=2)
    data = make_batch(model)
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    real_loss = model.loss

    def nan_loss(inputs, data_samples):
        losses = real_loss(inputs, data_samples)
        losses['loss_verts_3d'] = losses['loss_verts_3d'] * float('nan')
        return losses

    monkeypatch.setattr(model, 'loss', nan_loss)
    log = model.train_step(data, optim)
    assert 'nonfinite_skipped' in log
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    with pytest.raises(FloatingPointError, match='max_consecutive_nonfinite'):
        model.train_step(data, optim)

    monkeypatch.setattr(model, 'loss', real_loss)
    model._nonfinite_steps = 1
    log = model.train_step(data, optim)
    assert torch.isfinite(log['loss']) and model._nonfinite_steps == 0
    assert not torch.equal(model.encoder.conv1.weight, before['encoder.conv1.weight'])


def test_missing_ground_truth_is_named():
    model = build()
    data = make_batch(model)
    del data['data_samples'][0].gt_verts_3d
    with pytest.raises(KeyError, match='gt_verts_3d'):
        model.train_step(data, OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1)))


def _fit(model, data, steps, lr=1e-3, decay_at=None):
    optim = OptimWrapper(torch.optim.Adam(model.parameters(), lr=lr))
    model.train()
    history = []
    for step in range(steps):
        if step == decay_at:
            for group in optim.param_groups:
                group['lr'] = lr * 0.1
        history.append(float(model.train_step(data, optim)['loss'].detach()))
    return history


def test_overfit_short_loss_drops():
    torch.set_num_threads(1)
    model = build()
    data = make_batch(model, n=2)
    history = _fit(model, data, steps=70, lr=5e-3)
    assert history[-1] < history[0] / 5, history[::5]


@pytest.mark.slow
def test_overfit_eight_samples_below_1mm():
    torch.set_num_threads(1)
    model = build()
    data = make_batch(model, n=8)
    _fit(model, data, steps=600, lr=3e-3, decay_at=400)
    model.eval()
    preds = model.test_step(data)
    pred = torch.stack([p.pred_joints_3d for p in preds])
    gt = torch.stack([s.gt_joints_3d for s in data['data_samples']])
    assert intaghand_mpjpe_mm(pred, gt) < 1.0


@LOSSES.register_module(force=True)
class RelRootNormForTest(HandLoss):
    """A loss the estimator has never heard of: |pred| of a prediction named in the config."""

    default_pred = default_target = 'rel_root'

    def forward(self, pred, target, valid=None):
        return self.loss_weight * (pred - target).norm(dim=-1).mean()


@HEADS.register_module(force=True)
class MeanColourHeadForTest(nn.Module):
    """An auxiliary head: predicts the image's mean colour from the finest feature map."""

    def __init__(self, in_channels):
        super().__init__()
        self.lin = nn.Linear(in_channels[0], 3)

    def forward(self, feats):
        return dict(mean_colour=self.lin(feats[0].mean((2, 3))))


def test_losses_come_from_the_config_alone():
    """A new registered loss is a config line: the estimator sums whatever the config lists,
    with the prediction and target each names (issue 17.2)."""
    model = build(losses=dict(
        joints_3d=dict(type='JointLoss3D', loss_weight=10.0),
        rel=dict(type='RelRootNormForTest', loss_weight=2.0)))
    data = model.data_preprocessor(make_batch(model), True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_joints_3d', 'loss_rel'}
    # the value is the new loss on the named prediction and target, by hand:
    out = model._forward_net(data['inputs'])[0]
    gt = torch.stack([s.gt_joints_3d for s in data['data_samples']])
    expected = 2.0 * (out['rel_root'] * model.canonical_length
                      - (gt[:, 0, 0] - gt[:, 1, 0])).norm(dim=-1).mean()
    torch.testing.assert_close(losses['loss_rel'], expected)


def test_loss_pred_and_target_keys_are_config():
    """The same class compares other entries when the config says so; a key that does not
    exist names the config key and what exists."""
    model = build(losses=dict(v=dict(type='JointLoss3D', pred='verts_3d', target='verts_3d')))
    data = model.data_preprocessor(make_batch(model), True)
    got = model(**data, mode='loss')['loss_v']
    ref = build(losses=dict(v=dict(type='VertexLoss3D')))
    ref.load_state_dict(model.state_dict())
    # JointLoss3D on vertices roots at vertex 9, not joint 9: a different number
    assert not torch.allclose(got, ref(**data, mode='loss')['loss_v'])
    bad = build(losses=dict(j=dict(type='JointLoss3D', pred='jointz')))
    with pytest.raises(ConfigError) as exc:
        bad(**data, mode='loss')
    assert str(exc.value).startswith(
        "model.losses.j (gclhand.models.losses.regression_3d_loss.JointLoss3D): no prediction "
        "'jointz' (the predictions are: ")
    assert 'joints_3d' in str(exc.value)


def test_aux_heads_feed_losses_and_are_training_only(tmp_path):
    """An auxiliary head's prediction reaches a configured loss through the target of the
    same name (a gt_<name> field of the data samples); deploy() removes the head and a
    checkpoint with it loads into a model without it."""
    model = build(aux_heads=dict(colour=dict(type='MeanColourHeadForTest')),
                  losses=dict(colour=dict(type='RelRootNormForTest', pred='mean_colour',
                                          target='mean_colour', valid=None)))
    batch = make_batch(model)
    for s, img in zip(batch['data_samples'], batch['inputs']):
        s.gt_mean_colour = img.float().mean((1, 2))
    data = model.data_preprocessor(batch, True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_colour'}
    losses['loss_colour'].backward()
    assert model.aux_heads['colour'].lin.weight.grad.abs().sum() > 0
    state = model.state_dict()
    assert any(k.startswith('aux_heads.') for k in state)
    plain = build()
    load_state_dict(plain, state, strict=True)  # aux_heads.* dropped with a log line
    assert model.deploy().aux_heads is None


@LOSSES.register_module(force=True)
class PerSampleLossForTest(HandLoss):
    """Forgets to reduce: one value per sample."""

    default_pred = default_target = 'rel_root'

    def forward(self, pred, target, valid=None):
        return (pred - target).norm(dim=-1)


def test_a_loss_that_is_not_a_scalar_is_refused_with_its_key():
    """MMEngine would average a (B,) loss silently; the estimator names the key, the
    class and the shape instead."""
    model = build(losses=dict(per=dict(type='PerSampleLossForTest')))
    data = model.data_preprocessor(make_batch(model), True)
    with pytest.raises(ConfigError, match=r'model\.losses\.per \(.*PerSampleLossForTest\) '
                                          r'returned a tensor of shape \(2,\); a loss returns '
                                          r'a scalar'):
        model(**data, mode='loss')


def test_dgcl_joints_are_wrist_relative_whatever_the_loss_root():
    """The 3D losses may be rooted elsewhere (root_index); DGCL's consistency and pose
    similarity still get wrist-relative joints in units of the wrist-to-middle-MCP bone."""
    model = build(dgcl=dict(type='ToyDGCLForTest', channels=16), root_index=9)
    data = model.data_preprocessor(make_batch(model), True)
    model(**data, mode='loss')
    gt = torch.stack([s.gt_joints_3d for s in data['data_samples']])
    length = (gt[:, :, 9] - gt[:, :, 0]).norm(dim=-1)[..., None, None]
    torch.testing.assert_close(model.dgcl.calls[-1]['gt_joints'], (gt - gt[:, :, :1]) / length)


def test_targets_and_predictions_in_their_units_on_a_non_square_input():
    """``loss_targets`` / ``loss_predictions`` (the names losses select, docs/internals.md):
    2D in pixels of a W x H input, metric joints and wrist offsets in metres."""
    model = build()
    data = model.data_preprocessor(make_batch(model), True)
    inputs = data['inputs'][..., :48].contiguous()  # H 64, W 48
    targets = model.loss_targets(inputs, data['data_samples'])
    assert targets['image_size'] == (48, 64)
    gt = torch.stack([s.gt_joints_3d for s in data['data_samples']])
    torch.testing.assert_close(targets['joints_3d_metric'], gt)
    torch.testing.assert_close(targets['rel_root'], gt[:, 0, 0] - gt[:, 1, 0])
    out, feats, _ = model._forward_net(inputs)
    preds = model.loss_predictions(out, feats, inputs)
    torch.testing.assert_close(preds['joints_2d'],
                               out['joints_2d'] * torch.tensor([48., 64.]))
    torch.testing.assert_close(preds['rel_root'], out['rel_root'] * model.canonical_length)
    assert preds['cam'] is out['cam'] and preds['joints_3d'] is out['joints']
    assert preds['verts_3d'] is out['verts']


@HEADS.register_module(force=True)
class ClashingHeadForTest(MeanColourHeadForTest):
    """Returns a prediction under a name the model already uses."""

    def forward(self, feats):
        return dict(joints_3d=super().forward(feats)['mean_colour'])


@HEADS.register_module(force=True)
class StringValueHeadForTest(MeanColourHeadForTest):
    """Returns a dict whose value is not a tensor."""

    def forward(self, feats):
        return dict(mean_colour='red')


@HEADS.register_module(force=True)
class TensorHeadForTest(MeanColourHeadForTest):
    """Returns a bare tensor instead of a dict."""

    def forward(self, feats):
        return super().forward(feats)['mean_colour']


def test_an_aux_head_cannot_replace_a_prediction_or_return_a_bare_tensor():
    data = None
    for head, message in (('ClashingHeadForTest', r"model\.aux_heads\.bad \(test_estimator\."
                                                  r"ClashingHeadForTest\) returned "
                                                  r"\['joints_3d'\], which the model already "
                                                  r"predicts"),
                          ('TensorHeadForTest', r"model\.aux_heads\.bad \(test_estimator\."
                                                r"TensorHeadForTest\) returned Tensor; an "
                                                r"auxiliary head returns a dict"),
                          ('StringValueHeadForTest', r"model\.aux_heads\.bad \(test_estimator\."
                                                     r"StringValueHeadForTest\) returned dict; "
                                                     r"an auxiliary head returns a dict of named "
                                                     r"tensors")):
        model = build(aux_heads=dict(bad=dict(type=head)))
        data = data or model.data_preprocessor(make_batch(model), True)
        with pytest.raises(ConfigError, match=message):
            model(**data, mode='loss')


def test_a_dgcl_model_drops_aux_head_keys_it_lacks(monkeypatch):
    """A checkpoint with auxiliary heads loads into a HandDGCL model without them: the
    pre-hook drops each training-only module the model lacks, logging how many keys."""
    import gclhand.models.estimators.two_hand_estimator as module
    logs = []
    monkeypatch.setattr(module, 'print_log', lambda msg, *a, **kw: logs.append(msg))
    trained = build(dgcl=dict(type='ToyDGCLForTest', channels=16),
                    aux_heads=dict(colour=dict(type='MeanColourHeadForTest')))
    state = trained.state_dict()
    model = build(dgcl=dict(type='ToyDGCLForTest', channels=16))
    model.load_state_dict(state, strict=True)
    n = sum(k.startswith('aux_heads.') for k in state)
    assert n == 2 and logs == [f'TwoHandEstimator: dropped {n} training-only "aux_heads." '
                               'checkpoint entries (model has no such module)']


def test_nonfinite_steps_default_limit_is_ten():
    assert build().max_consecutive_nonfinite == 10


@ENCODERS.register_module(force=True)
class CoarseFirstEncoderForTest(nn.Module):
    """Returns the library ResNet's maps coarse -> fine (the wrong order)."""

    def __init__(self):
        super().__init__()
        self.net = ENCODERS.build(tiny_cfg()['encoder'])
        self.out_channels = tuple(reversed(self.net.out_channels))

    def forward(self, x):
        return list(reversed(self.net(x)))


@ENCODERS.register_module(force=True)
class NoChannelsEncoderForTest(nn.Module):
    def forward(self, x):
        return [x]


@NECKS.register_module(force=True)
class NodeFirstNeckForTest(nn.Module):
    """Graph features as (B, N0, 2, C0) instead of (B, 2, N0, C0)."""

    def __init__(self, in_channels, num_nodes, out_channels):
        super().__init__()
        self.split = NECKS.build(dict(type='HandSplit', in_channels=in_channels,
                                      num_nodes=num_nodes, out_channels=out_channels))

    def forward(self, feats):
        return self.split(feats).transpose(1, 2)


def test_plugin_encoder_and_neck_outputs_are_checked_and_named():
    with pytest.raises(ConfigError, match=r'model\.encoder \(test_estimator\.'
                                          r'NoChannelsEncoderForTest\) has no out_channels'):
        build(encoder=dict(type='NoChannelsEncoderForTest'))
    model = build(encoder=dict(type='CoarseFirstEncoderForTest'))
    data = model.data_preprocessor(make_batch(model), True)
    with pytest.raises(ConfigError, match=r'model\.encoder \(test_estimator\.CoarseFirst'
                                          r'EncoderForTest\) returned \[\(2, 64, 2, 2\), .*fine '
                                          r'-> coarse \(H not growing\)'):
        model(**data, mode='loss')
    model = build(hand_split=dict(type='NodeFirstNeckForTest'))
    with pytest.raises(ConfigError, match=r'model\.hand_split \(test_estimator\.NodeFirstNeck'
                                          r'ForTest\) returned \(2, 63, 2, 16\); expected graph '
                                          r'features \(B, 2, N0, C0\) = \(2, 2, 63, 16\)'):
        model(**data, mode='loss')


def test_outputs_are_root_relative_and_projected_weak_perspective():
    """tensor mode: joints regressed from the returned vertices, both relative to the root
    joint; the decoder starts from the rest-pose template with its root at the origin; 2D =
    s * (x, y) + (tx, ty) per hand, the camera (s, tx, ty) of the camera head."""
    for root_index in (0, 9):
        model = build(root_index=root_index).eval()
        data = model.data_preprocessor(make_batch(model), False)
        with torch.no_grad():
            out = model(data['inputs'], mode='tensor')
        torch.testing.assert_close(out['joints'], model.joints_from_vertices(out['verts']))
        assert out['joints'][:, :, root_index].abs().max() < 1e-6
        template_joints = model.joints_from_vertices(model.decoder.template[None])[0]
        assert template_joints[:, root_index].abs().max() < 1e-6
        s, t = out['cam'][..., None, :1], out['cam'][..., None, 1:]
        assert out['cam'].shape == (2, 2, 3)
        torch.testing.assert_close(out['joints_2d'], s * out['joints'][..., :2] + t)
        ref_x = out['cam'][0, 1, 0] * out['joints'][0, 1, 5, 0] + out['cam'][0, 1, 1]
        torch.testing.assert_close(out['joints_2d'][0, 1, 5, 0], ref_x)  # by hand
        ref_y = out['cam'][0, 0, 0] * out['joints'][0, 0, 7, 1] + out['cam'][0, 0, 2]
        torch.testing.assert_close(out['joints_2d'][0, 0, 7, 1], ref_y)


def test_predict_fills_the_given_samples_and_modes_are_named():
    model = build().eval()
    batch = make_batch(model)
    data = model.data_preprocessor(batch, False)
    samples = model(**data, mode='predict')
    assert [id(s) for s in samples] == [id(s) for s in data['data_samples']]
    assert samples[0].sample_idx == 0 and samples[0].pred_joints_3d.shape == (2, 21, 3)
    with pytest.raises(ValueError, match=r"TwoHandEstimator\.forward: unknown mode 'train' "
                                         r"\(use 'loss', 'predict' or 'tensor'\)"):
        model(**data, mode='train')
    out = model(data['inputs'])  # the default mode is 'tensor'
    assert isinstance(out, dict) and out['verts'].shape == (2, 2, 778, 3)


def test_joint_matrix_follows_the_dtype():
    model = build()
    verts = torch.randn(1, 2, 778, 3, dtype=torch.float64)
    assert model.joints_from_vertices(verts.float()).dtype == torch.float32
    joints = model.joints_from_vertices(verts)
    assert joints.dtype == torch.float64
    ref = torch.stack([model.hand_model.joints_from_vertices(verts[:, h], side)
                       for h, side in enumerate(('left', 'right'))], 1)
    torch.testing.assert_close(joints, ref.to(torch.float64), rtol=1e-10, atol=1e-12)


def test_encoder_map_checks_accept_what_the_decoder_reads_and_name_the_rest():
    model = build()
    C = tuple(model.encoder.out_channels)
    x = torch.zeros(2, 3, 64, 64)
    G = torch.zeros(2, 2, 63, 16)

    def maps(*hw, channels=C):
        return [torch.zeros(2, c, h, w) for c, (h, w) in zip(channels, hw)]

    # H never growing is enough: equal sizes (dilated stages) and wide maps are fine
    model._check_shapes(x, maps((16, 16), (8, 8), (8, 8), (4, 4)), G)
    model._check_shapes(x, maps((8, 2), (4, 4), (4, 8), (2, 8)), G)
    bad = {
        'grows again': maps((8, 8), (4, 4), (8, 8), (2, 2)),
        'too few': maps((16, 16), (8, 8), (4, 4)),
        'a 3-D map': maps((16, 16), (8, 8), (4, 4)) + [torch.zeros(2, C[3], 4)],
        'not a tensor': maps((16, 16), (8, 8), (4, 4)) + ['map'],
        'not a list': dict(enumerate(maps((16, 16), (8, 8), (4, 4), (2, 2)))),
    }
    for what, feats in bad.items():
        with pytest.raises(ConfigError, match=r'model\.encoder \(gclhand\.models\.encoders'
                                              r'\.resnet\.ResNet\) returned '):
            model._check_shapes(x, feats, G)
    with pytest.raises(ConfigError, match=r"returned \[\(2, 8, 16, 16\), \(2, 16, 8, 8\), "
                                          r"\(2, 32, 4, 4\), 'str'\]"):
        model._check_shapes(x, bad['not a tensor'], G)
    with pytest.raises(ConfigError, match=r'returned dict; expected a list of 4'):
        model._check_shapes(x, bad['not a list'], G)
    good = maps((16, 16), (8, 8), (4, 4), (2, 2))
    with pytest.raises(ConfigError, match=r'model\.hand_split \(gclhand\.models\.necks\.'
                                          r'hand_split\.HandSplit\) returned list; expected'):
        model._check_shapes(x, good, [G])
