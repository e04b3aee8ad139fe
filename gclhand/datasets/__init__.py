"""Datasets of gclhand: InterHand2.6M (IntagHand layout and official release), the
synthetic two-hand generator, and the data transforms."""
from .annotation import (CAMERA_SHAPES, MANO_PARAM_SHAPES, read_intag_annotation,
                         validate_intag_annotation)
from .errors import AnnotationError, DatasetError, ImageError
from .geometry import axis_angle_to_matrix, matrix_to_axis_angle, project_points
from .hand_gt import two_hand_gt
from .intag_dataset import InterHandIntagDataset
from .interhand26m import InterHand26MDataset, load_interhand_release
from .interhand_prepare import convert_records, prepare_interhand
from .io import (UnsafePickleError, dump_pickle_atomic, load_pickle_restricted,
                 write_bytes_atomic)
from .pipeline import build_pipeline
# The synthetic generator's public names; its torch ``project_points`` stays in
# ``gclhand.datasets.synth`` (the numpy one above is the datasets' helper).
from .synth import (DEFAULT_HAND_MODEL, DEFAULT_SPLITS, GENERATOR_VERSION, CameraSampler,
                    Fragments, HandParams, PoseSampler, Scene, SceneSampler, SkinSampler,
                    SyntheticRenderer, TwoHandPlacer, decode_annotation,
                    ensure_synthetic_dataset, generate_synthetic_dataset, interpenetration,
                    make_annotation, penetration_depth, random_background, rasterize,
                    read_meta, render_mesh, resolve_splits, sample_rng, sample_shapes, shade,
                    split_is_complete)
from .transforms import *  # noqa: F401,F403
from .transforms import __all__ as _transforms_all

__all__ = [
    # datasets
    'InterHandIntagDataset', 'InterHand26MDataset', 'load_interhand_release',
    'prepare_interhand', 'convert_records', 'build_pipeline',
    # annotations, errors, I/O
    'read_intag_annotation', 'validate_intag_annotation', 'MANO_PARAM_SHAPES', 'CAMERA_SHAPES',
    'DatasetError', 'AnnotationError', 'ImageError', 'UnsafePickleError',
    'load_pickle_restricted', 'dump_pickle_atomic', 'write_bytes_atomic',
    # geometry and labels
    'two_hand_gt', 'axis_angle_to_matrix', 'matrix_to_axis_angle', 'project_points',
    # synthetic data
    'ensure_synthetic_dataset', 'generate_synthetic_dataset', 'SyntheticRenderer',
    'DEFAULT_HAND_MODEL', 'DEFAULT_SPLITS', 'GENERATOR_VERSION', 'read_meta', 'resolve_splits',
    'split_is_complete', 'sample_rng', 'make_annotation', 'decode_annotation',
    'interpenetration', 'penetration_depth', 'Fragments', 'rasterize', 'render_mesh', 'shade',
    'random_background', 'CameraSampler', 'HandParams', 'PoseSampler', 'Scene',
    'SceneSampler', 'SkinSampler', 'TwoHandPlacer', 'sample_shapes',
] + list(_transforms_all)
