"""Which component produced a NaN/Inf: cheap per-component finiteness flags.

:class:`NonFiniteTracer` puts a forward hook on a model's sub-modules down to ``depth``
levels (``encoder``, ``decoder``, ``dgcl``, ``dgcl.disturber``, ``losses.joints_3d``, ...).
While tracing (a training step), each hook stores one boolean *tensor* - "this output is
all finite" - without reading it, so the step never waits on the device.  Only when the loss
turns out non-finite does :meth:`NonFiniteTracer.describe` read the flags: the first
component, in the order the forward pass ran, whose output was non-finite is where the
NaN/Inf appeared (a parent's hook fires after its children's, so the deepest origin is
named).  Used by ``TwoHandEstimator``'s guard and by
:class:`~gclhand.engine.hooks.NonFiniteGuardHook` for any other model.
"""
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Tuple

import torch
from torch import nn


def _tensors(obj) -> Iterator[torch.Tensor]:
    """Floating-point tensors inside a module output (tensor, dict, list, tuple, NamedTuple)."""
    if isinstance(obj, torch.Tensor):
        if obj.is_floating_point() or obj.is_complex():
            yield obj
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from _tensors(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from _tensors(value)


def describe_module(name: str, module: nn.Module) -> str:
    """``'dgcl.disturber (NodeDrop from gclhand_nodedrop.node_drop)'``."""
    cls = type(module)
    return f'{name} ({cls.__name__} from {cls.__module__})'


class NonFiniteTracer:
    """Finiteness flags of a model's sub-module outputs, read only after a failure.

    Args:
        model: the model (unwrapped from DDP).
        depth: hook sub-modules whose qualified name has at most this many parts
            (2: ``decoder`` and ``decoder.layers``, not deeper).
    """

    def __init__(self, model: nn.Module, depth: int = 2):
        self.model = model
        self.enabled = False
        self._records: List[Tuple[str, nn.Module, torch.Tensor]] = []
        self._handles = [module.register_forward_hook(self._hook(name))
                         for name, module in model.named_modules()
                         if name and name.count('.') < depth
                         and not isinstance(module, (nn.ModuleDict, nn.ModuleList))]

    def _hook(self, name: str):
        def hook(module, inputs, output):
            if not self.enabled:
                return
            flags = [torch.isfinite(t).all() for t in _tensors(output)]
            if flags:
                self._records.append((name, module, torch.stack(flags).all()))
        return hook

    def start(self) -> None:
        """Record the flags of the following forward passes (drops the previous records)."""
        self._records = []
        self.enabled = True

    def stop(self) -> None:
        """Stop recording (the records stay readable until the next :meth:`start`)."""
        self.enabled = False

    @contextmanager
    def tracing(self):
        """:meth:`start` ... :meth:`stop` around the forward passes inside."""
        self.start()
        try:
            yield self
        finally:
            self.stop()

    def first_nonfinite(self) -> Optional[str]:
        """The first traced component whose output was non-finite (reads the flags)."""
        for name, module, finite in self._records:
            if not bool(finite):
                return describe_module(name, module)
        return None

    def describe(self, inputs=None, labels: Optional[Dict[str, torch.Tensor]] = None) -> str:
        """Where the non-finite values came from, in words (for a log line or an error).

        Checked in this order: the network input, the labels (``{name: tensor}``, e.g.
        ``'gt_joints_3d of sample_idx 7'``), the parameters, then the traced components.
        """
        if inputs is not None and not all(bool(torch.isfinite(t).all())
                                          for t in _tensors(inputs)):
            return 'the input batch (non-finite pixel values)'
        bad_labels = [k for k, v in (labels or {}).items()
                      if not all(bool(torch.isfinite(t).all()) for t in _tensors(v))]
        if bad_labels:
            more = ' ...' if len(bad_labels) > 3 else ''
            return f'the labels {bad_labels[:3]}{more} (non-finite ground truth: check the data)'
        bad_params = [n for n, p in self.model.named_parameters()
                      if not bool(torch.isfinite(p).all())]
        if bad_params:
            more = ' ...' if len(bad_params) > 3 else ''
            return (f'the parameters {bad_params[:3]}{more} (already non-finite: an earlier '
                    'update diverged; lower the learning rate)')
        origin = self.first_nonfinite()
        if origin is not None:
            return origin
        return ('the loss computation (every traced module output was finite: check the '
                'loss terms named above)')

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []


__all__ = ['NonFiniteTracer', 'describe_module']
