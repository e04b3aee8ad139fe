"""Exporting the deployed two-hand model to TorchScript / ONNX and checking the file.

:class:`ExportableHandModel` wraps a deployed ``TwoHandEstimator`` (``model.deploy()``: the
training-only DGCL module removed, i.e. the GCN baseline graph: encoder + hand split +
Chebyshev GCN decoder + camera head) tensor-in / tensor-out:

    images   (B, 3, S, S) float32 RGB in 0..255 (normalisation is inside the graph)
    -> vertices (B, 2, 778, 3)  metres, each hand relative to its wrist (hand axis: left, right)
       joints   (B, 2, 21, 3)   metres, wrist-relative, library joint order
       cam      (B, 2, 3)       weak-perspective (s, tx, ty): u = s * X_xy / L + t,
                                u in image-size-normalised coordinates, L = canonical_length
       rel_root (B, 3)          left wrist minus right wrist, metres

(the same numbers as ``model.predict``).  :func:`export_torchscript` (``torch.jit.trace``)
and :func:`export_onnx` (``torch.onnx.export(..., dynamo=False)``, the TorchScript-based
exporter) write the PyG model as it is - ``ChebConv`` / ``MessagePassing`` trace to gather +
scatter-add ops, no export-only code path - with a dynamic batch axis;
:func:`verify` runs the file and returns the max abs difference per output.
The command line is ``gclhand export`` (:mod:`gclhand.cli.export`).
"""
from typing import Dict, List, Tuple

import numpy as np
import torch
import torch.nn as nn

OUTPUT_NAMES = ('vertices', 'joints', 'cam', 'rel_root')


class ExportableHandModel(nn.Module):
    """Tensor-in, tensor-out wrapper of a deployed ``TwoHandEstimator`` (see the module doc).

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
    """TorchScript-based ONNX export (``dynamo=False``) with a dynamic batch axis.

    ONNX has no sparse-matrix operators, so a decoder using the sparse CSR Laplacian
    (``ChebGCNDecoder(laplacian='csr')``, the default) is switched to its ``'dense'``
    operator first: same parameters, same outputs to float rounding.
    """
    decoder = getattr(wrapper.model, 'decoder', None)
    if getattr(decoder, 'laplacian', None) == 'csr' and hasattr(decoder, 'set_laplacian'):
        decoder.set_laplacian('dense')
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


__all__ = ['OUTPUT_NAMES', 'ExportableHandModel', 'export_onnx', 'export_torchscript',
           'run_exported', 'verify']
