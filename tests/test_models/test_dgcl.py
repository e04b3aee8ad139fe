"""Tests of DGCLNet (gclhand/models/dgcl.py) through the real decoder.

The decoder is the library's ``ChebGCNDecoder`` (built through ``DECODERS``) on a tiny graph
hierarchy (6 -> 12 -> 24 nodes; node 5 of the coarse level is a padding node, isolated as
in ``gclhand.hand.graph``), so every test runs the code path users train with, in
milliseconds. Expected values are written out by hand from the paper's equations.
"""
import copy

import pytest
import torch
import torch.nn.functional as F

from gclhand.models.dgcl import DGCLNet, DGCLPair
from gclhand.registry import DECODERS, MODELS
from gclhand.utils import ConfigError
from gclhand.utils.build import build_component
from toy_hierarchy import ring_hierarchy

NUM_NODES = (6, 12, 24)
C0, CF, B = 8, 8, 3
M = 2 * B
PADDING = 5  # isolated node of the coarse level


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: a second thread only adds contention (10x slower on a loaded box)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def hierarchy():
    return ring_hierarchy(NUM_NODES, num_real=(PADDING, None, None))


def make_decoder(seed=0):
    torch.manual_seed(seed)
    return build_component(DECODERS, dict(type='ChebGCNDecoder', channels=(C0, 8, CF), K=2,
                                          image_attention=False, cross_hand_attention=True,
                                          num_heads=2), graph=hierarchy())


def dgcl_cfg(disturber=None, self_queue=True, consistency=True, similarity=True, **kw):
    cfg = dict(
        type='DGCLNet',
        disturber=disturber or dict(type='GraphUNetDisturber', depth=1),
        projector=dict(type='GraphReadoutProjector', hidden_channels=8, out_channels=4),
        self_contrast=dict(type='SelfContrastHead', tau=0.2),
        self_queue=dict(type='FeatureQueue', size=4 * M) if self_queue else None,
        consistency=dict(type='ConsistencyHead') if consistency else None,
        lambda_consistent=1.0, lambda_contrast=1e-2,
        graph_channels=C0, node_channels=CF, num_nodes=NUM_NODES[0])
    if similarity:
        cfg.update(pool=dict(type='FeaturePosePool', size=4 * M),
                   key_encoder=dict(type='MomentumKeyEncoder', momentum=0.9),
                   cross_contrast=dict(type='CrossContrastHead',
                                       sim_target=dict(type='GaussianTarget')))
    cfg.update(kw)
    return cfg


def build(seed=0, **kw):
    dec = make_decoder(seed)
    torch.manual_seed(seed + 100)
    dgcl = MODELS.build(dgcl_cfg(**kw))
    dgcl.init_key_encoder(dec)
    return dgcl, dec


def inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    G = F.normalize(torch.randn(B, 2, NUM_NODES[0], C0, generator=g), dim=-1)
    G.requires_grad_()
    feats = [torch.randn(B, 4, 2, 2, generator=g)]
    joints = torch.randn(B, 2, 21, 3, generator=g)
    joints[:, :, 0] = 0  # wrist-relative, normalised units
    return G, feats, joints


def run(dgcl, dec, seed=0, **kw):
    G, feats, joints = inputs(seed)
    out, pair = dgcl.decode(G, feats, dec, dec.graph(0))
    return out, pair, dgcl.loss(pair, joints, **kw), (G, feats, joints)


def infonce(q, pos, negatives, tau):
    """-mean_m log(exp(q_m.pos_m / tau) / sum over [pos | negatives])."""
    logits = torch.cat([q @ pos.t(), q @ negatives.t()], 1) / tau
    return (torch.logsumexp(logits, 1) - logits.diagonal()).mean()


# ------------------------------------------------------------------ the paper's equations

