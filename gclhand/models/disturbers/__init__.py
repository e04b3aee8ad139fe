"""Graph disturbers of DGCLNet: ``G_hat = F_gen(G)`` (HandDGCL eq. 1) and the explicit
graph disturbances (EGD) of section 3.2, composable like PyGCL's augmentors."""
from .base import Disturber, Graph
from .compose import Compose, RandomChoice
from .contract import DisturberContractError, check_disturber_output
from .edge_add import EdgeAdd
from .edge_flip import EdgeFlip
from .feature_mask import FeatureMask
from .feature_noise import FeatureNoise
from .graph_unet import GraphUNetDisturber

__all__ = ['Graph', 'Disturber', 'Compose', 'RandomChoice', 'FeatureMask', 'FeatureNoise',
           'EdgeAdd', 'EdgeFlip', 'GraphUNetDisturber', 'check_disturber_output',
           'DisturberContractError']
