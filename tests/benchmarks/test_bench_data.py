"""Data-pipeline benchmark: dataset + full train pipeline + collate, 0 and 2 workers.

    pytest tests/benchmarks/test_bench_data.py --benchmark-only

Uses ``configs/dgcl_synth.py``'s ``train_dataloader`` (same pipeline as every synth config)
over 64 synthetic samples at 256 px generated once per session into a temp folder.
"""
import pytest

BATCH, BATCHES, NUM = 16, 8, 64


@pytest.fixture(scope='session')
def data_root(tmp_path_factory):
    from gclhand.datasets import ensure_synthetic_dataset
    root = str(tmp_path_factory.mktemp('bench_data'))
    ensure_synthetic_dataset(root, num_per_split=NUM, splits=('train', ), seed=0,
                             img_size=256, progress=False)
    return root


@pytest.mark.parametrize('workers', [0, 2])
def test_bench_data_pipeline(benchmark, bench, config_path, data_root, workers):
    from gclhand.cli.config import load_config
    cfg = load_config(config_path('dgcl_synth.py'))
    loader = bench.build_loader(cfg, data_root, BATCH, workers)
    state = dict(it=iter(loader))
    next(state['it'])  # worker start-up stays out of the timing

    def run():
        for _ in range(BATCHES):
            try:
                next(state['it'])
            except StopIteration:
                state['it'] = iter(loader)
                next(state['it'])

    benchmark.extra_info.update(workers=workers, samples_per_round=BATCH * BATCHES)
    benchmark.pedantic(run, rounds=3, warmup_rounds=0, iterations=1)
    benchmark.extra_info['samples_per_s'] = BATCH * BATCHES / benchmark.stats.stats.median
