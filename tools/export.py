"""Export the deployed two-hand model to TorchScript or ONNX and verify it against PyTorch.

    python tools/export.py CONFIG CHECKPOINT --format torchscript|onnx [--out FILE]
                           [--input-size 256] [--batch 2] [--atol 1e-4]

The exported graph is the *deployed* model (``model.deploy()``: the training-only DGCL module
removed), i.e. the GCN baseline graph: encoder + hand split + Chebyshev GCN decoder + camera
head, wrapped tensor-in / tensor-out by :class:`ExportableHandModel`:

    images   (B, 3, S, S) float32 RGB in 0..255 (normalisation is inside the graph)
    -> vertices (B, 2, 778, 3)  metres, each hand relative to its wrist (hand axis: left, right)
       joints   (B, 2, 21, 3)   metres, wrist-relative, library joint order
       cam      (B, 2, 3)       weak-perspective (s, tx, ty): u = s * X_xy / L + t,
                                u in image-size-normalised coordinates, L = canonical_length
       rel_root (B, 3)          left wrist minus right wrist, metres

(the same numbers as ``model.predict``).  ``canonical_length`` is stored in the TorchScript
module as an attribute and in the ONNX model's metadata.

How: ``torch.jit.trace`` (TorchScript) and ``torch.onnx.export(..., dynamo=False)``
(TorchScript-based ONNX exporter, opset 17) of the PyG model as it is - PyG's ``ChebConv`` /
``MessagePassing`` trace to gather + scatter-add ops, no export-only code path.  The batch
axis is dynamic.  Verification runs the exported file on random images of a *different*
batch size than the export example and reports the max abs difference to the PyTorch model
per output; the tool fails (exit 1) above ``--atol`` (default 1e-4).  ONNX verification uses
onnxruntime (``pip install onnx onnxruntime``, or ``pip install -e ".[export]"``).

``CHECKPOINT`` may be ``none`` (initial weights; for testing the plumbing).
"""
import argparse
import os
import os.path as osp
import sys
import time
import warnings
from typing import Dict, List, Tuple

import numpy as np
import torch
import torch.nn as nn

OUTPUT_NAMES = ('vertices', 'joints', 'cam', 'rel_root')


