"""Hand models (real MANO or the licence-free procedural hand), joint conventions and the
coarsened mesh-graph hierarchy used by the GCN decoder."""
from .graph import GraphHierarchy, build_graph_hierarchy
from .hand_model import (MANO_FINGERTIP_IDS, HandModelOutput, MANOHandModel, build_hand_model,
                         default_cache_dir, procedural_model_dir)
from .joints import (BONES, FINGERS, INTERHAND_TO_LIBRARY, JOINT_NAMES, LIBRARY_PARENTS,
                     LIBRARY_TO_INTERHAND, LIBRARY_TO_MANO, MANO_PARENTS, MANO_TO_LIBRARY,
                     NUM_JOINTS, finger_joint, interhand_to_library, library_to_interhand,
                     library_to_mano, mano_to_library)
from .mano_io import (RestrictedUnpickler, UnsafePickleError, load_mano_arrays, load_mano_pair,
                      safe_load_pickle)
from .procedural import generate_procedural_hand

__all__ = [
    'build_hand_model', 'MANOHandModel', 'HandModelOutput', 'MANO_FINGERTIP_IDS',
    'default_cache_dir', 'procedural_model_dir', 'build_graph_hierarchy', 'GraphHierarchy',
    'BONES', 'FINGERS', 'JOINT_NAMES', 'LIBRARY_PARENTS', 'MANO_PARENTS', 'NUM_JOINTS',
    'MANO_TO_LIBRARY', 'LIBRARY_TO_MANO', 'INTERHAND_TO_LIBRARY', 'LIBRARY_TO_INTERHAND',
    'mano_to_library', 'library_to_mano', 'interhand_to_library', 'library_to_interhand',
    'finger_joint', 'RestrictedUnpickler', 'UnsafePickleError', 'load_mano_arrays',
    'load_mano_pair', 'safe_load_pickle', 'generate_procedural_hand'
]
