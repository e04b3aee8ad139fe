"""Non-finite losses: the step is skipped on every rank, named, and N in a row stop training.

The model is the real (tiny) HandDGCL estimator with its feature-pose pool; a NaN is put
into one sample's 3D joint labels.
"""
import copy
import os

import pytest
import torch
from reliability_utils import run_gloo_ranks, tiny_cfg
from mmengine.dataset import pseudo_collate
from mmengine.optim import OptimWrapper

import gclhand.models.estimators.two_hand_estimator as estimator_module
from gclhand.apis import register_all_modules
from gclhand.cli import train as train_cli
from gclhand.cli.errors import run_tool
from gclhand.engine.hooks import NonFiniteGuardHook
from gclhand.engine.hooks.nonfinite_guard_hook import all_ranks_finite
from gclhand.models.disturbers import Disturber, Graph
from gclhand.registry import DATASETS, DISTURBERS, MODELS
from gclhand.utils.nonfinite import NonFiniteTracer

TOY_CFG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       'test_tools', 'configs', 'toy_train.py')


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
    # trained parameters (the forward pass itself updates BatchNorm statistics - finite)
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
    # the skipped step's queue entries (with the NaN pose) were discarded: DGCL's queues and
    # momentum encoder advance only with an optimiser step
    pool = model.dgcl.pool
    assert torch.isfinite(pool.feats).all() and torch.isfinite(pool.poses).all()
    assert int(pool.num_filled) == 4 and pool.valid[:4].all()
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


def _rank_worker(rank, world_size, queue):
    loss = torch.tensor(float('nan') if rank == 1 else 1.0)
    queue.put((rank, all_ranks_finite(loss), all_ranks_finite(torch.tensor(2.0))))


def test_ranks_agree_to_skip_under_gloo():
    """A NaN on rank 1 only makes rank 0 skip as well (all_reduce of the finite flag)."""
    assert run_gloo_ranks(_rank_worker) == [(0, False, True), (1, False, True)]


# ------------------------------------------------------- where the NaN came from (15.6)

class _Doubler(torch.nn.Module):
    def forward(self, x):
        return x * 2


class _Poison(torch.nn.Module):
    def forward(self, x):
        return dict(feats=x * float('nan'), count=torch.ones(1, dtype=torch.long))


class _Net(torch.nn.Module):
    def __init__(self, poison=True):
        super().__init__()
        self.first = torch.nn.Linear(3, 3)
        self.middle = _Poison() if poison else _Doubler()
        self.last = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.ReLU())

    def forward(self, x):
        out = self.middle(self.first(x))
        return self.last(out['feats'] if isinstance(out, dict) else out)


def test_tracer_names_the_first_nonfinite_component_in_run_order():
    net = _Net()
    tracer = NonFiniteTracer(net)
    with tracer.tracing():
        y = net(torch.ones(2, 3))
    assert not torch.isfinite(y).all()  # 'last' and 'last.0' are NaN too, but later
    assert tracer.first_nonfinite() == f'middle (_Poison from {__name__})'
    assert tracer.describe(torch.ones(2, 3)) == f'middle (_Poison from {__name__})'
    # checked before the components: input, labels, then parameters
    assert tracer.describe(torch.full((2, 3), float('inf'))).startswith('the input batch')
    labels = {'gt_joints_3d of sample_idx 7': torch.tensor([float('nan')])}
    assert tracer.describe(torch.ones(2, 3), labels) == (
        "the labels ['gt_joints_3d of sample_idx 7'] (non-finite ground truth: check the "
        'data)')
    with torch.no_grad():
        net.first.weight[0, 0] = float('nan')
    assert tracer.describe().startswith("the parameters ['first.weight'] (already non-finite")
    clean = _Net(poison=False)
    tracer = NonFiniteTracer(clean)
    with tracer.tracing():
        clean(torch.ones(2, 3))
    assert tracer.first_nonfinite() is None
    assert tracer.describe().startswith('the loss computation')
    clean(torch.full((2, 3), float('nan')))  # not tracing: nothing recorded
    assert tracer.first_nonfinite() is None
    tracer.remove()
    assert not any(m._forward_hooks for m in clean.modules())


@DISTURBERS.register_module(force=True)
class NaNDisturberForTest(Disturber):
    """A broken plugin disturber: NaN features."""

    def __init__(self):
        super().__init__()

    def disturb(self, g: Graph) -> Graph:
        return Graph(g.x * float('nan'), g.edge_index, g.edge_weight)


