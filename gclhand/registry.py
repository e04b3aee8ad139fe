"""Registries of gclhand.

Every swappable component is registered in one of the registries below and built from a
config dict ``dict(type='Name', ...)``.  The MMEngine-facing kinds (models, datasets,
transforms, metrics, hooks, ...) are children of MMEngine's root registries so that the
MMEngine :class:`~mmengine.runner.Runner` finds them under ``default_scope='gclhand'``.
The library's own kinds (disturbers, contrastive heads, similarity targets, encoders,
necks, decoders, heads, losses, hand models) are roots of their own.  ``locations`` lets a registry
import the modules that fill it the first time it is used, so configs need no imports.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry

# --- children of MMEngine's roots -----------------------------------------------------
RUNNERS = Registry('runner', parent=MMENGINE_RUNNERS, scope='gclhand',
                   locations=['gclhand.engine'])
LOOPS = Registry('loop', parent=MMENGINE_LOOPS, scope='gclhand', locations=['gclhand.engine'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, scope='gclhand', locations=['gclhand.engine'])
LOG_PROCESSORS = Registry('log processor', parent=MMENGINE_LOG_PROCESSORS, scope='gclhand')

DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, scope='gclhand',
                    locations=['gclhand.datasets'])
DATA_SAMPLERS = Registry('data sampler', parent=MMENGINE_DATA_SAMPLERS, scope='gclhand',
                         locations=['gclhand.datasets'])
TRANSFORMS = Registry('transform', parent=MMENGINE_TRANSFORMS, scope='gclhand',
                      locations=['gclhand.datasets.transforms'])

MODELS = Registry('model', parent=MMENGINE_MODELS, scope='gclhand', locations=['gclhand.models'])
MODEL_WRAPPERS = Registry('model_wrapper', parent=MMENGINE_MODEL_WRAPPERS, scope='gclhand',
                          locations=['gclhand.models'])
WEIGHT_INITIALIZERS = Registry('weight initializer', parent=MMENGINE_WEIGHT_INITIALIZERS,
                               scope='gclhand', locations=['gclhand.models'])

OPTIMIZERS = Registry('optimizer', parent=MMENGINE_OPTIMIZERS, scope='gclhand',
                      locations=['gclhand.engine'])
OPTIM_WRAPPERS = Registry('optim_wrapper', parent=MMENGINE_OPTIM_WRAPPERS, scope='gclhand',
                          locations=['gclhand.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry('optimizer wrapper constructor',
                                      parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
                                      scope='gclhand', locations=['gclhand.engine'])
PARAM_SCHEDULERS = Registry('parameter scheduler', parent=MMENGINE_PARAM_SCHEDULERS,
                            scope='gclhand', locations=['gclhand.engine'])

METRICS = Registry('metric', parent=MMENGINE_METRICS, scope='gclhand',
                   locations=['gclhand.evaluation'])
EVALUATOR = Registry('evaluator', parent=MMENGINE_EVALUATOR, scope='gclhand',
                     locations=['gclhand.evaluation'])

VISUALIZERS = Registry('visualizer', parent=MMENGINE_VISUALIZERS, scope='gclhand',
                       locations=['gclhand.visualization'])
VISBACKENDS = Registry('vis_backend', parent=MMENGINE_VISBACKENDS, scope='gclhand',
                       locations=['gclhand.visualization'])

# --- gclhand's own kinds --------------------------------------------------------------
ENCODERS = Registry('encoder', scope='gclhand', locations=['gclhand.models.encoders'])
#: ENCODERS -> NECKS -> DECODERS / HEADS follows mmpose's backbones -> necks -> heads:
#: an encoder (backbone) turns the image into feature maps; a neck turns those into the
#: decoder's input (HandSplit: the per-hand graph features G); the decoder is the main GCN
#: (coarse graph -> mesh); heads read encoder features for other outputs (camera, auxiliary
#: 2D supervision).
NECKS = Registry('neck', scope='gclhand', locations=['gclhand.models.necks'])
DECODERS = Registry('decoder', scope='gclhand', locations=['gclhand.models.decoders'])
HEADS = Registry('head', scope='gclhand', locations=['gclhand.models.heads'])
DISTURBERS = Registry('disturber', scope='gclhand', locations=['gclhand.models.disturbers'])
CONTRAST_HEADS = Registry('contrast head', scope='gclhand', locations=['gclhand.models.contrast'])
SIM_TARGETS = Registry('similarity target', scope='gclhand',
                       locations=['gclhand.models.sim_targets'])
LOSSES = Registry('loss', scope='gclhand', locations=['gclhand.models.losses'])
HAND_MODELS = Registry('hand model', scope='gclhand', locations=['gclhand.hand'])
