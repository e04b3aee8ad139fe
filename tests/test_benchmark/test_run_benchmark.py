"""gclhand.benchmark and ``gclhand benchmark`` on tiny configs: the structure of the
results and the equalities the benchmark relies on; never speed (tests/benchmarks/ times)."""
import json
import os
import os.path as osp

import pytest
import torch

from gclhand import benchmark as bench
from gclhand.apis import register_all_modules
from gclhand.cli import benchmark as bench_cli
from gclhand.cli.config import load_config
from gclhand.utils import ConfigError

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module', autouse=True)
def registered():
    register_all_modules()


def config_path(name):
    return osp.join(REPO, 'configs', name)


TINY = """
_base_ = [{base!r}]
img_size = 64
model = dict(encoder=dict(base_channels=8, stage_blocks=(1, 1, 1, 1)),
             hand_split=dict(hidden_channels=32), decoder=dict(channels=(16, 16, 16), K=2,
                                                               num_heads=2),
             camera_head=dict(hidden_channels=32){dgcl})
"""
# the DGCL tiny config swaps the graph U-Net for a cheap disturber: this test is about the
# tool, not the disturber's cost
TINY_DGCL = """,
             dgcl=dict(disturber=dict(_delete_=True, type='FeatureMask', p=0.2))"""
TINY_DATA = """
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False, dataset=dict(
    synthetic=dict(num=dict(train=4, val=1, test=1), seed=0, img_size=64)))
"""


def write_configs(tmp_path):
    for name in ('gcn_baseline', 'dgcl'):
        base = osp.join(REPO, 'configs', f'{name}_synth.py')
        text = TINY.format(base=base, dgcl=TINY_DGCL if name == 'dgcl' else '') + TINY_DATA
        (tmp_path / f'{name}_tiny.py').write_text(text)
    return str(tmp_path / 'dgcl_tiny.py')


def test_default_baseline_name():
    assert bench.default_baseline('configs/dgcl_synth.py') == \
        osp.join('configs', 'gcn_baseline_synth.py')
    assert bench.default_baseline('configs/egd_mask_interhand.py') == \
        osp.join('configs', 'gcn_baseline_interhand.py')
    assert bench.default_baseline('gclhand::dgcl_synth.py') == 'gclhand::gcn_baseline_synth.py'
    with pytest.raises(ConfigError, match='--baseline'):
        bench.default_baseline('model.py')


def test_clock_choice():
    """``--clock cpu`` times with the process CPU time (load-robust with one thread)."""
    import time

    from gclhand.benchmark.timing import clock_fn
    assert clock_fn('cpu') is time.process_time and clock_fn('wall') is time.perf_counter
    with pytest.raises(ConfigError, match="clock must be one of .*'gpu'"):
        bench.BenchmarkSettings(clock='gpu')


def test_settings_reject_unknown_sections():
    with pytest.raises(ConfigError, match="unknown section.*'trian'"):
        bench.BenchmarkSettings(skip={'trian'})
    with pytest.raises(ConfigError, match='iters must be >= 1'):
        bench.BenchmarkSettings(iters=0)


def test_synthetic_batch_is_plausible():
    """Labels are posed hands projected into the crop; the preprocessor accepts the batch."""
    cfg = load_config(config_path('gcn_baseline_synth.py'),
                      {'model.decoder.channels': (16, 16, 16), 'model.encoder.depth': 18})
    model = bench.build_model(cfg, torch.device('cpu'))
    data = bench.synthetic_batch(model, 3, 64)
    s = data['data_samples'][0]
    assert len(data['inputs']) == 3 and data['inputs'][0].dtype == torch.uint8
    assert s.gt_joints_3d.shape == (2, 21, 3) and s.gt_verts_3d.shape == (2, 778, 3)
    assert (s.gt_joints_3d[..., 2] > 0.3).all()  # in front of the camera
    assert ((s.gt_joints_2d > -64) & (s.gt_joints_2d < 128)).all()  # near the crop
    out = model.data_preprocessor(data, True)
    assert out['inputs'].shape == (3, 3, 64, 64) and out['inputs'].dtype == torch.float32