def test_estimator_names_a_nan_label_and_a_nan_disturber(model_and_batch, warnings,
                                                         synth_root):
    model, samples = model_and_batch
    model = model()
    wrapper = OptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-2))
    model.train_step(_batch(samples[2:4], nan_at=1), wrapper)
    idx = samples[3]['data_samples'].metainfo['sample_idx']
    assert f"first non-finite: the labels ['gt_joints_3d of sample_idx {idx}']" in warnings[-1]

    cfg = tiny_cfg(synth_root, batch_size=2)
    cfg.model.dgcl.disturber = dict(type='NaNDisturberForTest')
    torch.manual_seed(0)
    broken = MODELS.build(cfg.model).train()
    wrapper = OptimWrapper(torch.optim.Adam(broken.parameters(), lr=1e-2))
    out = broken.train_step(_batch(samples[:2]), wrapper)
    assert set(out) == {'nonfinite_skipped'}
    assert (f'first non-finite: dgcl.disturber (NaNDisturberForTest from {__name__})'
            in warnings[-1]), warnings[-1]
    assert 'lower the learning rate' not in warnings[-1]


def test_a_run_whose_every_update_was_skipped_fails(tmp_path, capsys, monkeypatch):
    """Two iterations, both non-finite (fewer than max_consecutive=10): the run trained
    nothing, so the command fails with one line naming the component."""
    monkeypatch.syspath_prepend(os.path.dirname(os.path.dirname(TOY_CFG)))  # toy_modules
    status = run_tool(train_cli.main, [TOY_CFG, '--work-dir', str(tmp_path), '--cfg-options',
                                       '+model.poison=True', 'train_cfg.max_epochs=1',
                                       'train_dataloader.dataset.num_samples=4'])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1, err
    assert err[0].startswith('error: every update of this run was skipped (2 step(s) with a '
                             'non-finite loss; the last: non-finite loss (sample_idx ')
    assert 'first non-finite: poison (PoisonNaN from toy_modules)' in err[0]
    assert err[0].endswith('nothing was trained')


def test_a_run_that_trained_nothing_stops_before_its_first_checkpoint(tmp_path, capsys,
                                                                       monkeypatch):
    """Every update of the first epoch skipped: the run stops at the end of that epoch
    with the same one line, before its checkpoint (a model that trained nothing) and before
    validation (whose metrics refuse non-finite predictions with another error)."""
    monkeypatch.syspath_prepend(os.path.dirname(os.path.dirname(TOY_CFG)))  # toy_modules
    status = run_tool(train_cli.main, [TOY_CFG, '--work-dir', str(tmp_path), '--cfg-options',
                                       '+model.poison=True', 'train_cfg.max_epochs=3',
                                       'train_dataloader.dataset.num_samples=4'])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1, err
    assert err[0].startswith('error: every update of this run was skipped (2 step(s) with a ')
    assert not list(tmp_path.glob('*.pth'))


class _Sample:
    def __init__(self, idx):
        self.metainfo = dict(sample_idx=idx)


def test_hook_counts_names_and_judges_a_run(monkeypatch):
    """A whole run of the hook around a model without its own guard, behind a model
    wrapper: the running total continues from a resumed message hub, each warning names
    the batch's ``sample_idx`` and the first non-finite component, the model's own skips
    (``outputs['nonfinite_skipped']``) count too, and only a run that never updated fails."""
    from mmengine.logging import MessageHub

    import gclhand.engine.hooks.nonfinite_guard_hook as hook_module
    seen, calls = [], []  # the warnings, and the logger / level they were given
    monkeypatch.setattr(hook_module, 'print_log',
                        lambda msg, *a, **k: seen.append(msg) or calls.append((a, k)))
    net = _Net()
    wrapper = OptimWrapper(torch.optim.SGD(net.parameters(), lr=0.1))
    hub = MessageHub('gclhand_test_nonfinite_hub')
    hub.update_info('nonfinite_skipped_total', 5)  # from the checkpoint of a resumed run
    runner = type('Runner', (), {})()
    runner.model, runner.optim_wrapper, runner.message_hub = (
        torch.nn.DataParallel(net), wrapper, hub)
    hook = NonFiniteGuardHook()
    hook.before_train(runner)

    def iteration(i, ids, outputs=None):
        hook.before_train_iter(runner, i, dict(inputs=None, data_samples=[_Sample(j)
                                                                         for j in ids]))
        if 'nonfinite_skipped' not in (outputs or {}):  # a train_step: forward, update
            wrapper.update_params(net(torch.ones(2, 3)).sum(), {}, {})
        hook.after_train_iter(runner, i, outputs=outputs)

    iteration(0, [7, 9])  # poisoned forward: skipped, named
    assert hub.get_info('nonfinite_skipped_total') == 6
    assert not hook._tracer.enabled  # records only during an iteration
    (msg,) = seen
    assert calls == [(('current', ), dict(level=30))]  # a warning in the run's log
    assert msg.startswith('non-finite loss (sample_idx [7, 9]); first non-finite: middle '
                          f'(_Poison from {__name__}); skipped the update (1 in a row)')
    net.middle = _Doubler()
    iteration(1, [3], outputs=dict(loss=torch.ones(())))  # finite: an update
    # the optimiser wrapper's own arguments reach it (zero_kwargs: keep zeroed gradients)
    wrapper.update_params(net(torch.ones(2, 3)).sum(), None, dict(set_to_none=False))
    assert net.first.weight.grad is not None and not net.first.weight.grad.any()
    iteration(2, [4], outputs=dict(nonfinite_skipped=torch.ones(())))  # the model skipped
    assert hub.get_info('nonfinite_skipped_total') == 7 and len(seen) == 1
    hook.after_train(runner)  # 2 of 3 steps skipped, one update: the run trained
    assert all(not m._forward_hooks for m in net.modules())  # the tracer is gone

    net.middle = _Poison()
    runner.message_hub = MessageHub('gclhand_test_nonfinite_hub_2')  # a new run: no total
    hook.before_train(runner)  # a second run that never updates
    assert hook._total == 0
    hook.before_train_iter(runner, 0, (torch.ones(1), ))  # not a dict: no ids, no error
    assert hook._sample_ids == []
    iteration(0, [1])
    assert runner.message_hub.get_info('nonfinite_skipped_total') == 1
    with pytest.raises(FloatingPointError, match=r'every update of this run was skipped '
                       r'\(1 step\(s\).*the last: non-finite loss \(sample_idx \[1\]\)'):
        hook.after_train(runner)
    hook.before_train_iter(runner, 0, dict(data_samples=[object()]))  # no metainfo
    assert hook._sample_ids == [None]


