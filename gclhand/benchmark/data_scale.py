"""The training data pipeline at InterHand2.6M's scale and the paper's 256 px resolution.

    gclhand benchmark --preset data-scale --data-root DIR [CONFIG] [--index-size 366000]
                      [--source-size 256] [--workers 2] [--json OUT]

Can the loader feed a GPU that trains at >= 1,300 samples/s?  On an IntagHand-layout index
of ``index_size`` samples (InterHand2.6M's training split has 366K, HandDGCL section 4)
this measures, in fresh interpreters so that memory figures are the dataset's own:

1. ``startup``: the config's training dataset with ``precompute_gt=False`` (the large-split
   mode of :class:`~gclhand.datasets.InterHandIntagDataset`): construction time and
   resident memory (RSS) before / after, peak RSS, size of the packed data list.
2. ``per_worker`` (same process, afterwards): what one loader worker does per sample,
   single-threaded like a DataLoader worker (``torch.set_num_threads(1)``, one OpenCV
   thread): annotation read + labels (``get_data_info``), then each transform of the
   pipeline (JPEG decode, affine crop, colour jitter, resize, packing), in ms per sample,
   and the samples/s that gives.
3. ``loader``: the config's ``train_dataloader`` (batch, collate) with ``workers``
   processes: samples/s (per worker too), worker start-up, and memory of the main process
   and each worker (RSS; PSS and USS, which count pages shared after ``fork`` once).

The index: ``source_size`` real synthetic samples at 256 px (the generator's, with the
annotation fields of a converted InterHand2.6M sample) are generated once under
``DATA_ROOT/source`` and reused for all ``index_size`` indices through hard links
(``DATA_ROOT/index_<N>/train/{img,anno}/{i}`` -> source ``i % source_size``; symlinks
where the file system has no hard links).  The loader therefore reads real JPEG and pickle
files through the real code path, but the page cache holds only ``source_size`` distinct
files: the figures are CPU and memory costs, not disk bandwidth.

Goals (issue "Performance at scale"): >= 100 samples/s per worker, start-up <= 30 s and
<= 2 GB resident for the 366K index; ``goals`` reports each as met or not.
"""
import copy
import json
import os
import os.path as osp
import random
import resource
import sys
import time
from typing import Dict

from .process import in_fresh_interpreter

#: InterHand2.6M training samples in the IntagHand selection ("366K", HandDGCL section 4)
INTERHAND_TRAIN_SAMPLES = 366_000
GOALS = dict(per_worker_samples_per_s=100.0, startup_s=30.0, startup_rss_gb=2.0)


# ----------------------------------------------------------------------------- the index
def build_scaled_index(source_split: str, dst_root: str, num: int,
                       split: str = 'train') -> dict:
    """``dst_root/{split}/{img,anno}/{i}`` for ``i < num`` as links to the samples of
    ``source_split`` (an IntagHand-layout split folder), sample ``i % K``.

    Resumable and idempotent: ``dst_root/{split}/index.json`` records what was built; an
    index of the same size and source is reused as it is.

    Returns:
        ``dict(num, source_samples, link, seconds, anno_bytes, img_bytes)`` (mean file
        sizes of the source).
    """
    src = {sub: sorted(int(f.split('.')[0]) for f in os.listdir(osp.join(source_split, sub))
                       if f.split('.')[0].isdigit())
           for sub in ('img', 'anno')}
    ids = sorted(set(src['img']) & set(src['anno']))
    if not ids:
        raise FileNotFoundError(f"no samples in '{source_split}' (expected img/{{i}}.jpg "
                                'and anno/{i}.pkl)')
    split_dir = osp.join(dst_root, split)
    marker = osp.join(split_dir, 'index.json')
    sizes = dict(anno_bytes=_mean_size(source_split, 'anno', ids, '.pkl'),
                 img_bytes=_mean_size(source_split, 'img', ids, '.jpg'))
    if osp.isfile(marker):
        with open(marker) as f:
            meta = json.load(f)
        if meta.get('num') == num and meta.get('source') == osp.abspath(source_split) and \
                meta.get('source_samples') == len(ids):
            return dict(meta, seconds=0.0, reused=True, **sizes)
    t = time.perf_counter()
    link = 'hard'
    for sub, ext in (('img', '.jpg'), ('anno', '.pkl')):
        os.makedirs(osp.join(split_dir, sub), exist_ok=True)
        present = set(os.listdir(osp.join(split_dir, sub)))
        for i in range(num):
            name = f'{i}{ext}'
            if name in present:
                continue
            target = osp.join(source_split, sub, f'{ids[i % len(ids)]}{ext}')
            dst = osp.join(split_dir, sub, name)
            if link == 'hard':
                try:
                    os.link(target, dst)
                    continue
                except OSError:
                    link = 'symbolic'  # e.g. across file systems
            os.symlink(osp.abspath(target), dst)
    meta = dict(num=num, source=osp.abspath(source_split), source_samples=len(ids), link=link)
    with open(marker, 'w') as f:
        json.dump(meta, f)
    return dict(meta, seconds=time.perf_counter() - t, reused=False, **sizes)


