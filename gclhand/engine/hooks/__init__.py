from .atomic_checkpoint_hook import AtomicCheckpointHook
from .plain_message_hub_hook import PlainMessageHubHook
from .train_loss_plateau_hook import TrainLossPlateauHook, TrainLossPlateauLR

__all__ = ['AtomicCheckpointHook', 'PlainMessageHubHook', 'TrainLossPlateauHook',
           'TrainLossPlateauLR']