def test_self_contrast_is_infonce_against_queue_of_disturbed_embeddings():
    """Eq. 3/13: positives are k_hat = proj(GCN(G_hat)), negatives the batch's other k_hat
    and the queue of *earlier k_hat* (same encoder as the positive, issue 18.1)."""
    dgcl, dec = build(similarity=False)
    _, pair1, _, _ = run(dgcl, dec, seed=0)
    k_hat_1 = dgcl.projector(pair1.node_feats_hat).detach()
    dgcl.step(dec)
    queue = dgcl.self_queue.negatives().clone()  # captured before the call
    torch.testing.assert_close(queue, k_hat_1)
    G, feats, joints = inputs(seed=1)
    out, pair = dgcl.decode(G, feats, dec, dec.graph(0))
    losses = dgcl.loss(pair, joints)
    # by hand: G_hat = normalize(F_gen(G)), both through the shared decoder
    g_hat = F.normalize(dgcl.disturber(G.flatten(0, 1), *dec.graph(0)).x, dim=-1)
    q = dgcl.projector(dec(G, feats)['node_feats'].flatten(0, 1))
    k_hat = dgcl.projector(dec(g_hat.view_as(G), feats)['node_feats'].flatten(0, 1))
    expected = 1e-2 * infonce(q, k_hat, queue, tau=0.2)
    torch.testing.assert_close(losses['loss_self_contrast'], expected)
    # the test can tell the roles apart: q and k_hat swapped give another value
    assert abs(float(1e-2 * infonce(k_hat, q, queue, 0.2) - expected.detach())) > 1e-4


def test_queue_clone_lets_step_run_before_backward():
    """The losses' graph does not depend on queue state that step() overwrites."""
    grads = []
    for step_first in (False, True):
        dgcl, dec = build()
        run(dgcl, dec, seed=0)
        dgcl.step(dec)
        G, feats, joints = inputs(seed=1)
        _, pair = dgcl.decode(G, feats, dec, dec.graph(0))
        losses = dgcl.loss(pair, joints)
        if step_first:
            dgcl.step(dec)  # refills both queues in place
        sum(losses.values()).backward()
        grads.append(G.grad.clone())
    torch.testing.assert_close(grads[0], grads[1])


def test_consistency_regresses_normalised_joints_from_disturbed_features():
    """Eq. 4/10: J_k = MLP(G_hat) against the normalised joints (issue 18.2), with G_hat
    (not G) as input."""
    dgcl, dec = build(similarity=False, self_queue=False)
    G, feats, joints = inputs(seed=2)
    _, pair = dgcl.decode(G, feats, dec, dec.graph(0))
    losses = dgcl.loss(pair, joints)
    g_hat = F.normalize(dgcl.disturber(G.flatten(0, 1), *dec.graph(0)).x, dim=-1)
    mlp = dgcl.consistency.mlp
    expected = (mlp(g_hat.flatten(1)).view(M, 21, 3) - joints.flatten(0, 1)).abs().mean()
    torch.testing.assert_close(losses['loss_consistent'], expected)
    on_g = (mlp(G.flatten(0, 1).flatten(1)).view(M, 21, 3) - joints.flatten(0, 1)).abs().mean()
    assert abs(float(on_g - expected)) > 1e-3
    # annotated hands only
    valid = torch.tensor([[1, 0], [0, 1], [1, 1]])
    got = dgcl.loss(pair, joints, hand_valid=valid)['loss_consistent']
    keep = valid.flatten().bool()
    torch.testing.assert_close(got, (mlp(g_hat.flatten(1)).view(M, 21, 3)[keep]
                                     - joints.flatten(0, 1)[keep]).abs().mean())


