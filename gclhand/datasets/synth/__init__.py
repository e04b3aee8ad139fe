"""gclhand's built-in synthetic two-hand dataset (IntagHand layout), see :mod:`.generator`."""
from .backgrounds import random_background
from .generator import (DEFAULT_HAND_MODEL, DEFAULT_SPLITS, GENERATOR_VERSION, SyntheticRenderer,
                        ensure_synthetic_dataset, generate_synthetic_dataset, read_meta,
                        resolve_splits, sample_rng, split_is_complete)
from .labels import decode_annotation, make_annotation
from .penetration import interpenetration, penetration_depth
from .preview import contact_sheet, draw_joints
from .renderer import Fragments, project_points, rasterize, render_mesh, shade
from .sampler import (CameraSampler, HandParams, PoseSampler, Scene, SceneSampler, SkinSampler,
                      TwoHandPlacer, sample_shapes)
from .settings import apply_synthetic_settings, split_synthetic_settings

__all__ = [
    'DEFAULT_HAND_MODEL', 'DEFAULT_SPLITS', 'GENERATOR_VERSION', 'SyntheticRenderer',
    'ensure_synthetic_dataset', 'generate_synthetic_dataset', 'read_meta', 'resolve_splits',
    'sample_rng', 'split_is_complete', 'decode_annotation', 'make_annotation',
    'interpenetration', 'penetration_depth', 'Fragments', 'project_points', 'rasterize',
    'render_mesh', 'shade', 'contact_sheet', 'draw_joints', 'random_background', 'CameraSampler', 'HandParams', 'PoseSampler',
    'Scene', 'SceneSampler', 'SkinSampler', 'TwoHandPlacer', 'sample_shapes',
    'apply_synthetic_settings', 'split_synthetic_settings'
]
