from .inference import inference, init_model, input_size_from_config

__all__ = ['init_model', 'inference', 'input_size_from_config']