def _mean_size(split_dir: str, sub: str, ids, ext: str) -> float:
    return sum(os.path.getsize(osp.join(split_dir, sub, f'{i}{ext}')) for i in ids) / len(ids)


# --------------------------------------------------------------------- memory helpers
def _rss_mb() -> float:
    """Current resident set size of this process, MiB (``/proc/self/status`` VmRSS)."""
    import psutil
    return psutil.Process().memory_info().rss / 2**20


def _peak_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == 'darwin' else rss / 2**10


def _memory(pid: int) -> dict:
    """RSS, PSS, USS of one process in MiB (PSS/USS need Linux; else ``None``)."""
    import psutil
    p = psutil.Process(pid)
    try:
        full = p.memory_full_info()
        return dict(rss_mb=full.rss / 2**20, pss_mb=getattr(full, 'pss', 0) / 2**20 or None,
                    uss_mb=full.uss / 2**20)
    except (psutil.AccessDenied, AttributeError):
        return dict(rss_mb=p.memory_info().rss / 2**20, pss_mb=None, uss_mb=None)


# --------------------------------------------------- measurements (fresh interpreters)
def _import_library() -> float:
    t = time.perf_counter()
    from gclhand.apis import register_all_modules
    register_all_modules()
    return time.perf_counter() - t


def measure_startup(dataset_cfg: dict, keep: bool = False) -> dict:
    """Build the dataset; time and memory (run it in a fresh interpreter).  ``keep``: also
    return the dataset under ``'dataset'``."""
    import_s = _import_library()
    from gclhand.registry import DATASETS
    rss0 = _rss_mb()
    t = time.perf_counter()
    ds = DATASETS.build(copy.deepcopy(dataset_cfg))
    startup = time.perf_counter() - t
    rss1 = _rss_mb()
    data_bytes = getattr(ds, 'data_bytes', None)
    r = dict(samples=len(ds), startup_s=startup, import_s=import_s,
             rss_before_mb=rss0, rss_after_mb=rss1, rss_dataset_mb=rss1 - rss0,
             peak_rss_mb=_peak_rss_mb(),
             packed_data_list_mb=None if data_bytes is None else data_bytes.nbytes / 2**20)
    if keep:
        r['dataset'] = ds
    return r


