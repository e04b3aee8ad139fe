"""Schema validation of IntagHand-layout annotations, including a fuzz test: every
mutated annotation must end in an AnnotationError that names the file."""
import copy
import pickle

import numpy as np
import pytest

from datasets_fakes import make_annotation
from gclhand.datasets import AnnotationError, read_intag_annotation, validate_intag_annotation


@pytest.fixture
def anno():
    return make_annotation(np.random.default_rng(0))


def test_valid_annotation(anno):
    out = validate_intag_annotation(anno, 'a.pkl')
    assert out['mano']['left']['pose'].shape == (1, 45)
    assert out['cam_K'].dtype == np.float32 and out['hand_type'] == 'interacting'


def test_lists_of_numbers_accepted(anno):
    anno['camera']['t'] = [0.0, 0.0, 0.5]
    assert validate_intag_annotation(anno, 'a.pkl')['cam_t'].shape == (3, )


@pytest.mark.parametrize('mutate,match', [
    (lambda a: a.pop('mano_params'), "missing key 'mano_params'"),
    (lambda a: a['mano_params']['left'].pop('shape'), "missing key 'mano_params.left.shape'"),
    (lambda a: a['camera'].pop('camera'), "missing key 'camera.camera'"),
    (lambda a: a['mano_params']['right'].__setitem__('pose', np.zeros((1, 48))),
     r"'mano_params.right.pose' must have shape \(1, 45\)"),
    (lambda a: a['camera']['t'].__setitem__(0, np.nan), "'camera.t' contains NaN"),
    (lambda a: a['mano_params'].__setitem__('left', None), 'needs MANO fits of both hands'),
    (lambda a: a['annotation'].__setitem__('hand_type', 'both'), "invalid 'annotation.hand_type'"),
    (lambda a: a['annotation'].__setitem__('hand_type', 'right'), 'accepts only'),
    (lambda a: a['camera'].__setitem__('R', 2 * np.eye(3)), 'not a rotation'),
    (lambda a: a['camera']['camera'].__setitem__((2, 2), 0.0), 'not an intrinsics'),
    (lambda a: a['camera']['camera'].__setitem__((0, 0), 0.0), 'not an intrinsics'),
    (lambda a: a['camera']['camera'].__setitem__((1, 1), -1.0), 'not an intrinsics'),
    (lambda a: a['camera']['camera'].__setitem__((1, 0), 3.0), 'not an intrinsics'),
    (lambda a: a['camera'].__setitem__('R', np.diag([-1., 1., 1.]) @ a['camera']['R']),
     'not a rotation'),  # a reflection: orthogonal, det -1
    (lambda a: a['mano_params']['left'].__setitem__('trans', 'abc'), 'must be a numpy array'),
])
def test_errors_name_file_and_problem(anno, mutate, match):
    mutate(anno)
    with pytest.raises(AnnotationError, match=match) as info:
        validate_intag_annotation(anno, '/data/anno/7.pkl')
    assert str(info.value).startswith('/data/anno/7.pkl: ')


def test_hand_type_allowed_by_config(anno):
    anno['annotation']['hand_type'] = 'right'
    out = validate_intag_annotation(anno, 'a.pkl', allowed_hand_types=('right', 'interacting'))
    assert out['hand_type'] == 'right'


# ---------------------------------------------------------------------------- fuzz
_PATHS = [('mano_params', ), ('camera', )] + \
    [('mano_params', s) for s in ('left', 'right')] + \
    [('mano_params', s, k) for s in ('left', 'right') for k in ('R', 'pose', 'shape', 'trans')] + \
    [('camera', k) for k in ('R', 't', 'camera')]
_ARRAY_PATHS = [p for p in _PATHS if len(p) == 3 or (p[0] == 'camera' and len(p) == 2)]
_BAD_VALUES = ['a string', None, 3, 2.5, {'x': 1}, ['a', 'b'], {1, 2},
               np.array(['x', 'y']), np.zeros(3, dtype=bool), np.zeros(3, dtype=complex),
               np.array([None, 1], dtype=object), b'bytes']


def _parent(a, path):
    for k in path[:-1]:
        a = a[k]
    return a


def _mutations(base, rng):
    """Yield (name, mutated annotation or raw bytes) covering every schema rule."""
    for p in _PATHS:  # missing keys
        a = copy.deepcopy(base)
        del _parent(a, p)[p[-1]]
        yield f'missing {p}', a
    for p in _PATHS:  # wrong types everywhere
        for v in _BAD_VALUES:
            a = copy.deepcopy(base)
            _parent(a, p)[p[-1]] = v
            yield f'type {p}={type(v).__name__}', a
    for p in _ARRAY_PATHS:  # wrong shapes, NaN / inf
        arr = np.asarray(_parent(base, p)[p[-1]])
        for shape in [arr.shape[1:] or (1, ), arr.shape + (1, ), (arr.size + 1, ),
                      tuple(s + 1 for s in arr.shape), ()]:
            a = copy.deepcopy(base)
            _parent(a, p)[p[-1]] = rng.normal(size=shape)
            yield f'shape {p}={shape}', a
        for bad in (np.nan, np.inf, -np.inf):
            a = copy.deepcopy(base)
            v = np.array(_parent(a, p)[p[-1]], dtype=np.float64)
            v.flat[rng.integers(v.size)] = bad
            _parent(a, p)[p[-1]] = v
            yield f'nonfinite {p}={bad}', a
    for p in [q for q in _ARRAY_PATHS if q[-1] == 'R']:  # not rotations
        for scale in (0.5, -1.0, 3.0):
            a = copy.deepcopy(base)
            _parent(a, p)[p[-1]] = np.asarray(_parent(a, p)[p[-1]]) * scale
            yield f'rot {p}*{scale}', a
    for ht in ('both', 'Interacting', '', 5, None, ['interacting'], 'left', 'right'):
        a = copy.deepcopy(base)
        a['annotation']['hand_type'] = ht
        yield f'hand_type={ht!r}', a
    for v in ('x', 3, ['a']):
        a = copy.deepcopy(base)
        a['annotation'] = v
        yield f'annotation={v!r}', a
    for v in ([], 'anno', 3, None, np.zeros(3)):
        yield f'top={type(v).__name__}', v
    good = pickle.dumps(base)
    for n in range(12):  # corrupt / truncated pickles
        cut = int(rng.integers(1, len(good) - 1))
        yield f'truncated@{cut}', good[:cut]
        yield f'random-bytes{n}', rng.bytes(int(rng.integers(1, 200)))
    yield 'unsafe-global', pickle.dumps({'mano_params': np.float64}) \
        .replace(b'numpy', b'posix').replace(b'float64', b'system\x00'[:7])


def test_fuzz_every_mutation_gives_annotation_error(tmp_path):
    rng = np.random.default_rng(1234)
    base = make_annotation(np.random.default_rng(0))
    cases = list(_mutations(base, rng))
    assert len(cases) >= 200, len(cases)
    for i, (name, case) in enumerate(cases):
        path = tmp_path / f'{i}.pkl'
        path.write_bytes(case if isinstance(case, bytes) else pickle.dumps(case))
        try:
            read_intag_annotation(str(path))
        except AnnotationError as e:
            assert str(path) in str(e) and e.path == str(path), name
            assert len(e.problem) > 10, name
        except Exception as e:  # noqa: BLE001 - the point is that nothing else escapes
            pytest.fail(f'case {name!r} raised {type(e).__name__}: {e}')
        else:
            pytest.fail(f'case {name!r} was accepted')
