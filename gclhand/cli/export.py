"""Export the deployed two-hand model to TorchScript or ONNX and verify it against PyTorch.

    gclhand export CONFIG CHECKPOINT --format torchscript|onnx [--out FILE]
                   [--input-size 256] [--batch 2] [--atol 1e-4]

The work is done by :mod:`gclhand.apis.export`, whose docstring lists the exported graph's
inputs and outputs: the *deployed* model (training-only DGCL module and auxiliary heads
removed), i.e. the GCN baseline graph wrapped tensor-in / tensor-out by
:class:`~gclhand.apis.export.ExportableHandModel` - images ``(B, 3, S, S)`` RGB 0..255 in,
vertices, joints, cameras and the relative root translation out, the numbers of
``model.predict``.  ``canonical_length`` is stored in the TorchScript file's extra files
and in the ONNX model's metadata.

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
from typing import Dict

import torch

from gclhand.apis.export import (ExportableHandModel, export_onnx, export_torchscript,
                                 verify)
from .config import check_registered_types, load_config


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


def main(argv=None) -> Dict[str, float]:
    args = parse_args(argv)
    from gclhand.apis import init_model, input_size_from_config, register_all_modules

    register_all_modules()
    # the tracer warns that the hand model's fixed index arrays (joint regressor, fingertip
    # vertices) become constants of the graph: that is intended
    warnings.filterwarnings('ignore', category=torch.jit.TracerWarning)
    from gclhand.engine.config_utils import evaluation_only_config
    # the training and validation splits are never built: their types are not needed
    cfg = evaluation_only_config(load_config(args.config, deployed=True))
    check_registered_types(cfg)
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