def test_deployed_synth_rows_are_the_baseline_graph():
    """What the inference section compares: every deployed synthetic Table 2 model is the
    baseline network (same modules, same state-dict shapes)."""
    base = bench.build_model(load_config(config_path('gcn_baseline_synth.py')),
                             torch.device('cpu')).deploy()
    for row in ('egd_edge_flip_synth.py', 'dgcl_synth.py'):
        deployed = bench.build_model(load_config(config_path(row)),
                                     torch.device('cpu')).deploy()
        assert bench.same_graph(base, deployed), row
    undeployed = bench.build_model(load_config(config_path('dgcl_synth.py')),
                                   torch.device('cpu'))
    assert not bench.same_graph(base, undeployed)  # the check can fail


def test_tool_end_to_end_tiny(tmp_path):
    cfg = write_configs(tmp_path)
    out = tmp_path / 'res.json'
    r = bench_cli.main([cfg, '--device', 'cpu', '--batch', '2', '--iters', '1', '--warmup',
                        '0', '--infer-batch', '1', '--workers', '0', '--data-num', '4',
                        '--data-root', str(tmp_path / 'data'), '--profile', '1',
                        '--json', str(out)])
    assert r['baseline'].endswith('gcn_baseline_tiny.py')
    assert set(r['names']) == {'config', 'baseline'}
    assert r['train']['config']['samples_per_s'] > 0 and r['ratios']['train_step'] > 0
    # the encoder alone, interleaved with the steps: the step-cost goals' reference
    for name in ('config', 'baseline'):
        assert r['ratios'][f'train_step_{name}_vs_encoder'] == pytest.approx(
            r['train'][name]['step_ms'] / r['train']['encoder']['step_ms'])
    # deployed DGCL is exactly the baseline network
    assert r['infer']['identical_graph'] is True and r['infer']['identical_outputs'] is True
    assert r['data']['workers0']['samples_per_s'] > 0
    assert r['e2e']['data_ms'] >= 0 and r['e2e']['compute_ms'] > 0
    phases = r['profile']['phase_ms_per_step']
    assert {'encoder', 'decoder', 'backward'} <= set(phases)
    assert any(k.startswith('dgcl.loss') for k in phases)
    assert json.loads(out.read_text())['ratios'] == r['ratios']


def test_inference_references_encoder_and_onnxruntime(tmp_path):
    """The encoder alone and the ONNX Runtime columns run interleaved with the deployed
    models; the ratios are the medians' quotients."""
    pytest.importorskip('onnxruntime')
    cfg = write_configs(tmp_path)
    r = bench_cli.main([cfg, '--device', 'cpu', '--iters', '2', '--warmup', '0',
                        '--infer-batch', '1', '2', '--skip', 'train,data,e2e', '--onnx'])
    for bs in (1, 2):
        row = r['infer'][f'batch{bs}']
        assert {'config', 'baseline', 'encoder', 'config_onnxruntime',
                'encoder_onnxruntime'} <= set(row)
        assert r['ratios'][f'infer_vs_encoder_batch{bs}'] == pytest.approx(
            row['config']['latency_ms'] / row['encoder']['latency_ms'])
        assert r['ratios'][f'infer_onnxruntime_vs_pytorch_batch{bs}'] == pytest.approx(
            row['config_onnxruntime']['latency_ms'] / row['config']['latency_ms'])
    assert r['infer']['onnxruntime_providers']['config_onnxruntime'] == 'CPUExecutionProvider'
    for bs in (1, 2):
        row = r['infer'][f'batch{bs}']
        flops = {n: row[n]['gflop'] for n in ('config', 'baseline', 'encoder')}
        assert flops['config'] == flops['baseline'] > flops['encoder'] > 0
        assert r['ratios'][f'infer_flops_vs_encoder_batch{bs}'] == pytest.approx(
            flops['config'] / flops['encoder'])
    assert r['infer']['batch2']['encoder']['gflop'] == pytest.approx(
        2 * r['infer']['batch1']['encoder']['gflop'])
    params = r['infer']['params_m']
    assert params['config'] == params['baseline'] > params['encoder'] > 0


