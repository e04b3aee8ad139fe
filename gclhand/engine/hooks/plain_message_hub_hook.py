"""Keep checkpoints loadable with PyTorch's safe (``weights_only``) unpickler."""
from mmengine.hooks import Hook

from gclhand.registry import HOOKS
from ..checkpoint import message_hub_from_builtin, message_hub_to_builtin


@HOOKS.register_module()
class PlainMessageHubHook(Hook):
    """Save the message hub's ``HistoryBuffer`` objects as plain dicts, restore them on load.

    PyTorch >= 2.6 refuses to load MMEngine's pickled ``HistoryBuffer`` with
    ``weights_only=True`` (see :mod:`gclhand.engine.checkpoint`).
    :class:`~gclhand.engine.GCLHandRunner` registers this hook itself; configs need not.
    """

    priority = 'VERY_LOW'  # after every hook that may add to the checkpoint

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if 'message_hub' in checkpoint:
            checkpoint['message_hub'] = message_hub_to_builtin(checkpoint['message_hub'])

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if 'message_hub' in checkpoint:
            checkpoint['message_hub'] = message_hub_from_builtin(checkpoint['message_hub'])