class ExportableHandModel(nn.Module):
    """Tensor-in, tensor-out wrapper of a deployed ``TwoHandEstimator`` (see the tool doc).

    ``forward(images)`` with ``images`` ``(B, 3, S, S)`` float RGB 0..255 returns
    ``(vertices (B, 2, 778, 3), joints (B, 2, 21, 3), cam (B, 2, 3), rel_root (B, 3))``,
    equal to the ``pred_*`` fields of ``model.predict`` (metres, wrist-relative).
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        if getattr(model, 'dgcl', None) is not None:
            raise ValueError('export the deployed model: call model.deploy() first '
                             '(init_model does it by default)')
        self.model = model.eval()
        pre = model.data_preprocessor
        mean = getattr(pre, 'mean', None)
        std = getattr(pre, 'std', None)
        self.register_buffer('mean', (mean if mean is not None else torch.zeros(3, 1, 1))
                             .detach().float().reshape(1, 3, 1, 1).clone())
        self.register_buffer('std', (std if std is not None else torch.ones(3, 1, 1))
                             .detach().float().reshape(1, 3, 1, 1).clone())
        self.canonical_length = float(model.canonical_length)

    def forward(self, images: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        x = (images - self.mean) / self.std
        out = self.model._forward_net(x)[0]
        wrist = out['joints'][:, :, :1]
        L = self.canonical_length
        return ((out['verts'] - wrist) * L, (out['joints'] - wrist) * L, out['cam'],
                out['rel_root'] * L)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config', help='config file the checkpoint was trained with')
    p.add_argument('checkpoint', help="checkpoint file, or 'none' for the initial weights")
    p.add_argument('--format', choices=['torchscript', 'onnx'], required=True)
    p.add_argument('--out', default=None,
                   help='output file (default: CHECKPOINT name + .pt / .onnx, or '
                   'hand_model.pt / .onnx)')
    p.add_argument('--input-size', type=int, default=None,
                   help='square input side; default: the config (input_size, or the '
                   'ResizeHand size of its test pipeline), else 256')
    p.add_argument('--batch', type=int, default=2,
                   help='batch of the export example; verification uses batch + 1')
    p.add_argument('--atol', type=float, default=1e-4,
                   help='max abs difference allowed in verification (default 1e-4)')
    p.add_argument('--opset', type=int, default=17, help='ONNX opset (default 17)')
    p.add_argument('--no-verify', action='store_true', help='skip the verification')
    p.add_argument('--seed', type=int, default=0, help='seed of the random inputs')
    return p.parse_args(argv)


def export_torchscript(wrapper: ExportableHandModel, example: torch.Tensor, out: str) -> None:
    """``torch.jit.trace`` the wrapper and save it (``canonical_length`` kept as attribute)."""
    with torch.no_grad():
        traced = torch.jit.trace(wrapper, (example, ), check_trace=False)
    traced = torch.jit.freeze(traced)
    torch.jit.save(traced, out, _extra_files={
        'canonical_length': str(wrapper.canonical_length),
        'outputs': ','.join(OUTPUT_NAMES)})


def export_onnx(wrapper: ExportableHandModel, example: torch.Tensor, out: str,
                opset: int = 17) -> None:
    """TorchScript-based ONNX export (``dynamo=False``) with a dynamic batch axis."""
    dynamic = {'images': {0: 'batch'}}
    dynamic.update({n: {0: 'batch'} for n in OUTPUT_NAMES})
    with torch.no_grad():
        torch.onnx.export(wrapper, (example, ), out, input_names=['images'],
                          output_names=list(OUTPUT_NAMES), dynamic_axes=dynamic,
                          opset_version=opset, do_constant_folding=True, dynamo=False)
    import onnx
    proto = onnx.load(out)
    entry = proto.metadata_props.add()
    entry.key, entry.value = 'canonical_length', str(wrapper.canonical_length)
    onnx.save(proto, out)


def run_exported(fmt: str, path: str, images: torch.Tensor) -> List[np.ndarray]:
    """Outputs of the exported file on ``images`` (TorchScript or onnxruntime, CPU)."""
    if fmt == 'torchscript':
        module = torch.jit.load(path, map_location='cpu')
        with torch.no_grad():
            return [o.numpy() for o in module(images)]
    try:
        import onnxruntime as ort
    except ImportError as e:
        raise ImportError('verifying an ONNX export needs onnxruntime: pip install '
                          'onnxruntime (or pip install -e ".[export]"), or pass '
                          '--no-verify') from e
    sess = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    return sess.run(list(OUTPUT_NAMES), {'images': images.numpy()})


def verify(fmt: str, path: str, wrapper: ExportableHandModel, size: int, batch: int,
           seed: int = 0) -> Dict[str, float]:
    """Max abs difference per output between the exported file and PyTorch.

    Also checks that the wrapper itself reproduces ``model.predict`` (through the model's
    data preprocessor) on the same images, so the reference is the library's own output.
    """
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(batch, 3, size, size, generator=g) * 255
    with torch.no_grad():
        ref = [o.numpy() for o in wrapper(images)]
        data = wrapper.model.data_preprocessor(dict(inputs=list(images)), False)
        preds = wrapper.model.predict(data['inputs'])
    fields = ('pred_verts_3d', 'pred_joints_3d', 'pred_cam', 'pred_rel_root')
    for name, field, r in zip(OUTPUT_NAMES, fields, ref):
        p = torch.stack([getattr(s, field) for s in preds]).numpy()
        if not np.allclose(p, r, atol=1e-5, rtol=0):
            raise AssertionError(f'ExportableHandModel output {name} differs from '
                                 f'model.predict by {np.abs(p - r).max():.3g}')
    got = run_exported(fmt, path, images)
    diffs = {}
    for name, r, o in zip(OUTPUT_NAMES, ref, got):
        if tuple(o.shape) != tuple(r.shape):
            raise AssertionError(f'exported output {name} has shape {tuple(o.shape)}, '
                                 f'PyTorch {tuple(r.shape)}')
        diffs[name] = float(np.abs(o - r).max())
    return diffs


def main(argv=None) -> Dict[str, float]:
    args = parse_args(argv)
    from gclhand.apis import init_model, input_size_from_config
    from gclhand.utils import register_all_modules
    from gclhand.utils.cli import load_config

    register_all_modules()
    # the tracer warns that the hand model's fixed index arrays (joint regressor, fingertip
    # vertices) become constants of the graph: that is intended
    warnings.filterwarnings('ignore', category=torch.jit.TracerWarning)
    cfg = load_config(args.config)
    checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
    size = args.input_size or input_size_from_config(cfg)
    model = init_model(cfg, checkpoint, device='cpu', deploy=True, input_size=size)
    wrapper = ExportableHandModel(model).eval()
    ext = '.pt' if args.format == 'torchscript' else '.onnx'
    out = args.out or (osp.splitext(checkpoint)[0] + ext if checkpoint else 'hand_model' + ext)
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    example = torch.rand(args.batch, 3, size, size,
                         generator=torch.Generator().manual_seed(args.seed + 1)) * 255
    t0 = time.perf_counter()
    if args.format == 'torchscript':
        export_torchscript(wrapper, example, out)
    else:
        export_onnx(wrapper, example, out, args.opset)
    print(f'exported {args.format} ({size}x{size} input, dynamic batch) to {out} '
          f'in {time.perf_counter() - t0:.1f} s')
    if args.no_verify:
        return {}
    diffs = verify(args.format, out, wrapper, size, args.batch + 1, args.seed)
    worst = max(diffs.values())
    print('max abs diff vs PyTorch (batch %d): ' % (args.batch + 1)
          + ', '.join(f'{k} {v:.2e}' for k, v in diffs.items()))
    if worst > args.atol:
        print(f'error: verification failed: max abs diff {worst:.3g} > --atol {args.atol}',
              file=sys.stderr)
        raise SystemExit(1)
    print(f'verification passed (<= {args.atol:g})')
    return diffs


if __name__ == '__main__':
    from gclhand.utils.cli import run_tool
    sys.exit(run_tool(main))
