"""Deployed-model inference latency beside its references, interleaved in one run.

For each inference batch size the following run alternately (A B C ... then reversed), so
machine load hits all alike; each is a median over ``iters`` repetitions after ``warmup``:

* ``config`` / ``baseline``: the deployed models (``model.deploy()``, eval,
  ``torch.inference_mode``, ``mode='tensor'``) on a preprocessed synthetic batch; the
  deployed config model must be the baseline's graph and give identical outputs with the
  same weights (``identical_graph`` / ``identical_outputs``).
* ``encoder``: the config's encoder alone (a plain ResNet-50 for the paper configs), same
  input - what the deployed model costs at least; ``ratios['infer_vs_encoder_batch{B}']``.
* ``encoder_fused`` (``fuse_conv_bn=True``): the encoder with its batch norms folded into
  its convolutions (:func:`gclhand.apis.fuse_conv_bn`), as the deployed models then are;
  ``ratios['infer_vs_encoder_fused_batch{B}']`` is the cost of everything but the encoder
  with the folding on both sides.
* ``config_onnxruntime`` / ``encoder_onnxruntime`` (``onnx=True``): the same two networks
  exported to ONNX (:func:`gclhand.apis.export.export_onnx`, the ``gclhand export`` path,
  which uses the decoder's dense graph operators: ONNX has no sparse ones) and run by ONNX
  Runtime with all graph optimisations (CUDA provider on ``cuda``, else CPU,
  ``intra_op_num_threads`` = torch's thread count), fp32.
* ``intaghand`` (``intaghand=PATH``): IntagHand's network built from a checkout of its
  repository (:func:`gclhand.benchmark.peers.build_intaghand`), the peer the paper
  compares with; ``ratios['infer_vs_intaghand_batch{B}']``.

``params_m`` gives each PyTorch network's parameter count in millions; each PyTorch row
also has ``gflop``, the network's arithmetic per call (:func:`count_gflop`), and
``ratios['infer_flops_vs_encoder_batch{B}']`` the config's over the encoder's: the latency
ratio at which every operation runs at the encoder's rate (the practical floor of a speed
path that keeps the model's arithmetic).
"""
import copy
import os.path as osp
import statistics
import tempfile
from typing import Callable, Dict

import torch

from gclhand.apis.deploy import fuse_conv_bn
from .inputs import build_model, image_size, same_graph, synthetic_batch
from .timing import (autocast_ctx, clock_fn, interleave, median_ms, peak_memory_mb, reset_peak,
                     sync)


def _params_m(module: torch.nn.Module) -> float:
    return sum(p.numel() for p in module.parameters()) / 1e6


def _check_identical(cfgs, models, settings, device) -> dict:
    """The deployed config model is the baseline network: same graph, same outputs."""
    names = list(models)
    a, b = models[names[0]], models[names[1]]
    res = dict(identical_graph=same_graph(a, b))
    if res['identical_graph']:  # a's weights in a fresh baseline -> the same outputs
        # compiled like a (--compile: compiled and eager kernels round differently); the
        # state-dict keys then carry torch.compile's '_orig_mod.' in both
        b2 = build_model(cfgs[names[1]], device, settings.channels_last, settings.compile,
                         settings.seed + 1).deploy().eval()
        b2.load_state_dict(a.state_dict())
        x = synthetic_batch(a, 2, image_size(cfgs[names[0]]), settings.seed)
        with torch.inference_mode():
            ya = a(**a.data_preprocessor(x), mode='tensor')['verts']
            yb = b2(**b2.data_preprocessor(x), mode='tensor')['verts']
        res['identical_outputs'] = bool(torch.equal(ya, yb))
    return res


def build_encoder(cfg, device: torch.device, channels_last: bool, compile: bool,
                  seed: int) -> torch.nn.Module:
    """The config's ``model.encoder`` alone, built through ``ENCODERS``, eval mode."""
    from gclhand.registry import ENCODERS
    torch.manual_seed(seed)
    enc_cfg = copy.deepcopy(cfg.model.encoder)
    enc_cfg.pop('init_cfg', None)  # random weights cost the same as pretrained ones
    encoder = ENCODERS.build(enc_cfg).to(device).eval()
    if channels_last:
        encoder.to(memory_format=torch.channels_last)
    return torch.compile(encoder) if compile else encoder


