"""Tests of DGCLNet (gclhand/models/dgcl.py) through the real decoder.

The decoder is the library's ``ChebGCNDecoder`` (built through ``DECODERS``) on a tiny graph
hierarchy (6 -> 12 -> 24 nodes; node 5 of the coarse level is a padding node, isolated as
in ``gclhand.hand.graph``), so every test runs the code path users train with, in
milliseconds. Expected values are written out by hand from the paper's equations.
"""
import copy

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from gclhand.models.dgcl import DGCLNet, DGCLPair
from gclhand.models.disturbers import Disturber, DisturberContractError
from gclhand.registry import DECODERS, DISTURBERS, MODELS
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


def make_decoder(seed=0, image_attention=False):
    torch.manual_seed(seed)
    attention = dict(feat_channels=(4, ), attn_feat_index=(0, 0, 0)) if image_attention else {}
    return build_component(DECODERS, dict(type='ChebGCNDecoder', channels=(C0, 8, CF), K=2,
                                          image_attention=image_attention,
                                          cross_hand_attention=True, num_heads=2, **attention),
                           graph=hierarchy())


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


def build(seed=0, image_attention=False, **kw):
    dec = make_decoder(seed, image_attention)
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


@pytest.mark.parametrize('head, attr', [('self_contrast', 'self_contrast'),
                                        ('consistency', 'consistency'),
                                        ('cross_contrast', 'cross_contrast')])
@pytest.mark.parametrize('bad', ['vector', 'float'])
def test_a_contrastive_head_returning_no_scalar_is_named(head, attr, bad, monkeypatch):
    """A plugin head returning a per-hand vector would be averaged by MMEngine without its
    validity mask; a float fails far away.  Either is named with the head's config key."""
    dgcl, dec = build()
    module = getattr(dgcl, attr)
    inner = module.loss

    def broken(*args, **kwargs):
        value = inner(*args, **kwargs)
        return value.expand(5) if bad == 'vector' else float(value)
    monkeypatch.setattr(module, 'loss', broken)
    got = 'a tensor of shape \\(5,\\)' if bad == 'vector' else 'a float'
    with pytest.raises(ConfigError, match=f'model.dgcl.{head} \\(gclhand.*'
                                          f'{type(module).__name__}\\).loss\\(\\) returned '
                                          f'{got}; a contrastive head'):
        run(dgcl, dec)


def test_cross_contrast_is_minimised_mismatch_to_pose_similarity():
    """Eq. 5/6/12 with the sign that minimises |S_p - S_g| (issue 18.6): the value equals
    +lambda7 * ||q.keys - S_g||_2 (the Frobenius norm, as printed) and a gradient step on it
    lowers it."""
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
    expected = 1e-2 * (q @ all_keys.t() - s_g).square().sum().sqrt()
    torch.testing.assert_close(losses['loss_cross_contrast'], expected)
    # minimised, not maximised: one small gradient step on the projector lowers it
    params = list(dgcl.projector.parameters())
    grads = torch.autograd.grad(losses['loss_cross_contrast'], params)
    with torch.no_grad():
        for p, g in zip(params, grads):
            p -= 10.0 * g
    after = 1e-2 * (dgcl.projector(pair.node_feats) @ all_keys.t() - s_g).square().sum().sqrt()
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

@pytest.mark.parametrize('image_attention', [False, True])
@pytest.mark.parametrize('disturber', [dict(type='GraphUNetDisturber', depth=1),
                                       dict(type='FeatureNoise', sigma=0.1),
                                       dict(type='EdgeAdd', ratio=1.0)])
