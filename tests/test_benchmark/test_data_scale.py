"""The data pipeline at scale (gclhand.benchmark.data_scale): the linked index reuses the
source files, and the measurement runs end to end on a small index through the same code
(the 366K figures in docs/benchmarks.md come from `--preset data-scale`)."""
import json
import os
import os.path as osp

import pytest

from gclhand.benchmark.data_scale import build_scaled_index, run_data_scale


def _source(tmp_path, n=3):
    split = tmp_path / 'src' / 'train'
    for sub, ext in (('img', '.jpg'), ('anno', '.pkl')):
        (split / sub).mkdir(parents=True)
        for i in range(n):
            (split / sub / f'{i}{ext}').write_bytes(f'{sub}{i}'.encode() * (i + 1))
    return str(split)


def test_index_links_every_sample_to_source_modulo(tmp_path):
    src = _source(tmp_path)
    dst = str(tmp_path / 'index')
    meta = build_scaled_index(src, dst, 7)
    assert meta['num'] == 7 and meta['source_samples'] == 3 and meta['link'] == 'hard'
    for i in range(7):
        for sub, ext in (('img', '.jpg'), ('anno', '.pkl')):
            assert osp.samefile(osp.join(dst, 'train', sub, f'{i}{ext}'),
                                osp.join(src, sub, f'{i % 3}{ext}'))
    assert sorted(os.listdir(osp.join(dst, 'train', 'anno'))) == sorted(
        f'{i}.pkl' for i in range(7))
    assert json.load(open(osp.join(dst, 'train', 'index.json')))['num'] == 7
    assert build_scaled_index(src, dst, 7)['reused']  # the same index is kept
    os.remove(osp.join(dst, 'train', 'img', '5.jpg'))  # an interrupted build resumes
    meta = build_scaled_index(src, dst, 9)
    assert not meta['reused'] and osp.samefile(osp.join(dst, 'train', 'img', '5.jpg'),
                                               osp.join(src, 'img', '2.jpg'))
    assert len(os.listdir(osp.join(dst, 'train', 'img'))) == 9


def test_index_needs_samples(tmp_path):
    (tmp_path / 'empty' / 'img').mkdir(parents=True)
    (tmp_path / 'empty' / 'anno').mkdir()
    with pytest.raises(FileNotFoundError, match='no samples'):
        build_scaled_index(str(tmp_path / 'empty'), str(tmp_path / 'i'), 5)


def test_data_scale_small_index(tmp_path):
    """40 indices over 4 real 256 px samples through the paper config's training dataset
    (precompute_gt=False) and loader, each measurement in a fresh interpreter."""
    from gclhand.apis import register_all_modules
    from gclhand.cli.config import load_config
    register_all_modules()
    cfg = load_config('gclhand::dgcl_interhand.py')
    cfg.train_dataloader.batch_size = 4
    r = run_data_scale(cfg, str(tmp_path), index_size=40, source_size=4, workers=1,
                       per_worker_samples=5, loader_batches=2, progress=False)
    assert r['index']['num'] == 40 and r['index']['source_samples'] == 4
    st = r['startup']
    assert st['samples'] == 40 and st['startup_s'] > 0
    assert st['packed_data_list_mb'] * 2**20 / 40 < 64  # file indices only
    stages = r['per_worker']['stage_ms']
    assert list(stages)[1:] == ['LoadHandImage', 'RandomHandAffine', 'ColorJitter',
                                'ResizeHand', 'PackHandInputs']
    assert r['per_worker']['samples_per_s'] == pytest.approx(1e3 / sum(stages.values()))
    ld = r['loader']
    assert ld['workers'] == 1 and set(ld['memory']) == {'main', 'worker0'}
    assert ld['samples_per_s'] > 0 and ld['memory_total']['rss_mb'] > 0
    assert set(r['goals']) == {'per_worker_samples_per_s', 'startup_s', 'startup_rss_gb'}