def test_cross_contrast_is_minimised_mismatch_to_pose_similarity():
    """Eq. 5/6/12 with the sign that minimises |S_p - S_g| (issue 18.6): the value equals
    +lambda7 * mean (q.keys - S_g)^2 and a gradient step on it lowers it."""
    dgcl, dec = build()
    run(dgcl, dec, seed=0)
    dgcl.step(dec)
    pool_keys, pool_poses, _ = (t.clone() for t in dgcl.pool.entries())
    G, feats, joints = inputs(seed=3)
    _, pair = dgcl.decode(G, feats, dec, dec.graph(0))
    losses = dgcl.loss(pair, joints)
    q = dgcl.projector(pair.node_feats)
    keys = dgcl.key_encoder(G, feats)
    all_keys = torch.cat([keys, pool_keys])
    all_poses = torch.cat([joints.flatten(0, 1), pool_poses])
    s_g = dgcl.cross_contrast.sim_target(joints.flatten(0, 1), all_poses)
    expected = 1e-2 * (q @ all_keys.t() - s_g).square().mean()
    torch.testing.assert_close(losses['loss_cross_contrast'], expected)
    # minimised, not maximised: one small gradient step on the projector lowers it
    params = list(dgcl.projector.parameters())
    grads = torch.autograd.grad(losses['loss_cross_contrast'], params)
    with torch.no_grad():
        for p, g in zip(params, grads):
            p -= 10.0 * g
    after = 1e-2 * (dgcl.projector(pair.node_feats) @ all_keys.t() - s_g).square().mean()
    assert after < expected


def test_weights_scale_their_terms():
    dgcl, dec = build(similarity=False)
    torch.manual_seed(1)
    *_, l1, _ = run(dgcl, dec)
    dgcl.discard_step()
    dgcl.lambda_contrast, dgcl.lambda_consistent = 2e-2, 3.0
    torch.manual_seed(1)
    *_, l2, _ = run(dgcl, dec)
    torch.testing.assert_close(l2['loss_self_contrast'], 2 * l1['loss_self_contrast'])
    torch.testing.assert_close(l2['loss_consistent'], 3 * l1['loss_consistent'])


# ------------------------------------------------------------- one batched decoder pass

@pytest.mark.parametrize('disturber', [dict(type='GraphUNetDisturber', depth=1),
                                       dict(type='FeatureNoise', sigma=0.1),
                                       dict(type='EdgeAdd', ratio=1.0)])
def test_decode_equals_separate_decoder_calls(disturber):
    """The main pass and the disturbed pass batched in one decoder call give what two
    calls give (feature disturbers); edge disturbers run the disturbed graph."""
    dgcl, dec = build(disturber=disturber)
    G, feats, _ = inputs()
    torch.manual_seed(0)
    out, pair = dgcl.decode(G, feats, dec, dec.graph(0))
    ref = dec(G, feats)
    for key in ref:
        torch.testing.assert_close(out[key], ref[key], rtol=1e-5, atol=1e-6)
    torch.manual_seed(0)
    g_hat = dgcl.disturber(G.flatten(0, 1), *dec.graph(0), dgcl.real_node_mask(
        dec.graph(0)[0], NUM_NODES[0]))
    override = None if g_hat.edge_index is dec.graph(0)[0] else g_hat.unfold()[1:]
    ref_hat = dec(F.normalize(g_hat.x, dim=-1).view_as(G), feats, graph_override=override)
    torch.testing.assert_close(pair.node_feats_hat, ref_hat['node_feats'].flatten(0, 1),
                               rtol=1e-5, atol=1e-6)
    assert isinstance(pair, DGCLPair) and pair.graph_feats_hat.shape == (M, 6, C0)


def test_disturbed_features_are_normalised_per_node():
    """"All G are normalized before use" (issue 18.9): G_hat is, unless switched off."""
    dgcl, dec = build(disturber=dict(type='FeatureNoise', sigma=1.0))
    G, feats, _ = inputs()
    _, pair = dgcl.decode(G, feats, dec, dec.graph(0))
    torch.testing.assert_close(pair.graph_feats_hat.norm(dim=-1), torch.ones(M, 6))
    dgcl.normalize = None
    _, pair = dgcl.decode(G, feats, dec, dec.graph(0))
    assert (pair.graph_feats_hat.norm(dim=-1) - 1).abs().max() > 0.1
    with pytest.raises(ConfigError, match='model.dgcl.normalize'):
        MODELS.build(dgcl_cfg(normalize='unit'))