def test_decode_equals_separate_decoder_calls(disturber, image_attention):
    """The main pass and the disturbed pass batched in one decoder call give what two
    calls give (feature disturbers); edge disturbers run the disturbed graph.  With image
    attention both passes attend to the image's feature maps."""
    dgcl, dec = build(disturber=disturber, image_attention=image_attention)
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
    edge_index = dec.graph(0)[0]
    mask = dgcl.real_node_mask(edge_index, NUM_NODES[0])
    assert mask.tolist() == [True] * 5 + [False]
    assert dgcl.real_node_mask(edge_index, NUM_NODES[0]) is mask  # cached
    # the cache follows the node count and the graph object, each on its own
    assert dgcl.real_node_mask(edge_index, 7).tolist() == [True] * 5 + [False] * 2
    wired = torch.cat([edge_index, torch.tensor([[0, 5], [5, 0]])], 1)
    assert dgcl.real_node_mask(wired, 7).tolist() == [True] * 6 + [False]


class RecordingDecoder(torch.nn.Module):
    """The test decoder, recording each call's batch size and ``graph_override``."""

    def __init__(self, decoder):
        super().__init__()
        self.decoder, self.calls = decoder, []

    def forward(self, G, feats, graph_override=None):
        self.calls.append((G.size(0), graph_override))
        return self.decoder(G, feats, graph_override=graph_override)


def symmetric_weights(edge_index):
    """Edge weights 1, 2 or 3 from the unordered pair (i, j): a weighted, symmetric graph
    whose normalised Laplacian differs from the unweighted one."""
    return 1.0 + ((edge_index[0] + edge_index[1]) % 3).float()


class ReweightEdges(Disturber):
    """Keeps the edges (the same ``edge_index`` object), changes their weights."""

    def disturb(self, g):
        return g._replace(edge_weight=symmetric_weights(g.edge_index))


class RecordInput(Disturber):
    """A feature disturber (identity) that keeps the graph it was called with."""

    def disturb(self, g):
        self.seen = g
        return g


def test_decode_gives_the_disturber_the_clean_graph_and_passes_its_graph_on():
    """Eq. 1-2: F_gen sees G on the clean coarse graph (edges, weights, real nodes); a
    disturber that keeps the graph objects runs in one batched decoder call without an
    override, and one that changes only the weights is decoded on its weights."""
    dgcl, dec = build()
    G, feats, _ = inputs()
    edge_index, edge_weight = dec.graph(0)
    dgcl.disturber = RecordInput()
    recorder = RecordingDecoder(dec)
    dgcl.decode(G, feats, recorder, (edge_index, edge_weight))
    seen = dgcl.disturber.seen
    assert seen.edge_index is edge_index and seen.edge_weight is edge_weight
    assert seen.node_mask.tolist() == [True] * 5 + [False]
    assert recorder.calls == [(2 * B, None)]

    dgcl.disturber = ReweightEdges()
    recorder.calls = []
    _, pair = dgcl.decode(G, feats, recorder, (edge_index, edge_weight))
    # the two training calls, then (first time only) the probe that the decoder reads the
    # override: with it and without it
    assert [c[0] for c in recorder.calls] == [B, B, B, B] and recorder.calls[0][1] is None
    assert recorder.calls[2][1] is not None and recorder.calls[3][1] is None
    recorder.calls = []
    _, pair = dgcl.decode(G, feats, recorder, (edge_index, edge_weight))
    assert [c[0] for c in recorder.calls] == [B, B] and recorder.calls[0][1] is None
    override = recorder.calls[1][1]
    assert override[0] is edge_index
    torch.testing.assert_close(override[1], symmetric_weights(edge_index))
    x_hat = F.normalize(G, dim=-1)
    ref = dec(x_hat, feats, graph_override=override)['node_feats'].flatten(0, 1)
    torch.testing.assert_close(pair.node_feats_hat, ref)
    unweighted = dec(x_hat, feats)['node_feats'].flatten(0, 1)
    assert (pair.node_feats_hat - unweighted).abs().max() > 1e-4


class WrongShape(Disturber):
    def disturb(self, g):
        return g._replace(x=g.x[:, :-1])


