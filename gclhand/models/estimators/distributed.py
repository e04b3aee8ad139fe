"""DDP wrapper whose ``train_step`` keeps the estimator's non-finite-loss guard."""
from typing import Dict, Union

import torch
from mmengine.model import MMDistributedDataParallel
from mmengine.optim import OptimWrapper

from gclhand.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class HandDistributedDataParallel(MMDistributedDataParallel):
    """:class:`~mmengine.model.MMDistributedDataParallel` that routes the parameter update
    through the wrapped model's ``update_or_skip`` (when it has one).

    MMEngine's DDP wrapper runs its own ``train_step`` and never calls the module's, so the
    estimator's skip-on-NaN logic would be bypassed under ``--launcher pytorch``.  Use it with
    ``model_wrapper_cfg = dict(type='HandDistributedDataParallel')``.
    """

    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper: OptimWrapper) -> Dict[str, torch.Tensor]:
        if not hasattr(self.module, 'update_or_skip'):
            return super().train_step(data, optim_wrapper)
        with optim_wrapper.optim_context(self):
            data = self.module.data_preprocessor(data, training=True)
            losses = self._run_forward(data, mode='loss')
        parsed, log_vars = self.module.parse_losses(losses)
        return self.module.update_or_skip(parsed, log_vars, losses, data, optim_wrapper)