def test_hook_default_limit_for_a_model_without_its_own_guard():
    """``max_consecutive=None`` means 10 in a row for a model without ``update_or_skip``."""
    net = torch.nn.Linear(3, 1)
    wrapper = OptimWrapper(torch.optim.SGD(net.parameters(), lr=0.1))
    hook = NonFiniteGuardHook()
    hook._wrap_update_params(wrapper)
    hook._wrap_update_params(wrapper)  # once only
    hook.before_train_iter(None, 0, None)
    for _ in range(9):
        wrapper.update_params(net(torch.ones(1, 3)).sum() * float('nan'))
    with pytest.raises(FloatingPointError, match=r'\(10 in a row\); reached NonFiniteGuard'
                       r'Hook.max_consecutive=10'):
        wrapper.update_params(net(torch.ones(1, 3)).sum() * float('nan'))
    assert hook._sample_ids == []


def test_tracer_lists_at_most_three_names_and_hooks_two_levels():
    """Labels and parameters are named three at most (``...`` after them); components are
    traced down to ``depth`` name parts, so a NaN born deeper is named by its ancestor at
    that depth; a tracer read before any tracing, or removed twice, is harmless."""
    nan = torch.tensor([float('nan')])
    tracer = NonFiniteTracer(_Net(poison=False))
    assert tracer.describe().startswith('the loss computation')  # nothing traced yet
    three = {f'l{i}': nan for i in range(3)}
    assert tracer.describe(labels=three) == (
        "the labels ['l0', 'l1', 'l2'] (non-finite ground truth: check the data)")
    assert tracer.describe(labels=dict(three, l3=nan)).startswith(
        "the labels ['l0', 'l1', 'l2'] ... (")
    net = torch.nn.Sequential(*[torch.nn.Linear(1, 1) for _ in range(4)])
    with torch.no_grad():
        for p in list(net.parameters())[:3]:
            p.fill_(float('nan'))
    assert NonFiniteTracer(net).describe() == (
        "the parameters ['0.weight', '0.bias', '1.weight'] (already non-finite: an earlier "
        'update diverged; lower the learning rate)')
    with torch.no_grad():
        net[1].bias.fill_(float('nan'))
    assert "'1.weight'] ... (already" in NonFiniteTracer(net).describe()

    deep = torch.nn.Sequential(torch.nn.Sequential(torch.nn.Sequential(_Poison())))
    for depth, named in ((1, '0 (Sequential'), (2, '0.0 (Sequential'), (3, '0.0.0 (_Poison')):
        tracer = NonFiniteTracer(deep, depth=depth)
        with tracer.tracing():
            deep(torch.ones(1))
        assert tracer.first_nonfinite().startswith(named), (depth, tracer.first_nonfinite())
        tracer.remove()
        tracer.remove()
    assert not any(m._forward_hooks for m in deep.modules())


def test_a_run_of_a_guarded_model_that_never_updated_names_its_last_warning(
        model_and_batch, warnings):
    """For a model with its own guard the failure repeats the model's last warning."""
    from mmengine.logging import MessageHub
    model, samples = model_and_batch
    model = model()
    wrapper = OptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-2))
    runner = type('Runner', (), {})()
    runner.model, runner.optim_wrapper = model, wrapper
    runner.message_hub = MessageHub('gclhand_test_guarded_hub')
    hook = NonFiniteGuardHook()
    hook.before_train(runner)
    out = model.train_step(_batch(samples[:2], nan_at=0), wrapper)
    hook.after_train_iter(runner, 0, outputs=out)
    with pytest.raises(FloatingPointError) as exc:
        hook.after_train(runner)
    assert str(exc.value).endswith(f'the last: {warnings[-1]}): nothing was trained')
