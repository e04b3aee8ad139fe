"""A licence-free procedural hand model in the MANO file layout.

The MANO model (Romero et al., SIGGRAPH Asia 2017) cannot be redistributed, so gclhand
generates its own hand with the same *sizes and layout*: 778 vertices, 1538 triangles,
16 joints in MANO's kinematic-tree order, 10 shape and 45 pose-PCA coefficients. The file is
built deterministically from the constants below (no data, nothing licence-encumbered) and
is loadable by ``smplx.MANO`` unmodified, so the procedural and the real model are
interchangeable.

Construction (all lengths in metres; right hand in MANO's frame: fingers point to ``-x``,
the thumb side is ``+z``, the palm faces ``-y``):

* **Surface** — an open genus-0 surface whose single boundary loop is the 16-edge wrist
  (Euler: ``V - E + F = 1`` and ``3F = 2E - 16`` give ``F = 2V - 18``, so 778 vertices make
  1538 faces). It is a stack of vertex rings zipped together with triangles: wrist (16) ->
  palm rings -> a flattened top ring whose dorsal and palmar rows are bridged by one quad
  between neighbouring fingers (the webs) and leave four 8-vertex holes, one per finger.
  The thumb grows out of an 8-vertex hole cut into the thenar side of the palm (the star of
  one palm edge). Each digit is a tube of 8-vertex elliptical rings along a 3-bone skeleton,
  closed by a fan to a fingertip vertex. The size of one palm ring absorbs the remainder so
  that the vertex count is exactly 778.
* **Joints / regressor** — rings are placed exactly at the joints; ``J_regressor`` rows
  average one ring (uniform weights), so rows sum to 1 and the regressed joint is the ring's
  centre. The thumb CMC averages the radial third of a palm ring (inside the thenar).
* **Skinning weights** — a smooth ramp (smoothstep) across each joint along the digit's arc
  length; palm vertices near the knuckles blend into the MCP joints, thenar vertices into the
  thumb CMC. Rows are non-negative and sum to 1.
* **Shape space** (``shapedirs``) — 10 semantic directions with decreasing magnitude: global
  size, finger length, finger width, palm width, palm length, thickness, thumb length,
  pinky, index/ring ratio, middle length.
* **Pose correctives** (``posedirs``) — a dorsal knuckle bulge linear in ``tr(R - I)`` of each
  joint (``~4 mm`` at 90 degrees).
* **Pose PCA** (``hands_components`` / ``hands_mean``) — PCA of 4000 sampled plausible hand
  poses (coupled finger curls, spreads, thumb opposition); rows orthonormal, ordered by
  variance; the mean is a slightly curled hand.

The left hand is the mirror image (``x -> -x``): vertices, shape/pose blend shapes and the
pose parameters (``(wx, wy, wz) -> (wx, -wy, -wz)``) are mirrored and the face winding is
flipped so normals still point outwards.
"""
from typing import Dict, List, Tuple

import numpy as np

from .joints import MANO_PARENTS

#: Bumped whenever the generated arrays change (part of the cache path).
PROCEDURAL_VERSION = 2
NUM_VERTS, NUM_FACES, WRIST_RING = 778, 1538, 16
RING = 8  # vertices per digit ring

