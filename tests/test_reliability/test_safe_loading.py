"""A checkpoint with a malicious pickle payload is refused everywhere a checkpoint is read,
with a message naming the file and the unsafe global; the payload never runs."""
import pickle

import pytest
import torch
from reliability_utils import dump_cfg, tiny_cfg

from gclhand.cli import test as test_tool
from gclhand.cli import train
from gclhand.cli.errors import run_tool


class _Payload:
    """Unpickling calls ``exec`` with code that writes ``marker`` (a real attack would do
    anything else)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('pwned')",)


@pytest.fixture
def evil(tmp_path):
    marker = tmp_path / 'PWNED'
    path = tmp_path / 'evil.pth'
    torch.save(dict(meta=dict(epoch=1, iter=4), state_dict={'x': torch.zeros(1)},
                    message_hub=_Payload(marker)), path)
    # the file really carries the payload: the unsafe loader runs it
    with open(path, 'rb'):
        torch.load(path, weights_only=False)
    assert marker.exists()
    marker.unlink()
    return path, marker


@pytest.fixture
def cfg_path(tmp_path, synth_root):
    return dump_cfg(tiny_cfg(synth_root, max_epochs=1), tmp_path / 'cfg.py')


def test_test_tool_refuses(evil, cfg_path, tmp_path, capsys):
    path, marker = evil
    status = run_tool(test_tool.main, [cfg_path, str(path), '--work-dir',
                                                str(tmp_path / 'wd')])
    err = capsys.readouterr().err
    assert status == 2 and not marker.exists()
    assert str(path) in err and '(exec)' in err and 'refuses to load safely' in err
    # what to do about it
    assert ('re-save it with gclhand, or convert it with torch.load(..., '
            'weights_only=False) if you trust its source') in err


def test_resume_refuses(evil, cfg_path, tmp_path, capsys):
    path, marker = evil
    status = run_tool(train.main, [cfg_path, '--work-dir', str(tmp_path / 'wd'),
                                                 '--resume', str(path)])
    err = capsys.readouterr().err
    assert status == 2 and not marker.exists()
    assert str(path) in err and '(exec)' in err


def test_init_model_refuses(evil, cfg_path):
    from gclhand.apis import init_model
    path, marker = evil
    from gclhand.utils import ConfigError
    with pytest.raises(ConfigError, match=r"safe loader refuses.*exec") as info:
        init_model(cfg_path, str(path))
    assert str(path) in str(info.value)
    assert isinstance(info.value.__cause__, pickle.UnpicklingError)
    assert not marker.exists()
