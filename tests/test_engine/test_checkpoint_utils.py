"""gclhand.engine.checkpoint: atomic files, RNG state, safe loading."""
import io
import os
import random

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub

from gclhand.engine.checkpoint import (atomic_write_text, checkpoint_safe_globals, commit_file,
                                       get_rng_state, message_hub_from_builtin,
                                       message_hub_to_builtin, remove_stale_tmp_files,
                                       set_rng_state, tmp_path_for)


def draws():
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_rng_state_round_trip_through_safe_torch_load():
    torch.manual_seed(1), np.random.seed(1), random.seed(1)
    buf = io.BytesIO()
    torch.save(get_rng_state(), buf)
    expected = draws()
    assert draws() != expected  # the generators moved on
    buf.seek(0)
    set_rng_state(torch.load(buf))  # weights_only=True: only plain values inside
    assert draws() == expected


def test_message_hub_round_trip_loads_without_unsafe_globals():
    hub = MessageHub('gclhand_test_ckpt_hub')  # not the global instance: a fresh history
    hub.update_scalar('train/loss', 0.5)
    hub.update_scalar('train/loss', 0.25, count=2)
    state = hub.state_dict()
    raw = io.BytesIO()
    torch.save(state, raw)
    raw.seek(0)
    with pytest.raises(Exception, match='HistoryBuffer'):  # why the conversion exists
        torch.load(raw)
    buf = io.BytesIO()
    torch.save(message_hub_to_builtin(state), buf)
    buf.seek(0)
    with checkpoint_safe_globals():
        restored = message_hub_from_builtin(torch.load(buf))['log_scalars']['train/loss']
    assert isinstance(restored, HistoryBuffer)
    assert restored.data[0].tolist() == [0.5, 0.25] and restored.data[1].tolist() == [1, 2]
    assert restored.mean() == pytest.approx((0.5 + 0.25) / (1 + 2))  # sum(values) / sum(counts)


def test_atomic_write_keeps_old_content_when_interrupted(tmp_path, monkeypatch):
    path = str(tmp_path / 'last_checkpoint')
    atomic_write_text('old', path)

    def crash(src, dst):
        raise KeyboardInterrupt  # e.g. Ctrl-C between write and rename

    monkeypatch.setattr(os, 'replace', crash)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text('new', path)
    monkeypatch.undo()
    assert open(path).read() == 'old'
    assert os.listdir(tmp_path) == ['last_checkpoint']  # no temporary file left
    atomic_write_text('new', path)
    assert open(path).read() == 'new'


def test_stale_tmp_files_are_found_and_only_they(tmp_path):
    ckpt = str(tmp_path / 'epoch_2.pth')
    tmp = tmp_path_for(ckpt)
    assert os.path.dirname(tmp) == str(tmp_path)  # same filesystem: rename is atomic
    open(tmp, 'wb').write(b'partial')
    open(tmp_path / 'epoch_1.pth', 'wb').write(b'ok')
    assert remove_stale_tmp_files(str(tmp_path)) == [tmp]
    assert os.listdir(tmp_path) == ['epoch_1.pth']
    open(tmp, 'wb').write(b'full')
    commit_file(tmp, ckpt)
    assert open(ckpt, 'rb').read() == b'full' and not os.path.exists(tmp)


def test_message_hub_conversion_keeps_max_length_and_passes_other_values():
    """A buffer's ``max_length`` survives; values that are not buffers (a plain dict
    without the tag, a number) pass through both ways; a state without scalars too."""
    buf = HistoryBuffer([1.0, 2.0, 3.0], [1, 1, 1], max_length=3)
    state = dict(log_scalars={'train/loss': buf, 'plain': {'log_history': [1]}, 'n': 4},
                 runtime_info={'epoch': 2})
    plain = message_hub_to_builtin(state)
    assert plain['log_scalars']['plain'] == {'log_history': [1]} and plain['log_scalars'][
        'n'] == 4 and plain['runtime_info'] == {'epoch': 2}
    back = message_hub_from_builtin(plain)['log_scalars']
    assert back['plain'] == {'log_history': [1]} and back['n'] == 4
    restored = back['train/loss']
    assert restored.max_length == 3
    restored.update(4.0)  # the oldest value drops out at the saved length
    assert restored.data[0].tolist() == [2.0, 3.0, 4.0]
    assert 'train/loss' in state['log_scalars'] and state['log_scalars']['train/loss'] is buf
    for convert in (message_hub_to_builtin, message_hub_from_builtin):
        assert convert({'runtime_info': {}}) == {'runtime_info': {}, 'log_scalars': {}}
