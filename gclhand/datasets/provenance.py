"""Which hand model a prepared split belongs to, and refusing to read it with another one.

An IntagHand-layout annotation stores the finger pose as 45 *PCA coefficients* of the hand
model that converted it, so its labels are only right when the same model decodes it:
converting with the procedural hand and loading with real MANO (or with another
MANO-format model) moves the joints by centimetres without any error.  Each prepared split
therefore records the hand model's identity (``content_hash`` and kind) in a small JSON
file beside ``anno/``:

- ``{split}/conversion.json``: written by :func:`gclhand.datasets.interhand_prepare.
  prepare_interhand` before the first sample (``source``, ``hand_model_hash``,
  ``hand_model_kind``, ``hand_model_dir``, the crop settings and, when finished, what was
  selected and dropped);
- ``{split}/meta.json``: written by the synthetic generator (``hand_model_hash``).

:func:`check_hand_model` compares it with the model a dataset loads and raises
:class:`HandModelMismatchError` (one line: which model converted it, which is loaded, what
to do).  Data without a record (e.g. IntagHand's own preprocessing, made with real MANO)
cannot be checked; when such data, or InterHand2.6M data, is read with the procedural hand
a warning is logged once per process (:func:`warn_procedural_on_real_data`).
"""
import json
import logging
import os.path as osp
from typing import Optional

from mmengine.logging import print_log

from gclhand.utils.build import ConfigError
from .io import atomic_write

CONVERSION_FILE = 'conversion.json'
SYNTH_META_FILE = 'meta.json'
#: ``source`` of data converted from the official InterHand2.6M release.
INTERHAND_SOURCE = 'InterHand2.6M'

_WARNED: set = set()


class HandModelMismatchError(ConfigError):
    """A prepared split was converted with another hand model than the one loading it."""


def hand_model_identity(hm) -> dict:
    """``hand_model_hash``, ``hand_model_kind`` (``'procedural'`` / ``'MANO'``) and
    ``hand_model_dir`` of a built hand model."""
    return dict(hand_model_hash=str(hm.content_hash),
                hand_model_kind='procedural' if getattr(hm, 'is_procedural', False) else 'MANO',
                hand_model_dir=str(getattr(hm, 'model_dir', '')))


def read_split_record(split_dir: str) -> Optional[dict]:
    """The split's ``conversion.json`` (else the synthetic ``meta.json``), or ``None``."""
    for name in (CONVERSION_FILE, SYNTH_META_FILE):
        path = osp.join(split_dir, name)
        if osp.isfile(path):
            try:
                with open(path) as f:
                    record = json.load(f)
            except (OSError, ValueError):
                continue
            if isinstance(record, dict):
                return dict(record, _path=path)
    return None


def write_conversion_record(split_dir: str, record: dict) -> str:
    """Write ``{split_dir}/conversion.json`` atomically; returns its path."""
    path = osp.join(split_dir, CONVERSION_FILE)
    atomic_write(path, lambda f: json.dump(record, f, indent=1, sort_keys=True), mode='w')
    return path


def _describe(kind: Optional[str], digest: str, folder: Optional[str],
              cls: Optional[str] = None) -> str:
    """``the procedural hand model 1a2b...``; a plugin class is named (its kind is what it
    inherits), and a record without a kind (a synthetic ``meta.json``) names the hash only."""
    where = f' from {folder}' if folder and kind != 'procedural' else ''
    what = f'{cls} ({kind})' if cls and cls != 'MANOHandModel' else kind
    return f"the {what + ' ' if what else ''}hand model {digest}{where}"


def check_hand_model(split_dir: str, hm) -> Optional[dict]:
    """Refuse to read ``split_dir`` with a hand model other than the one that made it.

    Args:
        split_dir: ``{data_root}/{split}``.
        hm: the hand model the dataset decodes the annotations with.

    Returns:
        the split's record (see module docstring), or ``None`` when it has none.

    Raises:
        HandModelMismatchError: the recorded ``hand_model_hash`` differs from
            ``hm.content_hash``.
    """
    record = read_split_record(split_dir)
    if record is None or not record.get('hand_model_hash'):
        return record
    loaded = hand_model_identity(hm)
    if record['hand_model_hash'] != loaded['hand_model_hash']:
        made = _describe(record.get('hand_model_kind'), record['hand_model_hash'],
                         record.get('hand_model_dir'))
        now = _describe(loaded['hand_model_kind'], loaded['hand_model_hash'],
                        loaded['hand_model_dir'], type(hm).__name__)
        if record['_path'].endswith(SYNTH_META_FILE):  # gclhand's synthetic data
            advice = ('the synthetic generator made it with its synthetic.hand_model: give '
                      "the datasets' hand_model and synthetic.hand_model the same config, or "
                      'point data_root (GCLHAND_SYNTH_ROOT) at a new folder so that the data '
                      'is generated with this model')
        else:
            advice = ('Load it with the model that made it (GCLHAND_MANO_DIR or '
                      'hand_model.model_dir; unset both for the procedural hand), or convert '
                      'the split again with gclhand prepare-interhand --mano-dir DIR')
        raise HandModelMismatchError(
            f"{record['_path']}: this split was made with {made}, but the dataset loads "
            f'{now}; its PCA pose coefficients give wrong labels with another model. {advice}')
    return record


def warn_procedural_on_real_data(hm, what: str) -> None:
    """Log once per process that real-image labels come from the procedural hand."""
    if not getattr(hm, 'is_procedural', False) or 'procedural' in _WARNED:
        return
    _WARNED.add('procedural')
    print_log(f'{what} is labelled with the licence-free procedural hand model, not MANO: '
              "the meshes and joints are not InterHand2.6M's. Put MANO_RIGHT.pkl and "
              'MANO_LEFT.pkl in a folder and set GCLHAND_MANO_DIR (docs/data.md)',
              logger='current', level=logging.WARNING)


def is_real_data(record: Optional[dict]) -> bool:
    """Whether a split with this record holds real images (not gclhand's synthetic data)."""
    if record is None:
        return True  # e.g. IntagHand's own preprocessing
    return record.get('source') == INTERHAND_SOURCE or osp.basename(
        record.get('_path', '')) == CONVERSION_FILE


__all__ = ['HandModelMismatchError', 'check_hand_model', 'hand_model_identity',
           'read_split_record', 'write_conversion_record', 'warn_procedural_on_real_data',
           'is_real_data', 'CONVERSION_FILE', 'INTERHAND_SOURCE']
