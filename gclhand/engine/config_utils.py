"""A config for evaluation only: the parts that would build training or validation data go."""
from mmengine.config import Config

#: Config keys MMEngine builds the train loop from (it requires all or none of the first
#: three; ``param_scheduler`` needs an optimiser) and the validation loop from.
TRAIN_KEYS = ('train_dataloader', 'train_cfg', 'optim_wrapper', 'param_scheduler')
VAL_KEYS = ('val_dataloader', 'val_cfg', 'val_evaluator')


def evaluation_only_config(cfg: Config) -> Config:
    """Set the training and validation entries of ``cfg`` to ``None`` (in place).

    A test run needs the model, the test dataloader and the test evaluator only.  With the
    train loop configured, anything that reads ``runner.iter`` / ``runner.epoch`` /
    ``runner.max_iters`` (hooks, visualisers, loggers) makes MMEngine build it, which loads
    the whole training split (366K InterHand2.6M samples, ~7 GB of labels) or fails when only
    the test split is present.  Without it those properties return 0.

    Returns:
        ``cfg``.
    """
    for key in TRAIN_KEYS + VAL_KEYS:
        if key in cfg:
            cfg[key] = None
    return cfg


__all__ = ['evaluation_only_config']
