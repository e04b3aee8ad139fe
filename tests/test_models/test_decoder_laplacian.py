"""The decoder's dense Laplacian path equals PyG's sparse ChebConv (a speed option only).

Correctness tests (always run; no timing): ``laplacian='dense'`` was made the default because
it is faster on the hand graphs (docs/benchmarks.md); these tests pin that it computes the
same function as the sparse message passing it replaced.
"""
import pytest
import torch
from test_decoders import toy_graph
from torch_geometric.nn import ChebConv

from gclhand.models.decoders.cheb_gcn_decoder import cheb_conv_dense, dense_scaled_laplacian
from gclhand.registry import DECODERS
from gclhand.utils.build import build_component

NUM_NODES = (6, 12, 24)
FEAT_CHANNELS = (8, 16, 32, 64)


def graph():
    return toy_graph(NUM_NODES, weighted=True)


def decoder(laplacian, seed=0, **kwargs):
    torch.manual_seed(seed)
    return build_component(DECODERS, dict(type='ChebGCNDecoder', channels=(16, 8, 8), K=3,
                                          num_heads=2, laplacian=laplacian, **kwargs),
                           graph=graph(), feat_channels=FEAT_CHANNELS)


def feats(B):
    g = torch.Generator().manual_seed(1)
    return [torch.randn(B, c, 16 // 2**i, 16 // 2**i, generator=g)
            for i, c in enumerate(FEAT_CHANNELS)]


@pytest.mark.parametrize('K', [1, 2, 3, 4])
@pytest.mark.parametrize('weighted', [True, False])
@pytest.mark.parametrize('lambda_max', [2.0, 1.5])
def test_dense_chebconv_equals_sparse(K, weighted, lambda_max):
    """Directed edges, duplicate edges, self loops and an isolated node included."""
    g = torch.Generator().manual_seed(K)
    n = 9
    ei = torch.randint(0, n - 1, (2, 25), generator=g)  # node n-1 isolated
    ei[:, 0] = torch.tensor([3, 3])  # a self loop (dropped by both)
    ei = torch.cat([ei, ei[:, :3]], 1)  # duplicates (summed by both)
    ew = torch.rand(ei.shape[1], generator=g) + 0.1 if weighted else None
    conv = ChebConv(5, 7, K, normalization='sym')
    x = torch.randn(4, n, 5, generator=g)
    sparse = conv(x, ei, ew, lambda_max=lambda_max)
    dense = cheb_conv_dense(conv, x, dense_scaled_laplacian(ei, ew, n, lambda_max))
    torch.testing.assert_close(dense, sparse, atol=1e-5, rtol=1e-5)


def test_dense_laplacian_values():
    """Path 0-1-2, unit weights, lambda_max=2: L~ = -D^-1/2 A D^-1/2 (zero diagonal)."""
    ei = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    lap = dense_scaled_laplacian(ei, None, 3)
    s = -(0.5**0.5)
    torch.testing.assert_close(lap, torch.tensor([[0., s, 0.], [s, 0., s], [0., s, 0.]]))


@pytest.mark.parametrize('mode', ['dense', 'csr'])
def test_decoder_dense_equals_sparse_outputs_and_grads(mode):
    """The node-major paths (dense and CSR operators) compute PyG's function, gradients
    included, attention blocks included."""
    dense, sparse = decoder(mode), decoder('sparse')
    sparse.load_state_dict(dense.state_dict())
    assert dense.state_dict().keys() == sparse.state_dict().keys()  # laplacians not saved
    G = torch.randn(3, 2, NUM_NODES[0], 16)
    fs = feats(3)
    outs = []
    for dec in (dense, sparse):
        out = dec(G, fs)
        out['verts'].square().sum().backward()
        outs.append((out['verts'], out['node_feats'],
                     [p.grad.clone() for p in dec.parameters()]))
    torch.testing.assert_close(outs[0][0], outs[1][0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(outs[0][1], outs[1][1], atol=1e-5, rtol=1e-5)
    for gd, gs in zip(outs[0][2], outs[1][2]):
        torch.testing.assert_close(gd, gs, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize('mode', ['dense', 'csr'])
def test_decoder_dense_graph_override(mode):
    """An override graph (edge disturbers) gives the sparse result; the own graph passed as
    override is bit-identical to no override; a different graph changes the output."""
    dense, sparse = decoder(mode).eval(), decoder('sparse').eval()
    sparse.load_state_dict(dense.state_dict())
    G, fs = torch.randn(2, 2, NUM_NODES[0], 16), feats(2)
    ref = dense(G, fs)['verts']
    assert torch.equal(ref, dense(G, fs, graph_override=dense.graph(0))['verts'])
    ei = torch.tensor([[0, 2, 2, 5], [2, 0, 5, 2]])
    other_d = dense(G, fs, graph_override=(ei, None))['verts']
    other_s = sparse(G, fs, graph_override=(ei, None))['verts']
    torch.testing.assert_close(other_d, other_s, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(ref, other_d)


def test_decoder_default_is_csr_and_bad_mode_named():
    dec = build_component(DECODERS, dict(type='ChebGCNDecoder', channels=(16, 8, 8)),
                          graph=graph(), feat_channels=FEAT_CHANNELS)
    assert dec.laplacian == 'csr' and dec.laplacian_0.shape == (6, 6)
    # the level copies of this hierarchy are one-parent copy matrices: gathered by index
    assert dec.upsample_parent_0.tolist() == (torch.arange(12) // 2).tolist()
    G, fs = torch.randn(2, 2, NUM_NODES[0], 16), feats(2)
    ref = dec(G, fs)['verts']
    torch.testing.assert_close(dec.set_laplacian('dense')(G, fs)['verts'], ref)
    with pytest.raises(ValueError, match='model.decoder.laplacian'):
        decoder('coo')


def test_copy_rows_only_for_one_parent_copy_matrices():
    from gclhand.models.decoders.cheb_gcn_decoder import _copy_rows
    assert _copy_rows(torch.tensor([[0., 1.], [1., 0.], [1., 0.]])).tolist() == [1, 0, 0]
    assert _copy_rows(torch.tensor([[0.5, 0.5], [1., 0.]])) is None   # an average
    assert _copy_rows(torch.tensor([[1., 1.], [1., 0.]])) is None     # two parents
    assert _copy_rows(torch.tensor([[0., 0.], [1., 0.]])) is None     # no parent


def test_csr_forms_are_cached_per_buffer_and_remade_when_it_changes():
    """'csr' mode converts each fixed matrix once; an in-place change of the buffer (a DDP
    broadcast, a manual edit), a new buffer (``.to``) or a copy makes it again, and a
    per-call override matrix is never cached."""
    import copy
    import pickle
    dec = decoder('csr').eval()
    G, fs = torch.randn(2, 2, NUM_NODES[0], 16), feats(2)
    with torch.no_grad():
        ref = dec(G, fs)['verts']
        names = set(dec._csr_cache)
        assert names == {'laplacian_0', 'laplacian_1', 'laplacian_2', 'mesh_upsample'}
        first = {k: v[2] for k, v in dec._csr_cache.items()}
        assert torch.equal(dec(G, fs)['verts'], ref)
        assert all(dec._csr_cache[k][2] is first[k] for k in names)  # reused
        dec.laplacian_1.mul_(0.5)  # in place: version bump
        changed = dec(G, fs)['verts']
        assert dec._csr_cache['laplacian_1'][2] is not first['laplacian_1']
        assert torch.equal(dec._csr_cache['laplacian_1'][2].to_dense(), dec.laplacian_1)
        assert not torch.allclose(changed, ref)
        dec.laplacian_1.mul_(2.0)
        torch.testing.assert_close(dec(G, fs)['verts'], ref)
        moved = dec.to(torch.float64).to(torch.float32)  # new buffer objects
        torch.testing.assert_close(moved(G, fs)['verts'], ref)
        assert moved._csr_cache['laplacian_0'][0] is moved.laplacian_0
        ei = torch.tensor([[0, 2, 2, 5], [2, 0, 5, 2]])
        dec(G, fs, graph_override=(ei, None))
        assert set(dec._csr_cache) == names  # the override's matrix is not kept
        for twin in (copy.deepcopy(dec), pickle.loads(pickle.dumps(dec))):
            assert twin._csr_cache == {}
            torch.testing.assert_close(twin(G, fs)['verts'], ref)


def test_all_modes_add_the_template_to_the_upsampled_nodes():
    """verts = mesh_upsample @ nodes + template in every mode, nodes included in the
    outputs and equal across modes."""
    template = torch.randn(2, graph().mesh_upsample.shape[0], 3)
    G, fs = torch.randn(2, 2, NUM_NODES[0], 16), feats(2)
    outs = {}
    for mode in ('csr', 'dense', 'sparse'):
        dec = decoder(mode, template=template).eval()
        with torch.no_grad():
            outs[mode] = dec(G, fs)
        out = outs[mode]
        torch.testing.assert_close(
            out['verts'], torch.matmul(dec.mesh_upsample, out['nodes']) + template,
            atol=1e-5, rtol=1e-5)
    for mode in ('dense', 'sparse'):
        for key in ('verts', 'nodes', 'node_feats'):
            torch.testing.assert_close(outs[mode][key], outs['csr'][key], atol=1e-5,
                                       rtol=1e-5)


@pytest.mark.parametrize('mode', ['csr', 'sparse'])
def test_each_attention_switch_alone_takes_effect(mode):
    """Image attention alone makes the output depend on the encoder maps; cross-hand
    attention alone makes one hand's output depend on the other hand's input."""
    G, fs = torch.randn(2, 2, NUM_NODES[0], 16), feats(2)
    img_only = decoder(mode, cross_hand_attention=False).eval()
    other_fs = [f.flip(-1) for f in fs]
    assert not torch.allclose(img_only(G, fs)['verts'], img_only(G, other_fs)['verts'])
    hand_only = decoder(mode, image_attention=False).eval()
    G2 = G.clone()
    G2[:, 1] = torch.randn_like(G2[:, 1])
    assert not torch.allclose(hand_only(G, fs)['verts'][:, 0], hand_only(G2, fs)['verts'][:, 0])
    plain = decoder(mode, image_attention=False, cross_hand_attention=False).eval()
    torch.testing.assert_close(plain(G, fs)['verts'][:, 0], plain(G2, fs)['verts'][:, 0])