def onnxruntime_sessions(model, encoder, size: int, device: torch.device, tmp: str,
                         threads: int) -> dict:
    """Export the deployed model (``ExportableHandModel``: 0..255 RGB in, metres out) and
    the encoder to ONNX under ``tmp`` and open ONNX Runtime sessions on them."""
    try:
        import onnxruntime as ort
    except ImportError as e:
        raise ImportError('the ONNX Runtime columns need onnx and onnxruntime: pip install '
                          'onnx onnxruntime (in the test and export extras)') from e
    from gclhand.apis.export import ExportableHandModel, export_onnx

    def cpu_copy(module):  # the timed PyTorch modules stay as they are
        module = getattr(module, '_orig_mod', module)  # torch.compile's wrapper
        # (the shared hand model is not copied: MANOHandModel.__deepcopy__)
        return copy.deepcopy(module).to('cpu').to(memory_format=torch.contiguous_format)

    path = osp.join(tmp, 'model.onnx')
    export_onnx(ExportableHandModel(cpu_copy(model)), torch.rand(1, 3, size, size) * 255, path)
    enc_path = osp.join(tmp, 'encoder.onnx')
    with torch.no_grad():
        torch.onnx.export(cpu_copy(encoder), (torch.randn(1, 3, size, size), ), enc_path,
                          input_names=['images'],
                          output_names=[f'feat{i}' for i in range(4)],
                          dynamic_axes={'images': {0: 'batch'}}, opset_version=17,
                          do_constant_folding=True, dynamo=False)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    providers = (['CUDAExecutionProvider', 'CPUExecutionProvider']
                 if device.type == 'cuda' else ['CPUExecutionProvider'])
    sessions = {n: ort.InferenceSession(p, options, providers=providers)
                for n, p in (('config_onnxruntime', path), ('encoder_onnxruntime', enc_path))}
    return dict(sessions=sessions, providers={n: s.get_providers()[0]
                                              for n, s in sessions.items()})


def bench_inference(cfgs: Dict[str, object], settings, device: torch.device) -> dict:
    """See the module docstring; returns ``dict(batch{B}={name: latency_ms, ...}, ...)``."""
    models = {n: build_model(c, device, settings.channels_last, settings.compile, settings.seed)
              .deploy().eval() for n, c in cfgs.items()}
    cfg, names = cfgs['config'], list(models)
    size = image_size(cfg)
    res = _check_identical(cfgs, models, settings, device) if len(names) == 2 else {}
    fuse = getattr(settings, 'fuse_conv_bn', False)
    if fuse:  # after the check above, which loads one model's state dict into another
        for model in models.values():
            fuse_conv_bn(model)
    nets: Dict[str, torch.nn.Module] = dict(models)
    if getattr(settings, 'encoder_reference', True):
        nets['encoder'] = build_encoder(cfg, device, settings.channels_last, settings.compile,
                                        settings.seed)
        if fuse:
            nets['encoder_fused'] = fuse_conv_bn(copy.deepcopy(nets['encoder']))
    if getattr(settings, 'intaghand', None):
        from .peers import build_intaghand
        nets['intaghand'] = build_intaghand(settings.intaghand, device=device,
                                            seed=settings.seed)
        res['intaghand'] = dict(checkout=osp.abspath(settings.intaghand),
                                **nets['intaghand'].stand_ins)
    res['params_m'] = {n: _params_m(m) for n, m in nets.items()}
    tmp = tempfile.TemporaryDirectory(prefix='gclhand_bench_onnx_')
    sessions = {}
    if getattr(settings, 'onnx', False):
        ort = onnxruntime_sessions(models['config'], nets['encoder'], size, device, tmp.name,
                                   torch.get_num_threads())
        sessions = ort['sessions']
        res['onnxruntime_providers'] = ort['providers']
    try:
        for bs in settings.infer_batch:
            res[f'batch{bs}'] = _time_batch(models, nets, sessions, settings, device, bs,
                                            size)
    finally:
        tmp.cleanup()
    return res


