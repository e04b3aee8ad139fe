"""The deployed model's config: the estimator without its training-only parts.

``TwoHandEstimator.deploy()`` deletes the modules of :data:`TRAINING_ONLY_KEYS` from a
built model; :func:`deployed_model_config` removes them from the config instead, so
evaluation, the demo and export build only what ``predict`` runs.  A component that only
training uses - e.g. a DGCL disturber from a plugin that is not installed - is then never
looked up, and a training checkpoint still loads (the estimator drops its ``dgcl.`` /
``aux_heads.`` entries with a log line).

:func:`fuse_conv_bn` is the optional last step for inference: it folds the encoder's
batch norms into its convolutions (the same function, fewer operations).
"""
import torch
import torch.nn as nn

#: config keys of ``TwoHandEstimator`` whose modules exist only for training
TRAINING_ONLY_KEYS = ('dgcl', 'aux_heads')


def deployed_model_config(model_cfg: dict) -> dict:
    """A copy of ``model_cfg`` without :data:`TRAINING_ONLY_KEYS` (``model.deploy()``'s
    config-level twin: the model it builds is the deployed model)."""
    out = model_cfg.copy()
    for key in TRAINING_ONLY_KEYS:
        out.pop(key, None)
    return out


class FusionError(ValueError):
    """Folding the batch norms changed what the encoder computes."""


def fuse_conv_bn(model: nn.Module, check_size: int = 64) -> nn.Module:
    r"""Fold each batch norm of ``model.encoder`` into the convolution before it, in place.

    In eval mode a batch norm after a convolution is an affine map per channel, so

    .. math::
        \gamma \frac{W * x + b - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta
        = (s W) * x + s (b - \mu) + \beta,
        \qquad s = \frac{\gamma}{\sqrt{\sigma^2 + \epsilon}}

    with the running statistics ``mu``, ``sigma^2``: one convolution with a bias instead of
    a convolution and a batch norm (53 batch norms in a ResNet-50; the deployed paper-size
    model on one CPU thread at 256 px: 2% faster at batch 1, 3.6% at batch 8,
    docs/benchmarks.md).  The result is for inference only: the model is put in eval mode,
    its batch norms become ``nn.Identity`` and its state dict no longer matches the
    config's (load checkpoints before fusing).

    The folding is :func:`mmcv.cnn.fuse_conv_bn`, which pairs each batch norm with the
    convolution registered before it in the same parent module.  An encoder whose layers
    run in another order than they are registered (a plugin may) would be folded wrongly,
    so the encoder's outputs on a fixed random ``(2, C, check_size, check_size)`` input
    (``C``: the first convolution's input channels) are compared before and after.

    Args:
        model: a built estimator with an ``encoder`` (or any module, folded as a whole).
        check_size: side of the check input; ``0`` skips the check.

    Returns:
        ``model``, in eval mode.

    Raises:
        FusionError: the folded encoder's outputs differ from the original's (the model is
            left folded: rebuild it).
    """
    from mmcv.cnn import fuse_conv_bn as mmcv_fuse_conv_bn
    model.eval()
    target = getattr(model, 'encoder', None)
    target = model if target is None else target
    if not check_size:
        mmcv_fuse_conv_bn(target)
        return model
    first_conv = next((m for m in target.modules() if isinstance(m, nn.Conv2d)), None)
    if first_conv is None:  # nothing to fold
        return model
    x = torch.randn(2, first_conv.in_channels, check_size, check_size,
                    generator=torch.Generator().manual_seed(0))
    x = x.to(first_conv.weight.device, first_conv.weight.dtype)
    with torch.inference_mode():
        before = _as_tensors(target(x))
        mmcv_fuse_conv_bn(target)
        after = _as_tensors(target(x))
    for i, (a, b) in enumerate(zip(before, after)):
        tol = 1e-4 * float(a.abs().max()) + 1e-6
        if a.shape != b.shape or not torch.allclose(a, b, rtol=1e-3, atol=tol):
            diff = float((a - b).abs().max()) if a.shape == b.shape else float('nan')
            raise FusionError(
                f'fuse_conv_bn changed output {i} of {type(target).__name__} (max abs '
                f'difference {diff:.3g}): its batch norms do not each follow the '
                'convolution registered before them in their module; run it unfused')
    return model


def _as_tensors(out) -> list:
    """An encoder's output (a tensor, or a list / tuple of them) as a list of tensors."""
    return [out] if isinstance(out, torch.Tensor) else [t for t in out
                                                        if isinstance(t, torch.Tensor)]


__all__ = ['FusionError', 'TRAINING_ONLY_KEYS', 'deployed_model_config', 'fuse_conv_bn']
