import os

import pytest
import torch


@pytest.fixture(scope='session', autouse=True)
def hand_cache(tmp_path_factory):
    """A private cache dir for the procedural model and graphs of this test session."""
    old = os.environ.get('GCLHAND_CACHE')
    path = str(tmp_path_factory.mktemp('gclhand_cache'))
    os.environ['GCLHAND_CACHE'] = path
    torch.set_num_threads(1)
    yield path
    if old is None:
        os.environ.pop('GCLHAND_CACHE', None)
    else:
        os.environ['GCLHAND_CACHE'] = old


@pytest.fixture(scope='session')
def hand_model(hand_cache):
    """Procedural model with axis-angle poses around the flat hand (easy to reason about)."""
    from gclhand.hand import build_hand_model
    return build_hand_model(dict(type='MANOHandModel', use_pca=False, flat_hand_mean=True))


@pytest.fixture(scope='session')
def procedural_arrays(hand_model):
    return hand_model.arrays


@pytest.fixture
def write_mano_dir():
    """``write(folder, {'left': arrays, 'right': arrays})`` saves a MANO-format pair as
    ``MANO_LEFT.pkl`` / ``MANO_RIGHT.pkl`` in ``folder`` and returns it as a string."""
    from gclhand.hand.mano_io import MANO_FILES, save_mano_arrays

    def write(folder, arrays):
        for side, name in MANO_FILES.items():
            save_mano_arrays(arrays[side], str(folder / name))
        return str(folder)

    return write