def test_a_broken_disturber_is_named_with_what_it_returned():
    dgcl, dec = build()
    G, feats, _ = inputs()
    dgcl.disturber = WrongShape()
    with pytest.raises(DisturberContractError, match=r'disturber test_dgcl\.WrongShape '
                       r'\(model\.dgcl\.disturber\) returned x of shape \(6, 5, 8\) for an '
                       r'input of shape \(6, 6, 8\)'):
        dgcl.decode(G, feats, dec, dec.graph(0))


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
    with pytest.raises(RuntimeError) as err:
        run(dgcl, dec, seed=4)
    assert str(err.value) == (
        f'DGCLNet.loss: {5 * M} hands wait for the queues, which hold {4 * M}; call '
        'model.dgcl.step(decoder) after every optimiser step (TwoHandEstimator.train_step '
        'and DGCLStepHook do) or raise the queue sizes')


def test_pool_without_self_queue_is_still_filled_at_step():
    dgcl, dec = build(self_queue=False)
    run(dgcl, dec)
    dgcl.step(dec)
    assert dgcl.self_queue is None and int(dgcl.pool.num_filled) == M


GT_MESSAGE = ('DGCLNet.loss needs gt_joints (B, 2, 21, 3) for the consistency / '
              'cross-contrast terms')


@pytest.mark.parametrize('consistency,similarity', [(True, False), (False, True)])
def test_gt_joints_are_required_by_consistency_and_by_cross_contrast(consistency,
                                                                     similarity):
    dgcl, dec = build(consistency=consistency, similarity=similarity)
    G, feats, _ = inputs()
    _, pair = dgcl.decode(G, feats, dec, dec.graph(0))
    with pytest.raises(ValueError) as err:
        dgcl.loss(pair)
    assert str(err.value) == GT_MESSAGE


def test_self_contrast_alone_needs_no_gt_joints():
    dgcl, dec = build(consistency=False, similarity=False)
    G, feats, _ = inputs()
    _, pair = dgcl.decode(G, feats, dec, dec.graph(0))
    losses = dgcl.loss(pair)
    assert list(losses) == ['loss_self_contrast'] and losses['loss_self_contrast'] > 0


def test_contrast_reads_only_the_nodes_that_reach_the_mesh():
    """The finest level's padding nodes (isolated, a zero column in ``mesh_upsample``: 29 of
    IntagHand's 252) carry features no vertex reads; q, k_hat and the momentum keys are
    read at the other nodes only (eq. 3, 5 compare the hands' graph features)."""
    graph = ring_hierarchy(NUM_NODES, num_real=(PADDING, None, 20))
    graph.mesh_upsample[:, 20:] = 0
    torch.manual_seed(0)
    dec = build_component(DECODERS, dict(type='ChebGCNDecoder', channels=(C0, 8, CF), K=2,
                                         image_attention=False, cross_hand_attention=True,
                                         num_heads=2), graph=graph)
    assert dec.mesh_node_index.tolist() == list(range(20))
    torch.manual_seed(100)
    dgcl = MODELS.build(dgcl_cfg())
    dgcl.init_key_encoder(dec)
    G, feats, joints = inputs(seed=0)
    out, pair = dgcl.decode(G, feats, dec, dec.graph(0))
    torch.testing.assert_close(pair.node_feats, out['node_feats'][:, :, :20].flatten(0, 1))
    hat = dec(pair.graph_feats_hat.view_as(G), feats)['node_feats']
    torch.testing.assert_close(pair.node_feats_hat, hat[:, :, :20].flatten(0, 1))
    ema = dgcl.key_encoder.ema.module
    expected = ema['projector'](ema['decoder'](G, feats)['node_feats'][:, :, :20].flatten(0, 1))
    torch.testing.assert_close(dgcl.key_encoder(G, feats), expected)
    # a decoder without the attribute (a plugin): every node is read
    del dec.mesh_node_index
    _, pair = dgcl.decode(G, feats, dec, dec.graph(0))
    assert pair.node_feats.shape == (M, NUM_NODES[-1], CF)