def test_real_node_mask_marks_isolated_padding_nodes():
    dgcl, dec = build()
    mask = dgcl.real_node_mask(dec.graph(0)[0], NUM_NODES[0])
    assert mask.tolist() == [True] * 5 + [False]
    assert dgcl.real_node_mask(dec.graph(0)[0], NUM_NODES[0]) is mask  # cached


# ----------------------------------------------------------- once per optimiser step

def test_step_updates_key_encoder_and_queues_once_and_only_after_loss():
    dgcl, dec = build(self_queue=True)
    ema_steps = int(dgcl.key_encoder.ema.steps)
    run(dgcl, dec, seed=0)
    run(dgcl, dec, seed=1)  # a second micro-batch of the same optimiser step
    assert int(dgcl.self_queue.num_filled) == 0 and int(dgcl.pool.num_filled) == 0
    dgcl.step(dec)
    assert int(dgcl.self_queue.num_filled) == 2 * M and int(dgcl.pool.num_filled) == 2 * M
    assert int(dgcl.key_encoder.ema.steps) == ema_steps + 1
    dgcl.step(dec)  # nothing pending: no second momentum update
    assert int(dgcl.key_encoder.ema.steps) == ema_steps + 1
    run(dgcl, dec, seed=2)
    dgcl.discard_step()  # a skipped (non-finite) step leaves no trace
    dgcl.step(dec)
    assert int(dgcl.pool.num_filled) == 2 * M and int(dgcl.key_encoder.ema.steps) == \
        ema_steps + 1


def test_loss_without_step_fails_loudly():
    dgcl, dec = build(self_queue=True)
    for seed in range(4):  # the queues hold 4 * M
        run(dgcl, dec, seed=seed)
    with pytest.raises(RuntimeError, match=r'model.dgcl.step\(decoder\)'):
        run(dgcl, dec, seed=4)


def test_resume_is_exact():
    dgcl, dec = build()
    for s in range(2):
        run(dgcl, dec, seed=s)
        dgcl.step(dec)
    state, dec_state = copy.deepcopy(dgcl.state_dict()), copy.deepcopy(dec.state_dict())
    assert {'self_queue.feats', 'pool.feats', 'pool.poses', 'pool.ptr'} <= set(state)
    dgcl2, dec2 = build(seed=7)
    dec2.load_state_dict(dec_state)
    dgcl2.load_state_dict(state, strict=True)
    for d, e in ((dgcl, dec), (dgcl2, dec2)):
        torch.manual_seed(5)
        d.got = run(d, e, seed=2)[2]
    for k in dgcl.got:
        assert torch.equal(dgcl.got[k], dgcl2.got[k]), k


# ------------------------------------------------------------------------ configuration

def test_switches_and_config_errors():
    dgcl = MODELS.build(dgcl_cfg())
    assert dgcl.pool.feats.shape == (4 * M, 4) and dgcl.self_queue.feats.shape == (4 * M, 4)
    bare = MODELS.build(dgcl_cfg(self_queue=False, consistency=False, similarity=False))
    assert bare.self_queue is None and bare.consistency is None and bare.key_encoder is None
    with pytest.raises(ConfigError, match='pool and model.dgcl.cross_contrast go together'):
        MODELS.build(dgcl_cfg(similarity=False, pool=dict(type='FeaturePosePool')))
    with pytest.raises(ConfigError, match='go together'):
        MODELS.build(dgcl_cfg(similarity=False, cross_contrast=dict(type='CrossContrastHead')))
    with pytest.raises(ConfigError, match="unknown disturber 'NodeDropX'"):
        MODELS.build(dgcl_cfg(dict(type='NodeDropX')))
    dgcl, dec = build()
    G, feats, _ = inputs()
    _, pair = dgcl.decode(G, feats, dec, dec.graph(0))
    with pytest.raises(ValueError, match='gt_joints'):
        dgcl.loss(pair)
    with pytest.raises(ValueError, match=r'\(B, 2, N0, C0\)'):
        dgcl.decode(G[0], feats, dec, dec.graph(0))