def test_inference_with_folded_batch_norms(tmp_path, capsys):
    """``--fuse-conv-bn``: the deployed models run folded (still checked identical to each
    other first), and the encoder is timed both plain and folded the same way."""
    cfg = write_configs(tmp_path)
    r = bench_cli.main([cfg, '--device', 'cpu', '--iters', '1', '--warmup', '0',
                        '--infer-batch', '1', '--skip', 'train,data,e2e', '--fuse-conv-bn'])
    assert r['fuse_conv_bn'] is True
    assert r['infer']['identical_graph'] and r['infer']['identical_outputs']
    row = r['infer']['batch1']
    assert {'config', 'baseline', 'encoder', 'encoder_fused'} <= set(row)
    for ref in ('encoder', 'encoder_fused'):
        assert r['ratios'][f'infer_vs_{ref}_batch1'] == pytest.approx(
            row['config']['latency_ms'] / row[ref]['latency_ms'])
    assert 'vs_encoder_fused' in capsys.readouterr().out
    # folding drops each batch norm's two affine vectors and adds a bias to its convolution:
    # fewer parameters in the folded encoder, the same arithmetic in the counted products
    params = r['infer']['params_m']
    assert params['encoder_fused'] < params['encoder']
    deployed = bench.inputs.build_model(load_config(cfg), torch.device('cpu')).deploy()
    head = sum(p.numel() for n, p in deployed.named_parameters()
               if not n.startswith('encoder.')) / 1e6
    assert params['config'] - params['encoder_fused'] == pytest.approx(head)  # folded too
    assert row['encoder_fused']['gflop'] == pytest.approx(row['encoder']['gflop'])
    with pytest.raises(ConfigError, match='fuse_conv_bn .* compile'):
        bench.BenchmarkSettings(fuse_conv_bn=True, compile=True)


@pytest.mark.slow
def test_compiled_inference_checks_the_deployed_graph(tmp_path):
    """``--compile`` wraps the model's parts (``_orig_mod.`` in the state-dict keys): the
    identical-outputs check loads the weights into an equally compiled baseline."""
    cfg = write_configs(tmp_path)
    r = bench_cli.main([cfg, '--device', 'cpu', '--iters', '1', '--warmup', '0',
                        '--infer-batch', '1', '--skip', 'train,data,e2e', '--compile'])
    assert r['infer']['identical_graph'] and r['infer']['identical_outputs']
    assert r['infer']['batch1']['config']['gflop'] > 0


def test_count_gflop_hand_computed():
    """A multiply-add is 2 FLOP: Linear(3 -> 4) on 5 rows is 2*5*3*4 = 120; a 3x3 conv,
    2 -> 4 channels, on a 6x6 map with padding 1 is 2*36*4*2*9 = 5,184 per image."""
    from gclhand.benchmark.inference import count_gflop
    lin, conv = torch.nn.Linear(3, 4), torch.nn.Conv2d(2, 4, 3, padding=1)
    assert count_gflop(lambda: lin(torch.randn(5, 3))) * 1e9 == pytest.approx(120)
    assert count_gflop(lambda: conv(torch.randn(3, 2, 6, 6))) * 1e9 == pytest.approx(3 * 5184)


def test_encoder_reference_is_the_configs_encoder():
    cfg = load_config(config_path('dgcl_interhand.py'))
    from gclhand.benchmark.inference import build_encoder
    enc = build_encoder(cfg, torch.device('cpu'), False, False, 0)
    model = bench.build_model(cfg, torch.device('cpu'))
    assert bench.same_graph(enc, model.encoder) and not enc.training


