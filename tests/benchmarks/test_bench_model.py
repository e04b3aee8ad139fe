"""Model benchmarks: train steps (baseline vs DGCL), deployed inference, graph operator.

    pytest tests/benchmarks/test_bench_model.py --benchmark-only

Skipped in the default run (see conftest.py).  pytest-benchmark times each case alone; for
ratios measured under the same load (baseline and DGCL interleaved step by step) use
``gclhand benchmark``, whose model/batch builders (:mod:`gclhand.benchmark`) these cases
share.  That the deployed DGCL model is the baseline network is asserted in
tests/test_benchmark/test_run_benchmark.py, not here.
"""
import pytest
import torch

from gclhand.cli.config import load_config

SYNTH_BATCH = 16
PAPER_BATCH = 2  # paper-size *_interhand models (ResNet-50, 256 px) at a CPU-sized batch


def trainer(bench, config_path, name, batch):
    cfg = load_config(config_path(name))
    return bench.Trainer(name, cfg, bench.BenchmarkSettings(device='cpu'), torch.device('cpu'),
                         batch)


@pytest.mark.parametrize('name', ['gcn_baseline_synth.py', 'dgcl_synth.py'])
def test_bench_train_step_synth(benchmark, bench, config_path, name):
    t = trainer(bench, config_path, name, SYNTH_BATCH)
    benchmark.extra_info.update(batch=SYNTH_BATCH, config=name)
    benchmark.pedantic(t.step, rounds=5, warmup_rounds=2, iterations=1)


@pytest.mark.parametrize('name', ['gcn_baseline_interhand.py', 'dgcl_interhand.py'])
def test_bench_train_step_interhand(benchmark, bench, config_path, name):
    t = trainer(bench, config_path, name, PAPER_BATCH)
    benchmark.extra_info.update(batch=PAPER_BATCH, config=name)
    benchmark.pedantic(t.step, rounds=3, warmup_rounds=1, iterations=1)


@pytest.mark.parametrize('batch', [1, 32])
@pytest.mark.parametrize('name', ['gcn_baseline_synth.py', 'dgcl_synth.py'])
def test_bench_deployed_inference(benchmark, bench, config_path, name, batch):
    """The deployed DGCL model is the baseline network, so times should match."""
    cfg = load_config(config_path(name))
    model = bench.build_model(cfg, torch.device('cpu')).deploy().eval()
    data = model.data_preprocessor(bench.synthetic_batch(model, batch, bench.image_size(cfg)))

    def run():
        with torch.inference_mode():
            model(**data, mode='tensor')

    benchmark.extra_info.update(batch=batch, config=name)
    benchmark.pedantic(run, rounds=5 if batch > 1 else 20, warmup_rounds=2, iterations=1)


@pytest.mark.parametrize('mode', ['dense', 'sparse'])
@pytest.mark.parametrize('level', [0, 1, 2])
def test_bench_cheb_conv(benchmark, mode, level):
    """One ChebConv (K=3) forward + backward at batch 32 (64 graphs) on the hand graphs:
    the measurement behind ``ChebGCNDecoder(laplacian='dense')`` being the default."""
    from torch_geometric.nn import ChebConv

    from gclhand.hand import build_graph_hierarchy, build_hand_model
    from gclhand.models.decoders.cheb_gcn_decoder import (cheb_conv_dense,
                                                          dense_scaled_laplacian)
    torch.manual_seed(0)
    gh = build_graph_hierarchy(build_hand_model(dict(type='MANOHandModel', use_pca=True)))
    n, c = gh.num_nodes[level], (128, 64, 32)[level]  # the synth decoder's widths
    ei = torch.as_tensor(gh.edge_index[level]).long()
    ew = torch.as_tensor(gh.edge_weight[level]).float()
    conv = ChebConv(c, c, 3, normalization='sym')
    x = torch.randn(64, n, c, requires_grad=True)
    lap = dense_scaled_laplacian(ei, ew, n)

    def run():
        y = cheb_conv_dense(conv, x, lap) if mode == 'dense' else conv(x, ei, ew,
                                                                       lambda_max=2.0)
        y.sum().backward()

    benchmark.extra_info.update(num_nodes=n, channels=c, graphs=64)
    benchmark.pedantic(run, rounds=10, warmup_rounds=2, iterations=1)
