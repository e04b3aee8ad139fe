"""Writing the synthetic two-hand dataset in the IntagHand layout, resumably.

Per split: ``{out}/{split}/img/{i}.jpg``, ``{out}/{split}/anno/{i}.pkl`` (see
:mod:`.labels`), IntagHand's auxiliary encoder targets ``mask/{i}.jpg``, ``dense/{i}.jpg``
and ``hms/{i}_{k}_{left|right}.jpg`` (:mod:`gclhand.datasets.aux_maps`; rendered with the
image, so they cost little) and, written last, ``{out}/{split}/meta.json``.  Each sample is drawn from
its own generator seeded by ``(seed, crc32(split), index)`` and rendered single-threaded,
so the files do not depend on the number of worker processes or the order they run in.

Resuming: ``.synth_progress.json`` records the generation settings when a split starts;
a rerun with the same settings keeps the samples already written (image then annotation,
each atomically, so an annotation implies its image) and produces only the missing ones.
A split whose ``meta.json`` matches the request is skipped.  Different settings regenerate
the split, deleting only files in a folder this generator created (never foreign data).
"""
import json
import logging
import multiprocessing as mp
import os
import os.path as osp
import re
import sys
import time
import zlib
from contextlib import contextmanager
from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
from mmengine.logging import print_log
from tqdm import tqdm

from gclhand.datasets.aux_maps import (AUX_KINDS, AUX_MAPS_FORMAT, HEATMAP_SIGMA, HEATMAP_SIZE,
                                       dense_vertex_colors, joint_heatmaps, mask_image,
                                       write_aux_maps)
from gclhand.datasets.geometry import project_points
from gclhand.datasets.io import dump_pickle_atomic, write_bytes_atomic
from .backgrounds import random_background
from gclhand.structures import HANDS
from .labels import make_annotation
from .renderer import render_mesh, shade
from .sampler import SceneSampler

__all__ = ['GENERATOR_VERSION', 'DEFAULT_SPLITS', 'DEFAULT_HAND_MODEL', 'SyntheticRenderer',
           'sample_rng', 'resolve_splits', 'generate_synthetic_dataset',
           'ensure_synthetic_dataset', 'read_meta', 'split_is_complete']

#: Bump when a change alters the generated images or labels (stored in meta.json).
GENERATOR_VERSION = '1.2'
DEFAULT_SPLITS = ('train', 'val', 'test')
#: The IntagHand annotation format: 45 PCA pose coefficients, ``flat_hand_mean=False``.
DEFAULT_HAND_MODEL = dict(type='MANOHandModel', use_pca=True)
META_FILE = 'meta.json'
PROGRESS_FILE = '.synth_progress.json'
_SAMPLE_RE = re.compile(r'^(\d+)\.(jpg|pkl)$')
_AUX_RE = re.compile(r'^(\d+)(?:_\d+_(?:left|right))?\.jpg$')


def sample_rng(seed: int, split: str, index: int, view: int = 0) -> np.random.Generator:
    """The random generator of a scene (``view=0``) or of one of its extra views, a pure
    function of ``(seed, split, index[, view])``."""
    key = [int(seed), zlib.crc32(split.encode()), int(index)]
    return np.random.default_rng(key + [int(view)] if view else key)