# --- anatomy (right hand, local frame: a = distal, b = thumb side, c = dorsal) ----------
X0 = 0.095  # x of the wrist joint (x = X0 - a), roughly where MANO's template has it
FINGER_NAMES = ('index', 'middle', 'ring', 'pinky')  # palm-top column order (b descending)
# name: (MCP distal position a, spread angle rad, bone lengths MCP-PIP, PIP-DIP, DIP-tip,
#        half width, half thickness at the base)
FINGERS = {
    'index': (0.093, 0.07, (0.037, 0.022, 0.020), 0.0101, 0.0090),
    'middle': (0.097, 0.0, (0.042, 0.026, 0.021), 0.0104, 0.0093),
    'ring': (0.092, -0.07, (0.039, 0.025, 0.020), 0.0097, 0.0087),
    'pinky': (0.082, -0.16, (0.031, 0.019, 0.018), 0.0086, 0.0077),
}
#: First MANO joint of each chain (index 1, middle 4, pinky 7, ring 10, thumb 13).
MANO_CHAIN_START = {'index': 1, 'middle': 4, 'pinky': 7, 'ring': 10, 'thumb': 13}
THUMB_CMC = np.array([0.022, 0.021, -0.006])
THUMB_DIRS = [(0.48, 0.74, -0.47), (0.70, 0.62, -0.36), (0.82, 0.48, -0.31)]
THUMB_BONES = (0.046, 0.032, 0.027)
THUMB_DORSAL_HINT = (0.0, 0.65, 0.76)
THUMB_HOLE_AT = 0.55  # the thumb leaves the palm at this fraction of its metacarpal
PALM_HALF_THICK = (0.012, 0.014)  # dorsal, palmar
PALM_ROW_T = (0.0, 0.16, 0.31, 0.45, 0.58, 0.70, 0.81, 0.91)  # fraction of palm length
#: MANO's fingertip vertex order in gclhand (library order of the tips).
TIP_ORDER = ('thumb', 'index', 'middle', 'ring', 'pinky')


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _unwrap(t: np.ndarray) -> np.ndarray:
    """Angular positions (turns) of a ring -> increasing values starting in (-0.5, 0.5]."""
    t0 = (t[0] + 0.5) % 1.0 - 0.5
    return t0 + (t - t0) % 1.0


def _zip_rings(a: List[int], ta: np.ndarray, b: List[int], tb: np.ndarray) -> List[tuple]:
    """Triangulate the band between two rings ordered counter-clockwise about the outward
    axis (``a`` proximal, ``b`` distal); ``ta``/``tb`` are angular positions in [0, 1)."""
    na, nb = len(a), len(b)
    faces, i, j = [], 0, 0
    while i < na or j < nb:
        next_a = ta[i + 1] if i + 1 < na else ta[0] + 1
        next_b = tb[j + 1] if j + 1 < nb else tb[0] + 1
        if i < na and (j >= nb or next_a <= next_b):
            faces.append((a[i % na], a[(i + 1) % na], b[j % nb]))
            i += 1
        else:
            faces.append((a[i % na], b[(j + 1) % nb], b[j % nb]))
            j += 1
    return faces


class _Builder:
    """Accumulates vertices with per-vertex bookkeeping used for weights and blend shapes."""

    def __init__(self):
        self.verts: List[np.ndarray] = []
        self.digit: List[int] = []  # -1 palm, else index into DIGITS
        self.arc: List[float] = []  # arc length along the digit from its first joint
        self.skel: List[np.ndarray] = []  # closest skeleton point (digits) / self (palm)
        self.faces: List[tuple] = []

    def add(self, pts: np.ndarray, digit: int = -1, arc: float = 0.0, skel=None) -> List[int]:
        start = len(self.verts)
        for p in np.atleast_2d(pts):
            self.verts.append(np.asarray(p, dtype=np.float64))
            self.digit.append(digit)
            self.arc.append(arc)
            self.skel.append(np.asarray(p if skel is None else skel, dtype=np.float64))
        return list(range(start, len(self.verts)))


def _palm_width(t):
    return 0.029 + 0.013 * _smoothstep(np.asarray(t) / 0.5)


def _a_top(b: np.ndarray) -> np.ndarray:
    """Distal end of the palm (just proximal of the MCP joints) as a function of b."""
    centres = np.array([_finger_b(f) for f in FINGER_NAMES])[::-1]
    tops = np.array([FINGERS[f][0] for f in FINGER_NAMES])[::-1] - 0.007
    return np.interp(b, centres, tops)


def _finger_b(name: str) -> float:
    f = FINGER_NAMES.index(name)
    return float(_palm_width(1.0) * (0.75 - 0.5 * f))


