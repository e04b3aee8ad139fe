"""One place in a config for the synthetic data settings of all its dataloaders."""
import copy

__all__ = ['apply_synthetic_settings', 'split_synthetic_settings']

_LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def apply_synthetic_settings(cfg) -> None:
    """Hand the config's top-level ``synthetic`` dict to its IntagHand-layout datasets.

    A synthetic-data config states the generator settings once, at top level::

        synthetic = dict(num=dict(train=10000, val=500, test=500), seed=0, img_size=64)

    and every train/val/test dataset of type :class:`~gclhand.datasets.InterHandIntagDataset`
    (or a subclass) that sets no ``synthetic`` of its own receives a copy, so that one key
    changes the data for every loader (``--cfg-options synthetic.num=200`` shrinks all
    three splits to 200 samples). Called by :func:`gclhand.engine.build_runner`; call it
    yourself before building datasets from such a config by hand.
    """
    settings = cfg.get('synthetic', None)
    if not settings:
        return
    from gclhand.datasets.intag_dataset import InterHandIntagDataset
    from gclhand.registry import DATASETS
    for name in _LOADERS:
        loader = cfg.get(name, None)
        dataset = loader.get('dataset', None) if loader else None
        if not isinstance(dataset, dict) or dataset.get('synthetic') is not None:
            continue
        cls = DATASETS.get(dataset.get('type', '')) if isinstance(dataset.get('type'), str) \
            else dataset.get('type')
        if isinstance(cls, type) and issubclass(cls, InterHandIntagDataset):
            dataset['synthetic'] = copy.deepcopy(settings)


def split_synthetic_settings(settings: dict):
    """``(num, generator_kwargs)`` of a ``synthetic`` dict: the sample count (``num``, or
    its older name ``num_per_split``) apart from the rest, which are keyword arguments of
    :func:`~gclhand.datasets.synth.ensure_synthetic_dataset`."""
    kwargs = dict(settings)
    num = kwargs.pop('num', kwargs.pop('num_per_split', None))
    return num, kwargs
