from .contrast import *  # noqa: F401,F403
from .data_preprocessors import *  # noqa: F401,F403
from .decoders import *  # noqa: F401,F403
from .disturbers import *  # noqa: F401,F403
from .encoders import *  # noqa: F401,F403
from .estimators import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .sim_targets import *  # noqa: F401,F403