def _palm_profile(b: np.ndarray, w: float, sign: float, t: float) -> np.ndarray:
    """Dorsal (sign=+1) or palmar (-1) surface height c(b) of a palm cross-section."""
    u = np.clip(np.abs(b) / w, 0, 1)
    base = (1 - u**4)**0.25
    if sign > 0:
        return PALM_HALF_THICK[0] * base
    # palmar pad, thenar (thumb side, proximal) and hypothenar bulges
    thenar = 0.007 * np.exp(-((b - 0.6 * w) / (0.45 * w))**2) * np.exp(-((t - 0.3) / 0.3)**2)
    hypo = 0.003 * np.exp(-((b + 0.6 * w) / (0.4 * w))**2) * np.exp(-((t - 0.4) / 0.4)**2)
    return -(PALM_HALF_THICK[1] * base + thenar + hypo)


def _ring_angles(b: np.ndarray, c: np.ndarray, w: float) -> np.ndarray:
    return (np.arctan2(c / 0.014, b / w) % (2 * np.pi)) / (2 * np.pi)


def _palm_ring(t: float, n: int) -> Tuple[np.ndarray, np.ndarray]:
    """``n`` points equally spaced in arc length on the palm cross-section at fraction ``t``
    of the palm length, counter-clockwise about +a, starting at the thumb side."""
    w = float(_palm_width(t))
    phi = np.linspace(0, 2 * np.pi, 2001)[:-1]
    # superellipse-like closed curve: b from the angle, c from the surface profiles
    b = w * np.sign(np.cos(phi)) * np.abs(np.cos(phi))**0.6
    c = np.where(np.sin(phi) >= 0, _palm_profile(b, w, 1, t), _palm_profile(b, w, -1, t))
    c = c * np.abs(np.sin(phi))**0.35
    pts = np.stack([b, c], 1)
    seg = np.linalg.norm(np.diff(np.vstack([pts, pts[:1]]), axis=0), axis=1)
    cum = np.concatenate([[0], np.cumsum(seg)])
    s = (np.arange(n) + 0.5) / n * cum[-1]
    bb, cc = np.interp(s, cum, np.append(b, b[0])), np.interp(s, cum, np.append(c, c[0]))
    a = t * _a_top(bb)
    return np.stack([a, bb, cc], 1), _ring_angles(bb, cc, w)


def _skeleton(start: np.ndarray, dirs, bones) -> np.ndarray:
    pts = [np.asarray(start, dtype=np.float64)]
    for d, l in zip(dirs, bones):
        pts.append(pts[-1] + l * _unit(np.asarray(d, dtype=np.float64)))
    return np.stack(pts)


