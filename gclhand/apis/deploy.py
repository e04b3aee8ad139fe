"""The deployed model's config: the estimator without its training-only parts.

``TwoHandEstimator.deploy()`` deletes the modules of :data:`TRAINING_ONLY_KEYS` from a
built model; :func:`deployed_model_config` removes them from the config instead, so
evaluation, the demo and export build only what ``predict`` runs.  A component that only
training uses - e.g. a DGCL disturber from a plugin that is not installed - is then never
looked up, and a training checkpoint still loads (the estimator drops its ``dgcl.`` /
``aux_heads.`` entries with a log line).
"""
#: config keys of ``TwoHandEstimator`` whose modules exist only for training
TRAINING_ONLY_KEYS = ('dgcl', 'aux_heads')


def deployed_model_config(model_cfg: dict) -> dict:
    """A copy of ``model_cfg`` without :data:`TRAINING_ONLY_KEYS` (``model.deploy()``'s
    config-level twin: the model it builds is the deployed model)."""
    out = model_cfg.copy()
    for key in TRAINING_ONLY_KEYS:
        out.pop(key, None)
    return out


__all__ = ['TRAINING_ONLY_KEYS', 'deployed_model_config']