def _time_batch(models, nets, sessions, settings, device, bs: int, size: int) -> dict:
    first = next(iter(models.values()))
    batches = {n: m.data_preprocessor(synthetic_batch(m, bs, size, settings.seed))
               for n, m in models.items()}
    images = batches['config']['inputs']  # normalised, on the device
    pre = first.data_preprocessor
    raw = (images * pre.std + pre.mean) if getattr(pre, 'mean', None) is not None else images
    raw_np = raw.float().cpu().contiguous().numpy()
    norm_np = images.float().cpu().contiguous().numpy()

    def torch_fn(name, plain: bool = False) -> Callable[[], None]:
        net = nets[name]
        if plain:  # the module under torch.compile's wrapper
            net = getattr(net, '_orig_mod', net)
        if name in models:
            return lambda: net(**batches[name], mode='tensor')
        return lambda: net(images)

    clock = clock_fn(getattr(settings, 'clock', 'wall'))

    def timed(fn, amp=True):
        def f():
            sync(device)
            t = clock()
            with torch.inference_mode(), autocast_ctx(device, settings.amp if amp else None):
                fn()
            sync(device)
            return clock() - t
        return f

    fns = {n: timed(torch_fn(n)) for n in nets}
    for name, sess in sessions.items():
        feed = {'images': raw_np if name == 'config_onnxruntime' else norm_np}
        fns[name] = timed(lambda s=sess, x=feed: s.run(None, x), amp=False)
    reset_peak(device)
    times = interleave(fns, settings.iters, settings.warmup)
    row = {n: dict(latency_ms=median_ms(ts), latency_ms_min=1e3 * min(ts),
                   samples_per_s=bs / statistics.median(ts)) for n, ts in times.items()}
    row['peak_memory_mb'] = peak_memory_mb(device)
    for name in nets:  # counted on the plain module (not torch.compile's)
        row[name]['gflop'] = count_gflop(torch_fn(name, plain=True))
    return row


def count_gflop(fn: Callable[[], object]) -> float:
    """Floating-point operations of one call of ``fn`` in GFLOP (a multiply-add counts 2),
    counted by :class:`torch.utils.flop_counter.FlopCounterMode` (matrix products,
    convolutions, attention; element-wise work is not counted).

    The ratio of two networks' counts is the latency ratio they would have if every
    operation ran at the same rate: what a speed path that keeps the arithmetic (fusing,
    batching, dropping Python work) approaches when it makes the smaller network's
    operations as efficient as the larger one's.
    """
    from torch.utils.flop_counter import FlopCounterMode
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops() / 1e9


def inference_ratios(infer: dict, batches) -> Dict[str, float]:
    """``config`` latency over each reference's, per batch size (medians)."""
    out = {}
    for bs in batches:
        row = infer[f'batch{bs}']
        lat = {n: v['latency_ms'] for n, v in row.items() if isinstance(v, dict)}
        for ref, key in (('baseline', 'infer_batch{}'), ('encoder', 'infer_vs_encoder_batch{}'),
                         ('encoder_fused', 'infer_vs_encoder_fused_batch{}'),
                         ('intaghand', 'infer_vs_intaghand_batch{}')):
            if ref in lat:
                out[key.format(bs)] = lat['config'] / lat[ref]
        gflop = {n: v['gflop'] for n, v in row.items() if isinstance(v, dict) and 'gflop' in v}
        if 'config' in gflop and gflop.get('encoder'):
            out[f'infer_flops_vs_encoder_batch{bs}'] = gflop['config'] / gflop['encoder']
        if 'config_onnxruntime' in lat:
            out[f'infer_onnxruntime_vs_pytorch_batch{bs}'] = \
                lat['config_onnxruntime'] / lat['config']
            out[f'infer_onnxruntime_vs_encoder_onnxruntime_batch{bs}'] = \
                lat['config_onnxruntime'] / lat['encoder_onnxruntime']
    return out


__all__ = ['bench_inference', 'build_encoder', 'count_gflop', 'inference_ratios',
           'onnxruntime_sessions']