def _frame(d: np.ndarray, hint: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Dorsal normal ``n`` and lateral ``l = n x d`` of a ring whose axis is ``d``."""
    n = _unit(hint - np.dot(hint, d) * d)
    return n, np.cross(n, d)


def _digit_ring(skel: np.ndarray, s: float, radii: Tuple[float, float], hint: np.ndarray):
    """Ring centre, points (8, 3) and frame at arc length ``s`` along a 3-bone skeleton."""
    lens = np.linalg.norm(np.diff(skel, axis=0), axis=1)
    cum = np.concatenate([[0], np.cumsum(lens)])
    k = int(np.clip(np.searchsorted(cum, s, side='right') - 1, 0, 2))
    dirs = _unit(np.diff(skel, axis=0))
    centre = skel[k] + (s - cum[k]) * dirs[k]
    d = dirs[k]
    for j in (1, 2):  # rings at an inner joint bisect the joint angle
        if abs(s - cum[j]) < 1e-9:
            d = _unit(dirs[j - 1] + dirs[j])
    n, l = _frame(d, hint)
    psi = (np.arange(RING) + 0.5) * 2 * np.pi / RING
    pts = centre + radii[0] * np.cos(psi)[:, None] * l + radii[1] * np.sin(psi)[:, None] * n
    return centre, pts, (d, n, l)


#: Arc-length stations of the rings of a digit, as (bone index, fraction of that bone) ...
DIGIT_STATIONS = [(0, 0.0), (0, 0.25), (0, 0.5), (0, 0.75), (1, 0.0), (1, 0.33), (1, 0.67),
                  (2, 0.0), (2, 0.35), (2, 0.62), (2, 0.82), (2, 0.94)]
#: ... and the ring radius scale at each station (knuckles slightly wider, tip rounded).
DIGIT_SCALE = [1.08, 1.0, 0.96, 0.95, 0.97, 0.92, 0.9, 0.91, 0.88, 0.86, 0.76, 0.5]
THUMB_STATIONS = [(0, 0.62), (0, 0.82)] + DIGIT_STATIONS[4:]
THUMB_SCALE = [1.12, 1.05] + [1.0, 0.97, 0.95, 0.94, 0.92, 0.9, 0.78, 0.5]
THUMB_RADII = (0.0105, 0.0092)


def _station_arc(bones, station) -> float:
    k, frac = station
    return float(sum(bones[:k]) + frac * bones[k])


def _build_right() -> Dict[str, np.ndarray]:
    bld = _Builder()
    info: Dict[str, dict] = {}
    a_axis, b_axis, c_axis = np.eye(3)

    # ---- palm: wrist ring (boundary) -> palm rings -> flattened top ring ---------------
    phi = (np.arange(WRIST_RING) + 0.5) / WRIST_RING
    wrist = np.stack([np.full(WRIST_RING, -0.012), 0.027 * np.cos(2 * np.pi * phi),
                      0.016 * np.sin(2 * np.pi * phi) - 0.001], 1)
    rings = [(bld.add(wrist), phi)]
    n_digit = RING * len(DIGIT_STATIONS) + 1
    n_thumb = RING * len(THUMB_STATIONS) + 1
    n_top = 32
    n_palm = NUM_VERTS - WRIST_RING - n_top - 4 * n_digit - n_thumb + 2  # +2: thumb hole
    rows = len(PALM_ROW_T)
    sizes = [n_palm // rows + (1 if k < n_palm % rows else 0) for k in range(rows)][::-1]
    for t, n in zip(PALM_ROW_T, sizes):
        pts, ang = _palm_ring(t, n)
        rings.append((bld.add(pts), ang))
    # top ring: 16 dorsal (thumb side -> pinky side) then 16 palmar back
    w_top = float(_palm_width(1.0))
    bcol = w_top * (1 - (2 * np.arange(16) + 1) / 16)
    top_d = np.stack([_a_top(bcol), bcol, _palm_profile(bcol, w_top * 1.07, 1, 1.0)], 1)
    top_p = np.stack([_a_top(bcol), bcol, _palm_profile(bcol, w_top * 1.07, -1, 1.0)], 1)
    top_pts = np.vstack([top_d, top_p[::-1]])
    top = bld.add(top_pts)
    rings.append((top, _ring_angles(top_pts[:, 1], top_pts[:, 2], w_top)))
    for (ra, ta), (rb, tb) in zip(rings[:-1], rings[1:]):
        bld.faces += _zip_rings(ra, ta, rb, tb)
    dors, palm = top[:16], top[16:][::-1]  # palm[k] below dors[k]
    for j in (3, 7, 11):  # webs between fingers
        bld.faces += [(dors[j], dors[j + 1], palm[j + 1]), (dors[j], palm[j + 1], palm[j])]
    wrist_ring = rings[1][0]

    # ---- fingers -----------------------------------------------------------------------
    digits = []
    for f, name in enumerate(FINGER_NAMES):
        a_mcp, spread, bones, hw, ht = FINGERS[name]
        mcp = np.array([a_mcp, _finger_b(name), -0.001])
        d0 = np.array([np.cos(spread), np.sin(spread), 0.0])
        skel = _skeleton(mcp, [d0, d0, d0], bones)
        cols = list(range(4 * f, 4 * f + 4))
        base = [dors[k] for k in cols] + [palm[k] for k in cols[::-1]]
        digits.append((name, skel, bones, base, (hw, ht), c_axis, DIGIT_STATIONS, DIGIT_SCALE))

    # ---- thumb: cut the star of one thenar edge, grow the thumb from the hole -----------
    tskel = _skeleton(THUMB_CMC, THUMB_DIRS, THUMB_BONES)
    verts = np.array(bld.verts)
    target = tskel[0] + THUMB_HOLE_AT * (tskel[1] - tskel[0])
    cand = np.concatenate([rings[r][0] for r in range(2, len(rings) - 2)])
    v1 = int(cand[np.argmin(np.linalg.norm(verts[cand] - target, axis=1))])
    row = next(r for r in range(len(rings)) if v1 in rings[r][0])
    ids2 = np.array(rings[row + 1][0])
    v2 = int(ids2[np.argmin(np.linalg.norm(verts[ids2] - verts[v1], axis=1))])
    removed = [fc for fc in bld.faces if v1 in fc or v2 in fc]
    bld.faces = [fc for fc in bld.faces if not (v1 in fc or v2 in fc)]
    nxt = {}
    for fc in removed:
        for u, w in ((fc[0], fc[1]), (fc[1], fc[2]), (fc[2], fc[0])):
            if u not in (v1, v2) and w not in (v1, v2):
                nxt[u] = w
    loop = [next(iter(nxt))]
    while len(loop) < len(nxt):
        loop.append(nxt[loop[-1]])
    assert nxt[loop[-1]] == loop[0], 'thumb hole is not a simple loop'
    hint = np.asarray(THUMB_DORSAL_HINT)
    _, _, (d, n, l) = _digit_ring(tskel, 0.0, (1, 1), hint)
    rel = verts[loop] - verts[loop].mean(0)
    ang = np.arctan2(rel @ n, rel @ l) - np.pi / RING
    loop = [int(i) for i in np.roll(loop, -int(np.argmax(np.cos(ang))))]
    digits.append(('thumb', tskel, THUMB_BONES, loop, THUMB_RADII, hint, THUMB_STATIONS,
                   THUMB_SCALE))
    for k, (name, skel, bones, base, radii, hint, stations, scales) in enumerate(digits):
        prev = base
        rel = np.array(bld.verts)[base]
        _, _, (d, n, l) = _digit_ring(skel, _station_arc(bones, stations[0]), (1, 1), hint)
        rel = rel - rel.mean(0)
        prev_t = _unwrap(np.arctan2(rel @ n, rel @ l) / (2 * np.pi))
        joint_rings = {}
        for st, sc in zip(stations, scales):
            s = _station_arc(bones, st)
            taper = 1 - 0.18 * s / sum(bones)
            centre, pts, _ = _digit_ring(skel, s, (radii[0] * sc * taper,
                                                   radii[1] * sc * taper), hint)
            ring = bld.add(pts, digit=k, arc=s, skel=centre)
            t = (np.arange(RING) + 0.5) / RING
            bld.faces += _zip_rings(prev, prev_t, ring, t)
            if st[1] == 0.0:
                joint_rings[st[0]] = ring
            prev, prev_t = ring, t
        tip = bld.add(skel[3], digit=k, arc=float(sum(bones)), skel=skel[3])[0]
        bld.faces += [(prev[i], prev[(i + 1) % RING], tip) for i in range(RING)]
        info[name] = dict(skel=skel, bones=bones, rings=joint_rings, tip=tip, hint=hint)

    # ---- drop the two thumb-hole vertices and re-index -----------------------------------
    keep = np.ones(len(bld.verts), dtype=bool)
    keep[[v1, v2]] = False
    new_id = np.cumsum(keep) - 1
    v = np.array(bld.verts)[keep]
    faces = new_id[np.array(bld.faces)]
    digit = np.array(bld.digit)[keep]
    arc = np.array(bld.arc)[keep]
    skel_pt = np.array(bld.skel)[keep]
    assert v.shape == (NUM_VERTS, 3) and faces.shape == (NUM_FACES, 3), (v.shape, faces.shape)

    # ---- joint regressor -----------------------------------------------------------------
    jreg = np.zeros((16, NUM_VERTS))
    jreg[0, new_id[wrist_ring]] = 1.0 / len(wrist_ring)
    for name in FINGER_NAMES + ('thumb', ):
        j0, rings_ = MANO_CHAIN_START[name], info[name]['rings']
        for k in range(3):
            if k in rings_:
                jreg[j0 + k, new_id[rings_[k]]] = 1.0 / RING
    # thumb CMC: radial third of the palm ring at the CMC, dorsal and palmar (inside thenar)
    cmc_ring = np.array(rings[2][0])
    sel = new_id[cmc_ring[np.array(bld.verts)[cmc_ring, 1] > 0.45 * _palm_width(0.16)]]
    jreg[13] = 0
    jreg[13, sel] = 1.0 / len(sel)
    joints = jreg @ v

    # ---- skinning weights --------------------------------------------------------------------
    weights = _skinning_weights(v, digit, arc, info, joints)

    # ---- blend shapes -------------------------------------------------------------------------
    names = FINGER_NAMES + ('thumb', )
    normals = _vertex_normals(v, faces)
    shapedirs = _shape_dirs(v, digit, arc, skel_pt, info, names, joints)
    posedirs = _pose_dirs(v, weights, normals)
    frames = _joint_frames(info)
    comps, mean = _pose_pca(frames)

    # the arrays use MANO's frame: x = X0 - a, y = c, z = b
    to_mano = np.array([[-1, 0, 0], [0, 0, 1], [0, 1, 0]], dtype=np.float64)  # rows: x,y,z
    conv = lambda p: p @ to_mano.T  # noqa: E731
    v_m = conv(v) + np.array([X0, 0, 0])
    shapedirs_m = np.einsum('ij,vjk->vik', to_mano, shapedirs)
    posedirs_m = np.einsum('ij,vjk->vik', to_mano, posedirs)
    # pose vectors are axial: rotate by to_mano and flip with its determinant (-1)
    det = np.linalg.det(to_mano)
    comps_m = (det * np.einsum('ij,ckj->cki', to_mano, comps.reshape(45, 15, 3))).reshape(45, 45)
    mean_m = (det * mean.reshape(15, 3) @ to_mano.T).reshape(45)
    # faces: the frame change is a reflection too, so flip the winding to keep normals out
    faces_m = faces[:, [0, 2, 1]] if det < 0 else faces
    tips = np.array([new_id[info[n]['tip']] for n in TIP_ORDER], dtype=np.int64)
    kintree = np.array([[4294967295] + list(MANO_PARENTS[1:]), list(range(16))], dtype=np.int64)
    return dict(v_template=v_m, f=faces_m, weights=weights, J_regressor=jreg,
                kintree_table=kintree, shapedirs=shapedirs_m, posedirs=posedirs_m,
                hands_components=comps_m, hands_mean=mean_m, J=jreg @ v_m,
                fingertip_vertex_ids=tips, bs_style='lbs', bs_type='lrotmin',
                gclhand_procedural_version=PROCEDURAL_VERSION)


def _ramp(s: np.ndarray, at: float, half_width: float) -> np.ndarray:
    return _smoothstep((s - at) / (2 * half_width) + 0.5)


def _skinning_weights(v, digit, arc, info, joints) -> np.ndarray:
    """(778, 16) linear-blend-skinning weights: ramps across each joint along the digit."""
    n = len(v)
    w = np.zeros((n, 16))
    names = FINGER_NAMES + ('thumb', )
    half = (0.009, 0.006, 0.005)
    # palm vertices: arc length relative to the nearest finger's MCP (distal direction)
    palm = digit < 0
    fb = np.array([_finger_b(f) for f in FINGER_NAMES])
    nearest = np.argmin(np.abs(v[:, 1:2] - fb[None]), axis=1)
    s_all = np.where(palm, v[:, 0] - np.array([FINGERS[f][0] for f in FINGER_NAMES])[nearest],
                     arc)
    chain = np.where(palm, nearest, digit)
    for k, name in enumerate(names):
        sel = chain == k
        bones = info[name]['bones']
        s = s_all[sel]
        j0 = MANO_CHAIN_START[name]
        u = [np.ones_like(s) if name == 'thumb' else _ramp(s, 0.0, half[0]),
             _ramp(s, bones[0], half[1]), _ramp(s, bones[0] + bones[1], half[2])]
        w[sel, 0] = 1 - u[0]
        w[sel, j0] = u[0] - u[1]
        w[sel, j0 + 1] = u[1] - u[2]
        w[sel, j0 + 2] = u[2]
    # thenar: palm vertices close to the thumb metacarpal follow the CMC joint
    skel = info['thumb']['skel']
    seg = skel[1] - skel[0]
    proj = np.clip((v - skel[0]) @ seg / (seg @ seg), 0, 1)
    dist = np.linalg.norm(v - (skel[0] + proj[:, None] * seg), axis=1)
    tau = np.where(palm, 1 - _smoothstep((dist - 0.011) / 0.016), 0.0)
    tau *= _smoothstep(proj / 0.3 + 0.3)
    w[palm] *= (1 - tau[palm])[:, None]
    w[palm, 13] += tau[palm]
    return w / w.sum(1, keepdims=True)


def _vertex_normals(v: np.ndarray, faces: np.ndarray) -> np.ndarray:
    fn = np.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]])
    vn = np.zeros_like(v)
    for k in range(3):
        np.add.at(vn, faces[:, k], fn)
    return _unit(vn + 1e-12)


def _shape_dirs(v, digit, arc, skel_pt, info, names, joints) -> np.ndarray:
    """(778, 3, 10) semantic shape directions (displacement per unit beta, metres)."""
    n = len(v)
    dirs = np.zeros((n, 3, 10))
    a_axis, b_axis, c_axis = np.eye(3)
    is_digit = digit >= 0
    base = np.zeros((n, 3))  # first joint of the vertex's digit (palm: itself)
    along = np.zeros((n, 3))  # skeleton point relative to the digit's first joint
    for k, name in enumerate(names):
        sel = digit == k
        base[sel] = info[name]['skel'][0]
        along[sel] = skel_pt[sel] - info[name]['skel'][0]
    base[~is_digit] = v[~is_digit]
    radial = np.where(is_digit[:, None], v - skel_pt, 0.0)
    dirs[:, :, 0] = 0.05 * (v - joints[0])  # global size
    fingers = is_digit & (digit < 4)
    dirs[fingers, :, 1] = 0.07 * along[fingers]  # finger length
    dirs[:, :, 2] = 0.12 * radial  # finger width
    dirs[:, :, 3] = 0.06 * base[:, 1:2] * b_axis  # palm width (digits move with their base)
    dirs[:, :, 4] = 0.05 * np.clip(base[:, 0:1], 0, None) * a_axis  # palm length
    dirs[~is_digit, :, 5] = 0.10 * v[~is_digit, 2:3] * c_axis  # palm thickness
    dirs[is_digit, :, 5] = 0.10 * (radial[is_digit] @ c_axis)[:, None] * c_axis
    thumb = digit == 4
    dirs[thumb, :, 6] = 0.07 * along[thumb]  # thumb length
    for comp, finger_weights in ((7, {'pinky': 0.08}), (8, {'index': 0.05, 'ring': -0.05}),
                                 (9, {'middle': 0.05})):
        for name, scale in finger_weights.items():
            sel = digit == names.index(name)
            dirs[sel, :, comp] = scale * along[sel]
    return dirs


def _pose_dirs(v, weights, normals) -> np.ndarray:
    """(778, 3, 135) pose correctives: a dorsal bulge at each bending joint.

    The pose feature of joint j is ``vec(R_j - I)``; its trace ``-(2 - 2 cos theta)`` is
    proportional to the bend, so putting ``-alpha/2 * g_j(v) * n(v)`` on the three diagonal
    entries bulges the knuckle by ``alpha * (1 - cos theta)`` along the outward normal.
    """
    alpha = 0.004
    dirs = np.zeros((len(v), 3, 135))
    dorsal = np.clip(normals[:, 2], 0, None)  # local frame: c is dorsal
    for j in range(1, 16):
        parent = MANO_PARENTS[j]
        g = 4 * weights[:, parent] * weights[:, j] * dorsal
        for d in (0, 4, 8):
            dirs[:, :, 9 * (j - 1) + d] = -0.5 * alpha * g[:, None] * normals
    return dirs


def _joint_frames(info) -> np.ndarray:
    """(15, 2, 3): flexion and abduction axes of MANO joints 1..15 (local frame)."""
    frames = np.zeros((15, 2, 3))
    for name in FINGER_NAMES + ('thumb', ):
        skel, hint = info[name]['skel'], np.asarray(info[name]['hint'], dtype=np.float64)
        for k in range(3):
            d = _unit(skel[k + 1] - skel[k])
            n, l = _frame(d, hint)
            frames[MANO_CHAIN_START[name] + k - 1] = (l, n)
    return frames


def _pose_pca(frames: np.ndarray, num_samples: int = 4000, seed: int = 0):
    """PCA of sampled plausible poses -> (components (45, 45) orthonormal rows, mean (45,))."""
    rng = np.random.default_rng(seed)
    ns = num_samples
    fist = 1.1 * rng.beta(1.2, 2.2, ns) - 0.1
    spread = rng.normal(0.0, 0.15, ns)
    flex = np.zeros((ns, 15))
    abd = np.zeros((ns, 15))
    spread_gain = {'index': 0.8, 'middle': 0.1, 'ring': -0.5, 'pinky': -1.0}
    for name in FINGER_NAMES:
        j = MANO_CHAIN_START[name] - 1
        curl = np.clip(fist + rng.normal(0, 0.25, ns), -0.25, 1.3)
        flex[:, j] = 1.15 * curl + rng.normal(0, 0.08, ns)
        flex[:, j + 1] = np.clip(1.35 * curl + rng.normal(0, 0.1, ns), -0.1, None)
        flex[:, j + 2] = 0.7 * flex[:, j + 1] + rng.normal(0, 0.06, ns)
        abd[:, j] = (spread_gain[name] * spread + rng.normal(0, 0.05, ns)) * (1 - 0.6 * np.clip(
            curl, 0, 1))
    j = MANO_CHAIN_START['thumb'] - 1
    oppose = rng.uniform(-0.2, 0.9, ns)
    flex[:, j] = 0.6 * oppose + 0.3 * fist + rng.normal(0, 0.08, ns)
    abd[:, j] = rng.normal(0.05, 0.25, ns) - 0.3 * oppose
    flex[:, j + 1] = 0.4 * oppose + rng.uniform(-0.1, 0.5, ns)
    flex[:, j + 2] = rng.uniform(-0.2, 0.9, ns)
    poses = flex[..., None] * frames[None, :, 0] + abd[..., None] * frames[None, :, 1]
    poses = poses.reshape(ns, 45) + rng.normal(0, 0.03, (ns, 45))
    mean = poses.mean(0)
    evals, evecs = np.linalg.eigh(np.cov(poses - mean, rowvar=False))
    comps = evecs[:, np.argsort(evals)[::-1]].T
    comps *= np.sign(comps[np.arange(45), np.argmax(np.abs(comps), axis=1)])[:, None]
    return comps, mean


def mirror_to_left(right: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """The left hand as the mirror image (x -> -x) of a right-hand MANO-layout dict."""
    m = np.array([-1.0, 1.0, 1.0])
    left = dict(right)
    left['v_template'] = right['v_template'] * m
    left['J'] = right['J'] * m
    left['f'] = right['f'][:, [0, 2, 1]]
    left['shapedirs'] = right['shapedirs'] * m[None, :, None]
    # pose feature (R - I)_{ij} of the mirrored hand is m_i m_j (R - I)_{ij}
    mm = np.outer(m, m).reshape(9)
    pd = right['posedirs'].reshape(-1, 3, 15, 9) * m[None, :, None, None] * mm
    left['posedirs'] = pd.reshape(right['posedirs'].shape)
    axial = np.array([1.0, -1.0, -1.0])  # a mirrored rotation vector (wx, -wy, -wz)
    left['hands_components'] = (right['hands_components'].reshape(45, 15, 3) *
                                axial).reshape(45, 45)
    left['hands_mean'] = (right['hands_mean'].reshape(15, 3) * axial).reshape(45)
    return left


def generate_procedural_hand() -> Dict[str, Dict[str, np.ndarray]]:
    """Generate both hands: ``{'right': arrays, 'left': arrays}`` in the MANO layout."""
    right = _build_right()
    return {'right': right, 'left': mirror_to_left(right)}