def measure_per_worker(dataset_cfg: dict, num_samples: int, seed: int = 0,
                       dataset=None) -> dict:
    """Per-sample cost by stage, one thread (run it in a fresh interpreter, or pass the
    ``dataset`` built by :func:`measure_startup` there)."""
    import cv2
    import torch
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    if dataset is None:
        _import_library()
        from gclhand.registry import DATASETS
        dataset = DATASETS.build(copy.deepcopy(dataset_cfg))
    ds = dataset
    transforms = list(ds.pipeline.transforms)
    names = ['get_data_info (annotation + labels)'] + [type(t).__name__ for t in transforms]
    rng = random.Random(seed)
    indices = [rng.randrange(len(ds)) for _ in range(num_samples + 5)]
    totals = dict.fromkeys(names, 0.0)
    for n, idx in enumerate(indices):
        stage_t = []
        t = time.perf_counter()
        results = ds.get_data_info(idx)
        stage_t.append(time.perf_counter() - t)
        for tr in transforms:
            t = time.perf_counter()
            results = tr(results)
            stage_t.append(time.perf_counter() - t)
        if n >= 5:  # the first few warm caches up
            for name, dt in zip(names, stage_t):
                totals[name] += dt
    ms = {k: 1e3 * v / num_samples for k, v in totals.items()}
    total_ms = sum(ms.values())
    return dict(samples=num_samples, stage_ms=ms, total_ms=total_ms,
                samples_per_s=1e3 / total_ms)


def measure_dataset(dataset_cfg: dict, num_samples: int, seed: int = 0) -> dict:
    """:func:`measure_startup`, then :func:`measure_per_worker` on the same dataset (one
    fresh interpreter: the start-up memory is measured before anything else runs)."""
    startup = measure_startup(dataset_cfg, keep=True)
    ds = startup.pop('dataset')
    return dict(startup=startup,
                per_worker=measure_per_worker(dataset_cfg, num_samples, seed, dataset=ds))


def measure_loader(dataloader_cfg: dict, workers: int, batches: int) -> dict:
    """The training loader with ``workers`` processes (run it in a fresh interpreter)."""
    import psutil
    _import_library()
    from mmengine.runner import Runner
    dl = copy.deepcopy(dataloader_cfg)
    dl['num_workers'] = workers
    dl['persistent_workers'] = workers > 0
    dl['pin_memory'] = False  # no GPU here; pinning is a copy on the main process
    rss0 = _rss_mb()
    loader = Runner.build_dataloader(dl, seed=0)
    t = time.perf_counter()
    it = iter(loader)
    next(it)
    startup = time.perf_counter() - t
    t = time.perf_counter()
    for _ in range(batches):
        try:
            next(it)
        except StopIteration:
            it = iter(loader)
            next(it)
    dt = time.perf_counter() - t
    me = psutil.Process()
    procs = {'main': _memory(me.pid)}
    for k, child in enumerate(me.children(recursive=True)):
        procs[f'worker{k}'] = _memory(child.pid)
    total = {key: sum(p[key] for p in procs.values()) if all(p[key] is not None for p in
                                                              procs.values()) else None
             for key in ('rss_mb', 'pss_mb', 'uss_mb')}
    sps = batches * loader.batch_size / dt
    del it
    return dict(workers=workers, batch_size=loader.batch_size, batches=batches,
                samples_per_s=sps, samples_per_s_per_worker=sps / max(workers, 1),
                startup_s=startup, main_rss_before_mb=rss0, memory=procs,
                memory_total=total)