def test_unannotated_hands_are_neither_queries_nor_keys_of_the_cross_contrast():
    """Eq. 12 over annotated pairs only: a hand with hand_valid = 0 (in this batch or
    stored in the pool) enters no (query, key) pair, whatever its pose holds."""
    dgcl, dec = build()
    valid = torch.ones(B, 2, dtype=torch.bool)
    valid[0, 1] = False
    run(dgcl, dec, seed=0, hand_valid=valid)
    dgcl.step(dec)
    pool_keys, pool_poses, pool_valid = (t.clone() for t in dgcl.pool.entries())
    assert pool_valid.tolist() == valid.flatten().tolist()
    G, feats, joints = inputs(seed=3)
    valid2 = torch.ones(B, 2, dtype=torch.bool)
    valid2[2, 0] = False
    _, pair = dgcl.decode(G, feats, dec, dec.graph(0))
    losses = dgcl.loss(pair, joints, valid2)
    q = dgcl.projector(pair.node_feats)
    keys = torch.cat([dgcl.key_encoder(G, feats), pool_keys])
    poses = torch.cat([joints.flatten(0, 1), pool_poses])
    err = (q @ keys.t() - dgcl.cross_contrast.sim_target(joints.flatten(0, 1), poses)).square()
    vq, vk = valid2.flatten(), torch.cat([valid2.flatten(), pool_valid])
    expected = 1e-2 * err[vq][:, vk].sum().sqrt()
    torch.testing.assert_close(losses['loss_cross_contrast'], expected)
    assert not torch.allclose(expected, 1e-2 * err.sum().sqrt())


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
    with pytest.raises(ValueError, match=r'^DGCLNet\.decode expects graph_feats \(B, 2, N0, '
                                         r'C0\), got \(2, 6, 8\)$'):
        dgcl.decode(G[0], feats, dec, dec.graph(0))



@DISTURBERS.register_module(force=True)
class NoInitDisturberForTest(Disturber):
    """A plugin disturber with no ``__init__`` of its own (nn.Module's takes **kwargs)."""

    def disturb(self, g):
        return g._replace(x=g.x.flip(-1))


def test_a_disturber_without_its_own_init_is_given_no_sizes():
    dgcl, dec = build(disturber=dict(type='NoInitDisturberForTest'))
    G, feats, _ = inputs()
    _, pair = dgcl.decode(G, feats, dec, dec.graph(0))
    torch.testing.assert_close(pair.graph_feats_hat, F.normalize(G.flip(-1), dim=-1)
                               .flatten(0, 1))


class _OverrideBlindDecoder(nn.Module):
    """A plugin decoder that accepts ``graph_override`` and ignores it."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, graph_feats, feats, graph_override=None):
        return self.inner(graph_feats, feats)


@pytest.mark.parametrize('disturber', [dict(type='EdgeFlip', ratio=0.5),
                                       dict(type='EdgeAdd', ratio=0.5)])
def test_an_edge_disturber_with_a_decoder_that_ignores_the_override_is_refused(disturber):
    """An edge disturber whose graph the decoder never reads would make the whole
    contrastive module compare a graph with itself, silently.  The real decoder passes
    (and keeps its training mode and random stream); a blind one is named."""
    dgcl, dec = build(disturber=disturber)
    torch.manual_seed(3)
    run(dgcl, dec)
    assert dgcl._override_checked and dec.training
    after_probe = torch.rand(1)
    dgcl2, dec2 = build(disturber=disturber)
    dgcl2._override_checked = True  # no probe: the same draws must follow
    torch.manual_seed(3)
    run(dgcl2, dec2)
    assert torch.equal(torch.rand(1), after_probe)
    dgcl, dec = build(disturber=disturber)
    with pytest.raises(ConfigError, match=r'model.decoder \(.*_OverrideBlindDecoder\) gives the '
                       r'same node_feats with and without graph_override, so the edge disturber '
                       r'model.dgcl.disturber \(.*Edge(Flip|Add)\) changes nothing'):
        G, feats, _ = inputs()
        dgcl.decode(G, feats, _OverrideBlindDecoder(dec), dec.graph(0))
