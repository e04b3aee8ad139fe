from .deploy import TRAINING_ONLY_KEYS, FusionError, deployed_model_config, fuse_conv_bn
from .inference import inference, init_model, input_size_from_config
from .setup_env import register_all_modules

__all__ = ['FusionError', 'TRAINING_ONLY_KEYS', 'deployed_model_config', 'fuse_conv_bn',
           'init_model', 'inference',
           'input_size_from_config', 'register_all_modules']