# ------------------------------------------------------------------------------ driver
def run_data_scale(cfg, data_root: str, index_size: int = INTERHAND_TRAIN_SAMPLES,
                   source_size: int = 256, workers: int = 2, per_worker_samples: int = 200,
                   loader_batches: int = 20, seed: int = 0, source_workers: int = 1,
                   progress: bool = True) -> Dict:
    """Build (or reuse) the index under ``data_root`` and measure it (module docstring).

    Args:
        cfg: a config whose ``train_dataloader`` uses an IntagHand-layout dataset
            (``configs/dgcl_interhand.py``).
        data_root: where the source samples and the index go.
        index_size: samples in the index.
        source_size: distinct real samples behind it.
        workers: loader processes of the ``loader`` measurement.
        per_worker_samples: samples timed in ``per_worker``.
        loader_batches: batches timed in ``loader``.
        source_workers: processes generating the source samples.
    """
    from gclhand.datasets import ensure_synthetic_dataset
    source_root = osp.join(data_root, 'source')
    synth = dict(cfg.train_dataloader.dataset.get('synthetic') or {})
    t = time.perf_counter()
    ensure_synthetic_dataset(source_root, num_per_split={'train': source_size},
                             splits=('train', ), seed=synth.get('seed', seed), img_size=256,
                             workers=source_workers, progress=progress)
    source_s = time.perf_counter() - t
    index_root = osp.join(data_root, f'index_{index_size}')
    index = build_scaled_index(osp.join(source_root, 'train'), index_root, index_size)
    index['source_generation_s'] = source_s
    dl_cfg = copy.deepcopy(cfg.train_dataloader.to_dict())  # plain dicts: sent to children
    ds_cfg = dl_cfg['dataset']
    ds_cfg.update(data_root=index_root, synthetic=None, precompute_gt=False)
    r = dict(index=index, dataset=ds_cfg['type'], image_size=256,
             pipeline=[t['type'] for t in ds_cfg.get('pipeline', [])])
    r.update(in_fresh_interpreter(measure_dataset, ds_cfg, per_worker_samples, seed))
    r['loader'] = in_fresh_interpreter(measure_loader, dl_cfg, workers, loader_batches)
    r['goals'] = dict(
        per_worker_samples_per_s=dict(goal=GOALS['per_worker_samples_per_s'],
                                      value=r['per_worker']['samples_per_s']),
        startup_s=dict(goal=GOALS['startup_s'], value=r['startup']['startup_s']),
        startup_rss_gb=dict(goal=GOALS['startup_rss_gb'],
                            value=r['startup']['rss_after_mb'] / 1024))
    for name, g in r['goals'].items():
        g['met'] = g['value'] >= g['goal'] if name.endswith('per_s') else g['value'] <= g['goal']
    return r


def print_data_scale(r: dict) -> None:
    idx, st, pw, ld = r['index'], r['startup'], r['per_worker'], r['loader']
    print(f"\n== data pipeline at scale: {idx['num']:,} indices over {idx['source_samples']} "
          f"real 256 px samples ({idx['link']} links; anno {idx['anno_bytes']:.0f} B, "
          f"JPEG {idx['img_bytes'] / 1024:.1f} KiB mean)")
    print(f"start-up ({r['dataset']}, precompute_gt=False): {st['startup_s']:.2f} s, "
          f"RSS {st['rss_before_mb']:.0f} -> {st['rss_after_mb']:.0f} MiB "
          f"(+{st['rss_dataset_mb']:.0f}), peak {st['peak_rss_mb']:.0f} MiB, packed data "
          f"list {st['packed_data_list_mb']:.1f} MiB")
    print(f"per worker (1 thread): {pw['samples_per_s']:.1f} samples/s, "
          f"{pw['total_ms']:.2f} ms/sample:")
    for k, v in pw['stage_ms'].items():
        print(f'  {v:7.2f} ms  {k}')
    mem = ld['memory_total']
    print(f"loader ({ld['workers']} workers, batch {ld['batch_size']}): "
          f"{ld['samples_per_s']:.1f} samples/s ({ld['samples_per_s_per_worker']:.1f} per "
          f"worker), start-up {ld['startup_s']:.1f} s; memory RSS {mem['rss_mb']:.0f} MiB, "
          f"PSS {mem['pss_mb'] or float('nan'):.0f} MiB over "
          f"{len(ld['memory'])} processes")
    for name, g in r['goals'].items():
        print(f"goal {name}: {g['value']:.2f} vs {g['goal']} -> "
              f"{'met' if g['met'] else 'MISSED'}")


__all__ = ['GOALS', 'INTERHAND_TRAIN_SAMPLES', 'build_scaled_index', 'measure_dataset',
           'measure_loader', 'measure_per_worker', 'measure_startup', 'print_data_scale',
           'run_data_scale']