@contextmanager
def _single_thread() -> Iterator[None]:
    """Run torch single-threaded (reductions then sum in a fixed order: reproducible)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


class SyntheticRenderer:
    """Draws, renders and encodes synthetic samples (one per process).

    Args:
        img_size: side of the square image.
        hand_model: hand-model config (built with :func:`gclhand.hand.build_hand_model`).
        sampler: keyword arguments of :class:`~.sampler.SceneSampler`.
        jpeg_quality: JPEG quality of the written images.
        aux_maps: which of IntagHand's auxiliary maps to write (``'mask'``, ``'dense'``,
            ``'hms'``).
        views_per_scene: samples rendered from each sampled scene (``k``): sample ``i`` is
            view ``i % k`` of scene ``i // k``. View 0 is the scene as sampled; the others
            turn the posed, placed pair as a whole and draw a new camera, light and
            background (:meth:`~.sampler.SceneSampler.view`), so every sample follows the
            same distribution while the costly part (posing, placing the hands without
            interpenetration) is shared by ``k`` samples, like the views of a capture dome.
    """

    def __init__(self, img_size: int = 256, hand_model: Optional[dict] = None,
                 sampler: Optional[dict] = None, jpeg_quality: int = 95,
                 aux_maps: Sequence[str] = AUX_KINDS, views_per_scene: int = 1):
        from gclhand.hand import build_hand_model
        if int(views_per_scene) < 1:
            raise ValueError(f'views_per_scene must be >= 1, got {views_per_scene}')
        self.views_per_scene = int(views_per_scene)
        self.img_size, self.jpeg_quality = int(img_size), int(jpeg_quality)
        self.aux_maps = tuple(aux_maps)
        unknown = set(self.aux_maps) - set(AUX_KINDS)
        if unknown:
            raise ValueError(f'aux_maps: unknown kinds {sorted(unknown)}; choose from '
                             f'{AUX_KINDS}')
        self.hm = build_hand_model(dict(hand_model or DEFAULT_HAND_MODEL))
        self.sampler = SceneSampler(self.hm, img_size=self.img_size, **(sampler or {}))
        n_left = self.hm.template('left').shape[0]
        self.num_left_faces = int(self.hm.faces('left').shape[0])
        self.faces = torch.cat([self.hm.faces('left').long(),
                                self.hm.faces('right').long() + n_left])
        # one dense-correspondence colour per vertex index, the same for both hands
        colors = torch.as_tensor(dense_vertex_colors(self.hm.template('right').numpy()))
        self.dense_colors = torch.cat([colors, colors])

    def render(self, seed: int, split: str, index: int, return_mask: bool = False):
        """One sample: ``(image (H, W, 3) uint8 RGB, annotation dict)``, plus the (H, W) bool
        silhouette of both hands when ``return_mask``."""
        k = self.views_per_scene
        with _single_thread():
            out = dict(self._render_scene(seed, split, index // k, [index % k]))[index]
        return out[:3 if return_mask else 2]

    def _render_scene(self, seed: int, split: str, scene_idx: int, views: Sequence[int]):
        """``[(sample index, (img, anno, mask, aux))]`` of the given views of one scene."""
        rng = sample_rng(seed, split, scene_idx)
        scene = self.sampler.sample(rng)
        out = []
        for view in sorted(views):
            index = scene_idx * self.views_per_scene + view
            if view == 0:
                out.append((index, self._render(scene, rng, seed, split, index)))
            else:
                view_rng = sample_rng(seed, split, scene_idx, view)
                out.append((index, self._render(self.sampler.view(scene, view_rng), view_rng,
                                                seed, split, index)))
        return out

    def _render(self, scene, rng: np.random.Generator, seed: int, split: str, index: int):
        # the placed meshes are the hand model's output for the stored float32 parameters
        # (to ~1e-7 m, tested): no second hand-model forward
        R, t = scene.cam_R.astype(np.float64), scene.cam_t.astype(np.float64)
        verts = np.concatenate([scene.world[s][0] for s in HANDS]) @ R.T + t
        verts = torch.as_tensor(verts, dtype=torch.float32)
        colors = torch.as_tensor(np.concatenate([scene.colors['left'], scene.colors['right']]))
        bg = torch.as_tensor(random_background(rng, self.img_size))
        img, frags = render_mesh(verts, self.faces, torch.as_tensor(scene.cam_K), self.img_size,
                                 colors, background=bg, mode='smooth',
                                 light_dir=tuple(scene.light_dir), ambient=scene.ambient,
                                 diffuse=scene.diffuse)
        img = img.numpy()
        if rng.random() < 0.5:  # mild defocus
            img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 0.9))
        img = img + rng.normal(0, rng.uniform(0, 0.02), img.shape).astype(np.float32)
        img = (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)
        ys, xs = np.nonzero(frags.mask.numpy())
        bbox = (np.array([xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1])
                if len(xs) else np.zeros(4))
        anno = make_annotation(scene, index, split, seed, self.img_size, bbox,
                               GENERATOR_VERSION)
        aux = {}
        if 'mask' in self.aux_maps:
            aux['mask'] = mask_image(frags.face_idx.numpy(), self.num_left_faces)
        if 'dense' in self.aux_maps:
            dense = shade(frags, verts, self.faces, self.dense_colors, mode='none')
            aux['dense'] = dense.numpy()[..., ::-1]  # stored in OpenCV's array order
        if 'hms' in self.aux_maps:
            joints = np.stack([scene.world[s][1] for s in HANDS]) @ R.T + t
            uv = project_points(joints, scene.cam_K.astype(np.float64))
            aux['heatmaps'] = joint_heatmaps(uv, (self.img_size, self.img_size),
                                             HEATMAP_SIZE, HEATMAP_SIGMA)
        return img, anno, frags.mask, aux

    def encode(self, img: np.ndarray) -> bytes:
        ok, buf = cv2.imencode('.jpg', cv2.cvtColor(img, cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        if not ok:
            raise RuntimeError('OpenCV failed to encode a JPEG image')
        return buf.tobytes()

    def write(self, split_dir: str, seed: int, split: str, scene_idx: int,
              views: Sequence[int] = (0, )) -> int:
        """Render the given views of one scene and write each sample's image and auxiliary
        maps, then its annotation (which marks the sample complete); returns their number."""
        with _single_thread():
            samples = self._render_scene(seed, split, scene_idx, views)
        for index, (img, anno, _, aux) in samples:
            write_bytes_atomic(self.encode(img), osp.join(split_dir, 'img', f'{index}.jpg'))
            write_aux_maps(split_dir, index, quality=self.jpeg_quality, **aux)
            dump_pickle_atomic(anno, osp.join(split_dir, 'anno', f'{index}.pkl'))
        return len(samples)


# ---------------------------------------------------------------------------- workers
_WORKER: Optional[SyntheticRenderer] = None


def _init_worker(kwargs: dict) -> None:
    global _WORKER
    torch.set_num_threads(1)
    _WORKER = SyntheticRenderer(**kwargs)


def _write(renderer: 'SyntheticRenderer', task: tuple) -> int:
    """Write one scene task ``(split_dir, seed, split, scene, views, views_per_scene)``."""
    *args, k = task
    renderer.views_per_scene = k
    return renderer.write(*args)


def _work(task: tuple) -> int:
    return _write(_WORKER, task)


def _views_of(views_per_scene: Union[int, Mapping[str, int]], split: str) -> int:
    """Views per scene of ``split`` (an int for all splits, or a dict; absent: 1)."""
    k = views_per_scene.get(split, 1) if isinstance(views_per_scene, Mapping) \
        else views_per_scene
    if int(k) < 1:
        raise ValueError(f'views_per_scene must be >= 1, got {k} for split {split!r}')
    return int(k)


# ---------------------------------------------------------------------------- bookkeeping
def resolve_splits(num: Union[int, Mapping[str, int], None],
                   splits: Union[str, Sequence[str], Mapping[str, Union[int, float]], None]
                   ) -> Dict[str, int]:
    """Samples per split from the flexible ``num`` / ``splits`` arguments.

    * ``splits`` a name (``'train'``), comma list (``'train,val'``) or sequence: ``num``
      samples each (``num`` may also be a dict split -> count).
    * ``splits`` a dict: an int value is that split's count, a float in (0, 1] a fraction
      of ``num`` (the total), e.g. ``{'train': 0.8, 'val': 0.1, 'test': 0.1}``.
    """
    splits = DEFAULT_SPLITS if splits is None else splits
    if isinstance(splits, str):
        splits = [s.strip() for s in splits.split(',') if s.strip()]
    if isinstance(splits, Mapping):
        out = {}
        for name, v in splits.items():
            if isinstance(v, float) and not v.is_integer():
                if not 0 < v <= 1 or not isinstance(num, int):
                    raise ValueError(f"splits['{name}'] = {v}: a fraction must be in (0, 1] "
                                     'and needs an integer total num')
                out[name] = int(round(v * num))
            else:
                out[name] = int(v)
    elif isinstance(num, Mapping):
        out = {name: int(num[name]) for name in splits}
    else:
        if num is None:
            raise ValueError('give the number of samples: num=<int per split> '
                             "(or splits={'train': count, ...})")
        out = {name: int(num) for name in splits}
    bad = [f'{k}={v}' for k, v in out.items() if v < 0 or not re.match(r'^[\w.-]+$', k)]
    if not out or bad:
        raise ValueError(f'invalid split counts/names {bad or out}: need names of letters, '
                         'digits, _ . - and counts >= 0')
    return out


def _settings(seed: int, img_size: int, hand_hash: str, sampler: Optional[dict],
              jpeg_quality: int, aux_maps: Sequence[str] = AUX_KINDS,
              views_per_scene: Union[int, Mapping[str, int]] = 1) -> dict:
    """What determines each sample (the count does not: samples are seeded per index)."""
    settings = dict(seed=int(seed), img_size=int(img_size),
                    generator_version=GENERATOR_VERSION, hand_model_hash=hand_hash,
                    jpeg_quality=int(jpeg_quality),
                    sampler=json.loads(json.dumps(sampler or {}, sort_keys=True)),
                    aux_maps=sorted(aux_maps),
                    views_per_scene=json.loads(json.dumps(views_per_scene, sort_keys=True)))
    if aux_maps:  # maps in an older format (e.g. swapped mask channels) are made anew
        settings['aux_maps_format'] = AUX_MAPS_FORMAT
    return settings


def read_meta(split_dir: str) -> Optional[dict]:
    """``{split_dir}/meta.json`` or ``None`` when absent/unreadable."""
    try:
        with open(osp.join(split_dir, META_FILE)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def split_is_complete(split_dir: str, count: int, settings: dict) -> bool:
    """True when ``meta.json`` says this split holds ``count`` samples made with ``settings``."""
    meta = read_meta(split_dir)
    return (meta is not None and meta.get('count') == count
            and all(meta.get(k) == v for k, v in settings.items()))


def _existing(split_dir: str, sub: str, ext: str) -> Dict[int, str]:
    folder = osp.join(split_dir, sub)
    if not osp.isdir(folder):
        return {}
    return {int(m.group(1)): osp.join(folder, name) for name in os.listdir(folder)
            for m in [_SAMPLE_RE.match(name)] if m and m.group(2) == ext}


def _remove_aux(split_dir: str, keep_below: int) -> None:
    """Delete auxiliary-map files of samples ``>= keep_below`` (all with 0)."""
    for kind in AUX_KINDS:
        folder = osp.join(split_dir, kind)
        if not osp.isdir(folder):
            continue
        for name in os.listdir(folder):
            m = _AUX_RE.match(name)
            if m and int(m.group(1)) >= keep_below:
                os.remove(osp.join(folder, name))


def _write_json(path: str, obj: dict) -> None:
    write_bytes_atomic(json.dumps(obj, indent=1, sort_keys=True).encode(), path)


def _prepare_split(split_dir: str, count: int, settings: dict) -> List[int]:
    """Make ``split_dir`` ready for generation; return the indices still to generate."""
    ours = osp.exists(osp.join(split_dir, PROGRESS_FILE)) or read_meta(split_dir) is not None
    annos, imgs = _existing(split_dir, 'anno', 'pkl'), _existing(split_dir, 'img', 'jpg')
    if (annos or imgs) and not ours:
        raise FileExistsError(
            f"'{split_dir}' holds img/ or anno/ files that gclhand's synthetic generator did "
            f'not write (no {META_FILE} or {PROGRESS_FILE}); refusing to overwrite them. '
            'Choose an empty output folder.')
    progress = None
    if osp.exists(osp.join(split_dir, PROGRESS_FILE)):
        with open(osp.join(split_dir, PROGRESS_FILE)) as f:
            progress = json.load(f)
    meta = read_meta(split_dir)
    old = {k: v for k, v in (progress or meta or {}).items() if k in settings}
    same = old == settings
    if osp.exists(osp.join(split_dir, META_FILE)):
        os.remove(osp.join(split_dir, META_FILE))   # incomplete from here until written
    if not same and (annos or imgs):
        changed = ', '.join(f'{k}: {old.get(k)!r} -> {v!r}' for k, v in settings.items()
                            if old.get(k) != v)
        print_log(f"'{split_dir}' holds {len(annos)} synthetic samples made with other "
                  f'settings ({changed}); deleting them and generating anew',
                  logger='current', level=logging.WARNING)
    if not same:                                      # other settings: start over
        for path in list(annos.values()) + list(imgs.values()):
            os.remove(path)
        annos, imgs = {}, {}
        _remove_aux(split_dir, 0)
    else:
        _remove_aux(split_dir, count)
    _write_json(osp.join(split_dir, PROGRESS_FILE), settings)
    for idx, path in list(annos.items()) + list(imgs.items()):
        if idx >= count:                              # the split got smaller
            os.remove(path)
    return [i for i in range(count) if i not in annos or i not in imgs]


def _hand_model_hash(hand_model: Optional[dict]) -> str:
    from gclhand.hand import build_hand_model
    return str(build_hand_model(dict(hand_model or DEFAULT_HAND_MODEL)).content_hash)


def generate_synthetic_dataset(out_dir: str,
                               num: Union[int, Mapping[str, int], None] = None,
                               seed: int = 0,
                               workers: int = 1,
                               img_size: int = 256,
                               splits: Union[str, Sequence[str], Mapping, None] = DEFAULT_SPLITS,
                               progress: bool = True,
                               hand_model: Optional[dict] = None,
                               sampler: Optional[dict] = None,
                               jpeg_quality: int = 95,
                               aux_maps: Sequence[str] = AUX_KINDS,
                               views_per_scene: Union[int, Mapping[str, int]] = 1,
                               start_method: Optional[str] = None) -> Dict[str, str]:
    """Generate (or finish, or verify) the synthetic two-hand dataset.

    Args:
        out_dir: root folder; split ``s`` goes to ``{out_dir}/{s}/{img,anno}/``.
        num: samples per split (int or dict), or the total when ``splits`` holds fractions.
        seed: dataset seed; sample ``i`` of split ``s`` depends only on ``(seed, s, i)``.
        workers: processes rendering in parallel (results do not depend on it).
        img_size: side of the square images (256 at paper scale, 64 in fast tests).
        splits: split name(s) or ``{split: count | fraction}`` (see :func:`resolve_splits`).
        progress: show a tqdm progress bar.
        hand_model: hand-model config (default ``MANOHandModel`` with ``use_pca=True``).
        sampler: keyword arguments of :class:`~.sampler.SceneSampler` (pose/shape/placement/
            camera/skin settings); part of the settings recorded in ``meta.json``.
        jpeg_quality: JPEG quality.
        aux_maps: IntagHand's auxiliary maps to write, a subset of ``('mask', 'dense',
            'hms')`` (part of the recorded settings).
        views_per_scene: samples rendered from each sampled scene (see
            :class:`SyntheticRenderer`), one number or a dict split -> number (e.g. several
            views per scene for training and independent test samples); part of the
            recorded settings.
        start_method: multiprocessing start method (default ``fork`` on Linux, else
            ``spawn``).

    Returns:
        dict split -> split folder.
    """
    counts = resolve_splits(num, splits)
    settings = _settings(seed, img_size, _hand_model_hash(hand_model), sampler, jpeg_quality,
                         aux_maps, views_per_scene)
    views = {split: _views_of(views_per_scene, split) for split in counts}
    todo, dirs, num_todo = [], {}, 0
    for split, count in counts.items():
        split_dir = dirs[split] = osp.join(out_dir, split)
        if split_is_complete(split_dir, count, settings):
            continue
        os.makedirs(osp.join(split_dir, 'img'), exist_ok=True)
        os.makedirs(osp.join(split_dir, 'anno'), exist_ok=True)
        for kind in aux_maps:
            os.makedirs(osp.join(split_dir, kind), exist_ok=True)
        missing = _prepare_split(split_dir, count, settings)
        num_todo += len(missing)
        k, scenes = views[split], {}
        for i in missing:                 # one task per scene: its views share the posing
            scenes.setdefault(i // k, []).append(i % k)
        todo.extend((split_dir, int(seed), split, scene, tuple(vs), k)
                    for scene, vs in sorted(scenes.items()))

    kwargs = dict(img_size=img_size, hand_model=hand_model, sampler=sampler,
                  jpeg_quality=jpeg_quality, aux_maps=tuple(aux_maps))
    bar = tqdm(total=num_todo, desc=f'synthetic hands -> {out_dir}', unit='img',
               disable=not progress or not todo, dynamic_ncols=True)
    if todo and workers <= 1:
        renderer = SyntheticRenderer(**kwargs)
        for task in todo:
            bar.update(_write(renderer, task))
    elif todo:
        method = start_method or ('fork' if sys.platform.startswith('linux') else 'spawn')
        ctx = mp.get_context(method)
        with ctx.Pool(min(workers, len(todo)), initializer=_init_worker,
                      initargs=(kwargs, )) as pool:
            for n in pool.imap_unordered(_work, todo, chunksize=2):
                bar.update(n)
    bar.close()

    for split, count in counts.items():
        split_dir = dirs[split]
        if split_is_complete(split_dir, count, settings):
            continue
        meta = dict(settings, count=count, split=split)
        _write_json(osp.join(split_dir, META_FILE), meta)   # last: marks the split complete
        os.remove(osp.join(split_dir, PROGRESS_FILE))
    return dirs


def ensure_synthetic_dataset(root: str,
                             num_per_split: Union[int, Mapping[str, int], None] = None,
                             seed: int = 0,
                             splits: Union[str, Sequence[str], Mapping, None] = DEFAULT_SPLITS,
                             img_size: int = 256,
                             workers: int = 1,
                             progress: bool = True,
                             timeout: float = 24 * 3600.0,
                             poll: float = 2.0,
                             **kwargs) -> str:
    """Make sure ``root`` holds the requested synthetic dataset, generating it once.

    Cheap when the data is there (reads each split's ``meta.json``).  Otherwise process
    rank 0 (MMEngine's ``get_dist_info``) generates or resumes it while holding a file lock
    ``{root}/.synth.lock`` - so concurrent jobs on one machine do not both write - and the
    other ranks poll the split folders until rank 0 has written every ``meta.json``.

    Args:
        root: dataset root; the splits go to ``{root}/{split}``.
        num_per_split: samples per split (int or dict split -> count).
        seed, splits, img_size, workers, progress: see :func:`generate_synthetic_dataset`.
        timeout: seconds the non-zero ranks wait before raising :class:`TimeoutError`.
        poll: seconds between their checks.
        **kwargs: more :func:`generate_synthetic_dataset` arguments (``hand_model``,
            ``sampler``, ``jpeg_quality``, ``aux_maps``, ``views_per_scene``).

    Returns:
        ``root``.
    """
    from filelock import FileLock
    from mmengine.dist import get_dist_info

    counts = resolve_splits(num_per_split, splits)
    settings = _settings(seed, img_size, _hand_model_hash(kwargs.get('hand_model')),
                         kwargs.get('sampler'), kwargs.get('jpeg_quality', 95),
                         kwargs.get('aux_maps', AUX_KINDS), kwargs.get('views_per_scene', 1))

    def complete() -> bool:
        return all(split_is_complete(osp.join(root, s), c, settings) for s, c in counts.items())

    if complete():
        return root
    rank, _ = get_dist_info()
    if rank == 0:
        os.makedirs(root, exist_ok=True)
        with FileLock(osp.join(root, '.synth.lock')):
            if not complete():   # another job may have finished it while we waited
                generate_synthetic_dataset(root, counts, seed=seed, workers=workers,
                                           img_size=img_size, splits=list(counts),
                                           progress=progress, **kwargs)
        return root
    start = time.monotonic()
    while not complete():
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"rank {rank}: waited {timeout:.0f} s for rank 0 to generate "
                               f"the synthetic dataset in '{root}' (no complete meta.json in "
                               f'{sorted(counts)}); check rank 0\'s log')
        time.sleep(poll)
    return root