def test_encoder_train_reference_updates_only_the_configs_encoder(tmp_path):
    cfg = load_config(write_configs(tmp_path))
    settings = bench.BenchmarkSettings(iters=1, warmup=0)
    ref = bench.EncoderTrainer(cfg, settings, torch.device('cpu'), 2)
    model = bench.build_model(cfg, torch.device('cpu'))
    assert bench.same_graph(ref.model, model.encoder) and ref.model.training
    assert ref.inputs.shape == (2, 3, 64, 64) and ref.inputs.dtype == torch.float32
    before = [p.detach().clone() for p in ref.model.parameters()]
    assert ref.step() > 0
    # one Adam update moved every encoder parameter (each one reaches the feature maps)
    assert all(not torch.equal(a, p) for a, p in zip(before, ref.model.parameters()))


def test_intaghand_path_must_be_a_checkout(tmp_path):
    with pytest.raises(ConfigError, match='IntagHand checkout'):
        bench.BenchmarkSettings(intaghand=str(tmp_path / 'missing'))
    from gclhand.benchmark.peers import build_intaghand
    with pytest.raises(ConfigError, match=r'models/model\.py is missing.*git clone'):
        build_intaghand(str(tmp_path))


@pytest.mark.skipif(not os.environ.get('GCLHAND_INTAGHAND'),
                    reason='set GCLHAND_INTAGHAND to an IntagHand checkout to run the peer')
def test_intaghand_peer_from_checkout():
    """With a checkout of github.com/Dw1010/IntagHand: its network builds with the
    stand-ins, maps a batch to 778 vertices per hand and leaves sys.modules as it was."""
    import sys

    from gclhand.benchmark.peers import build_intaghand
    before = set(sys.modules)
    net = build_intaghand(os.environ['GCLHAND_INTAGHAND'])
    assert not {k for k in set(sys.modules) - before
                if k.split('.')[0] in ('models', 'utils', 'dataset', 'torchvision', 'yacs')}
    with torch.inference_mode():
        result = net(torch.randn(1, 3, 256, 256))[0]
    assert result['verts3d']['left'].shape == result['verts3d']['right'].shape == (1, 778, 3)
    assert 'torchvision' in net.stand_ins['encoder']


def test_cpu_amp_autocasts_the_forward_pass_only():
    """On the CPU (no AmpOptimWrapper) --amp puts the forward pass under autocast through
    the optimiser wrapper's optim_context, as AmpOptimWrapper does on a GPU; the backward
    pass and the update run outside it."""
    from mmengine.config import Config
    model = torch.nn.Linear(4, 4)
    cfg = Config(dict(optim_wrapper=dict(type='OptimWrapper',
                                         optimizer=dict(type='SGD', lr=0.1))))
    ow = bench.build_optim_wrapper(cfg, model, torch.device('cpu'), 'bf16')
    assert type(ow).__name__ == 'CpuAutocastOptimWrapper'
    with ow.optim_context(model):
        assert torch.is_autocast_enabled('cpu')
        y = model(torch.randn(2, 4))
    assert y.dtype == torch.bfloat16 and not torch.is_autocast_enabled('cpu')
    ow.update_params(y.float().sum())
    assert model.weight.grad is None or model.weight.grad.dtype == torch.float32
    plain = bench.build_optim_wrapper(cfg, model, torch.device('cpu'), None)
    assert type(plain).__name__ == 'OptimWrapper'


def test_synthetic_batch_feeds_every_aux_head():
    """The benchmark's random batch carries a target for each output of the training-only
    heads, at the size the head predicts (IntagHand's three maps here)."""
    from gclhand.benchmark.inputs import build_model, synthetic_batch
    cfg = load_config(config_path('dgcl_intagaux_synth.py'))
    model = build_model(cfg, torch.device('cpu'))
    batch = synthetic_batch(model, 2, 64)
    sample = batch['data_samples'][0]
    assert tuple(sample.gt_mask.shape) == (2, 16, 16)  # 64 px / 4: the head's level 0
    assert tuple(sample.gt_dense.shape) == (3, 16, 16)
    assert tuple(sample.gt_heatmaps.shape) == (42, 16, 16)
    losses = model(**model.data_preprocessor(batch, True), mode='loss')
    assert {'loss_heatmaps', 'loss_mask', 'loss_dense'} <= set(losses)
    assert all(torch.isfinite(v) for v in losses.values())
