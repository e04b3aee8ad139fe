"""gclhand test (tools/test.py) on the paper's config with only a converted *test* split: it
must run, print the IntagHand and the official InterHand2.6M tables, and never touch train or
val."""
import glob
import os
import os.path as osp
import sys

import pytest
import torch
from tool_test_utils import ROOT

sys.path.insert(0, osp.join(ROOT, 'tests', 'test_datasets'))
from datasets_fakes import write_fake_release  # noqa: E402

from gclhand.cli import test as test_tool  # noqa: E402

CONFIG = osp.join(ROOT, 'configs', 'dgcl_interhand.py')
SMALL = ['--cfg-options', 'test_dataloader.num_workers=0', 'test_dataloader.batch_size=2',
         'test_dataloader.pin_memory=False']

_ACCESSED = None  # list while a spy is active, else None


def _audit(event, args):
    if _ACCESSED is not None and event in ('open', 'os.listdir', 'os.scandir') and args \
            and isinstance(args[0], (str, bytes, os.PathLike)):
        _ACCESSED.append(os.fsdecode(args[0]))


sys.addaudithook(_audit)  # audit hooks cannot be removed; _ACCESSED switches it on and off


@pytest.fixture
def test_split_only(tmp_path, monkeypatch):
    """A data root with the converted test split of a fake release, and nothing else."""
    from gclhand.datasets.interhand_prepare import prepare_interhand
    from gclhand.hand import build_hand_model
    release = str(tmp_path / 'release')
    write_fake_release(release, build_hand_model(dict(type='MANOHandModel', use_pca=False)),
                       'test')
    root = str(tmp_path / 'interhand')
    prepare_interhand(release, root, 'test', img_size=64, progress=False)
    assert os.listdir(root) == ['test']
    monkeypatch.setenv('GCLHAND_INTERHAND_ROOT', root)
    return root


def _run_test_tool(args, root):
    global _ACCESSED
    _ACCESSED = []
    try:
        test_tool.main(args)
    finally:
        accessed, _ACCESSED = _ACCESSED, None
    data = [p for p in accessed if osp.abspath(p).startswith(root)]
    assert data, 'the spy saw no data access at all'
    touched = [p for p in data if not osp.abspath(p).startswith(osp.join(root, 'test'))]
    assert touched == [], f'a test run touched other splits: {touched[:5]}'


def _log_text(work_dir):
    logs = glob.glob(osp.join(work_dir, '*', '*.log'))
    assert logs, f'no log in {work_dir}'
    return open(max(logs, key=osp.getmtime)).read()


def test_untrained_and_checkpoint_runs_read_only_the_test_split(test_split_only, tmp_path):
    root = test_split_only
    work = str(tmp_path / 'work')
    _run_test_tool([CONFIG, 'none', '--work-dir', work] + SMALL, root)
    text = _log_text(work)
    assert 'IntagHandMetric (2 samples, mm)' in text
    assert 'InterHandMetric (2 samples, mm)' in text

    # the same with a checkpoint (weights of a freshly built model); the drawing hook was
    # covered above and is the slowest part, so it is left out here
    from mmengine.config import Config

    from gclhand.registry import MODELS
    from gclhand.apis import register_all_modules
    register_all_modules()
    model = MODELS.build(Config.fromfile(CONFIG).model)
    ckpt = str(tmp_path / 'model.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), ckpt)
    work2 = str(tmp_path / 'work2')
    _run_test_tool([CONFIG, ckpt, '--work-dir', work2] + SMALL + ['custom_hooks=[]'], root)
    assert 'InterHandMetric (2 samples, mm)' in _log_text(work2)
