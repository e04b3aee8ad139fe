"""Keep evaluation from consuming the training run's random streams."""
from typing import Dict, Optional

from mmengine.hooks import Hook

from gclhand.registry import HOOKS
from ..checkpoint import get_rng_state, set_rng_state


@HOOKS.register_module()
class EvalRNGIsolationHook(Hook):
    """Restore the Python/NumPy/torch RNG state after every validation run.

    A checkpoint is written in ``after_train_epoch`` and records the RNG state *before*
    the epoch's validation; validation then draws from torch's global generator (each
    ``DataLoader`` iterator draws its ``_base_seed`` from it, random test-time transforms
    would draw more).  A run resumed from that checkpoint skips the validation, so without
    this hook its random stream (augmentation, disturbers, dropout) is shifted against the
    uninterrupted run's and the losses diverge.  With it, training never sees the draws
    made by validation: the stream after validation equals the checkpoint's, and
    ``--resume`` is exact.

    :class:`~gclhand.engine.GCLHandRunner` registers it itself; configs need not.
    """

    priority = 'VERY_LOW'  # restored after every other hook's after_val work

    def __init__(self) -> None:
        self._state: Optional[Dict] = None

    def before_val(self, runner) -> None:
        self._state = get_rng_state()

    def after_val(self, runner) -> None:
        if self._state is not None:
            set_rng_state(self._state)
            self._state = None
