"""Non-finite losses: the step is skipped on every rank, named, and N in a row stop training.

The model is the real (tiny) HandDGCL estimator with its feature-pose pool; a NaN is put
into one sample's 3D joint labels.
"""
import copy
import multiprocessing as mp
import os
import socket

import pytest
import torch
from reliability_utils import tiny_cfg
from mmengine.dataset import pseudo_collate
from mmengine.optim import OptimWrapper

import gclhand.models.estimators.two_hand_estimator as estimator_module
from gclhand.engine.hooks import NonFiniteGuardHook
from gclhand.engine.hooks.nonfinite_guard_hook import all_ranks_finite
from gclhand.registry import DATASETS, MODELS
from gclhand.apis import register_all_modules


@pytest.fixture(scope='module')
def model_and_batch(synth_root):
    register_all_modules()
    cfg = tiny_cfg(synth_root, batch_size=2)
    torch.manual_seed(0)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    return (lambda: MODELS.build(cfg.model).train()), [dataset[i] for i in range(4)]


def _batch(samples, nan_at=None):
    samples = copy.deepcopy(samples)
    if nan_at is not None:
        joints = samples[nan_at]['data_samples'].gt_joints_3d.clone()
        joints[1, 5, 2] = float('nan')  # right hand, one coordinate
        samples[nan_at]['data_samples'].gt_joints_3d = joints
    return pseudo_collate(samples)


@pytest.fixture
def warnings(monkeypatch):
    seen = []
    monkeypatch.setattr(estimator_module, 'print_log',
                        lambda msg, *a, **k: seen.append(msg))
    return seen


def test_nan_label_skips_step_names_terms_and_ids(model_and_batch, warnings):
    model, samples = model_and_batch
    model = model()
    wrapper = OptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-2))
    model.train_step(_batch(samples[:2]), wrapper)  # one good step: pool, Adam state
    # trained parameters: the forward pass itself updates BatchNorm statistics and takes the
    # momentum key encoder's EMA step (towards the unchanged online decoder) - both finite
    before = {k: v.detach().clone() for k, v in model.named_parameters() if v.requires_grad}
    adam_before = copy.deepcopy(wrapper.optimizer.state_dict()['state'])

    out = model.train_step(_batch(samples[2:4], nan_at=1), wrapper)

    assert set(out) == {'nonfinite_skipped'}
    for key, value in before.items():
        value = model.get_parameter(key)
        assert torch.equal(value, before[key]), f'{key} changed in a skipped step'
    assert all(p.grad is None or not p.grad.any() for p in model.parameters())
    for key, state in wrapper.optimizer.state_dict()['state'].items():
        assert torch.equal(state['exp_avg'], adam_before[key]['exp_avg'])
        assert int(state['step']) == int(adam_before[key]['step'])  # no optimizer step
    (msg,) = warnings
    ids = [samples[i]['data_samples'].metainfo['sample_idx'] for i in (2, 3)]
    assert 'loss_joints_3d' in msg and 'loss_verts_3d' not in msg
    assert f'sample_idx {ids}' in msg and '1 in a row' in msg
    # the NaN pose entered the pool as a zeroed, non-annotated entry: no poisoning
    pool = model.dgcl.pool
    assert torch.isfinite(pool.feats).all() and torch.isfinite(pool.poses).all()
    assert int(pool.num_filled) == 8 and pool.valid[:8].tolist() == [True] * 7 + [False]
    # the next good batch trains normally with finite losses and resets the counter
    out = model.train_step(_batch(samples[:2]), wrapper)
    assert 'loss' in out and torch.isfinite(out['loss']) and model._nonfinite_steps == 0


def test_n_nonfinite_steps_in_a_row_raise(model_and_batch, warnings):
    model, samples = model_and_batch
    model = model()
    wrapper = OptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-2))
    hook = NonFiniteGuardHook(max_consecutive=3)

    class Runner:  # the two attributes before_train reads
        message_hub = type('Hub', (), {'get_info': staticmethod(lambda k, d=None: d)})()

    runner = Runner()
    runner.model, runner.optim_wrapper = model, wrapper
    hook.before_train(runner)
    assert model.max_consecutive_nonfinite == 3
    bad = _batch(samples[:2], nan_at=0)
    model.train_step(bad, wrapper)
    model.train_step(bad, wrapper)
    with pytest.raises(FloatingPointError, match='max_consecutive.*=3'):
        model.train_step(bad, wrapper)
    assert len(warnings) == 2


def test_hook_guards_a_model_without_its_own_guard():
    """Any model (here a bare ``nn.Linear`` behind MMEngine's OptimWrapper) gets the guard."""
    net = torch.nn.Linear(3, 1)
    wrapper = OptimWrapper(torch.optim.SGD(net.parameters(), lr=0.1))
    hook = NonFiniteGuardHook(max_consecutive=2)
    hook._wrap_update_params(wrapper)
    hook.before_train_iter(None, 0, dict(data_samples=[]))
    weight = net.weight.detach().clone()
    wrapper.update_params((net(torch.ones(1, 3)) * float('inf')).sum())
    assert torch.equal(net.weight, weight) and net.weight.grad is None
    wrapper.update_params(net(torch.ones(1, 3)).sum())  # finite: steps, resets the count
    assert not torch.equal(net.weight, weight)
    wrapper.update_params(net(torch.ones(1, 3)).sum() * float('nan'))
    with pytest.raises(FloatingPointError, match='NonFiniteGuardHook.max_consecutive=2'):
        wrapper.update_params(net(torch.ones(1, 3)).sum() * float('nan'))


def _rank_worker(rank, port, queue):
    import torch.distributed as dist
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=2)
    try:
        loss = torch.tensor(float('nan') if rank == 1 else 1.0)
        queue.put((rank, all_ranks_finite(loss), all_ranks_finite(torch.tensor(2.0))))
    finally:
        dist.destroy_process_group()


def test_ranks_agree_to_skip_under_gloo():
    """A NaN on rank 1 only makes rank 0 skip as well (all_reduce of the finite flag)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    ctx = mp.get_context('fork')
    queue = ctx.Queue()
    procs = [ctx.Process(target=_rank_worker, args=(r, port, queue)) for r in (0, 1)]
    for p in procs:
        p.start()
    results = sorted(queue.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(timeout=30)
    assert results == [(0, False, True), (1, False, True)]
