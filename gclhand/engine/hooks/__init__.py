from .atomic_checkpoint_hook import AtomicCheckpointHook
from .dgcl_step_hook import DGCLStepHook
from .hand_visualization_hook import HandVisualizationHook
from .nonfinite_guard_hook import NonFiniteGuardHook
from .plain_message_hub_hook import PlainMessageHubHook
from .rng_isolation_hook import EvalRNGIsolationHook
from .train_loss_plateau_hook import TrainLossParamSchedulerHook, TrainLossPlateauLR

__all__ = ['AtomicCheckpointHook', 'DGCLStepHook', 'EvalRNGIsolationHook', 'HandVisualizationHook',
           'NonFiniteGuardHook', 'PlainMessageHubHook',
           'TrainLossParamSchedulerHook', 'TrainLossPlateauLR']
