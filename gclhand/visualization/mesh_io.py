"""Write (and read back) triangle meshes as Wavefront OBJ or ASCII PLY, no dependencies.

The files load in any mesh tool (trimesh, MeshLab, Blender).  Vertices are written with
``%.6f`` (micrometre resolution for metre units); faces are 0-based in memory, 1-based in OBJ
as the format requires.
"""
import os
import os.path as osp
from typing import Optional, Tuple, Union

import numpy as np
import torch

__all__ = ['write_mesh', 'write_obj', 'write_ply', 'read_obj']

ArrayLike = Union[np.ndarray, torch.Tensor]


def _arrays(verts: ArrayLike, faces: ArrayLike) -> Tuple[np.ndarray, np.ndarray]:
    v = verts.detach().cpu().numpy() if isinstance(verts, torch.Tensor) else np.asarray(verts)
    f = faces.detach().cpu().numpy() if isinstance(faces, torch.Tensor) else np.asarray(faces)
    if v.ndim != 2 or v.shape[1] != 3:
        raise ValueError(f'mesh vertices must be (V, 3), got {v.shape}')
    if f.ndim != 2 or f.shape[1] != 3:
        raise ValueError(f'mesh faces must be (F, 3), got {f.shape}')
    if f.size and (f.min() < 0 or f.max() >= len(v)):
        raise ValueError(f'face indices must lie in [0, {len(v)}), got [{f.min()}, {f.max()}]')
    return v.astype(np.float64), f.astype(np.int64)


def _makedirs(path: str) -> None:
    d = osp.dirname(osp.abspath(path))
    os.makedirs(d, exist_ok=True)


def write_obj(path: str, verts: ArrayLike, faces: ArrayLike,
              colors: Optional[ArrayLike] = None) -> str:
    """Write an OBJ file: ``v x y z [r g b]`` lines then ``f i j k`` (1-based) lines.

    Args:
        path: output file.
        verts: ``(V, 3)`` vertices.
        faces: ``(F, 3)`` 0-based vertex indices.
        colors: optional ``(3,)`` or ``(V, 3)`` RGB in ``[0, 1]`` (the common ``v x y z r g b``
            extension, read by trimesh and MeshLab).

    Returns:
        ``path``.
    """
    v, f = _arrays(verts, faces)
    _makedirs(path)
    if colors is not None:
        c = np.broadcast_to(np.asarray(colors, np.float64), v.shape)
        body = np.concatenate([v, c], 1)
        v_lines = '\n'.join('v ' + ' '.join(f'{x:.6f}' for x in row) for row in body)
    else:
        v_lines = '\n'.join(f'v {x:.6f} {y:.6f} {z:.6f}' for x, y, z in v)
    f_lines = '\n'.join(f'f {a + 1} {b + 1} {c + 1}' for a, b, c in f)
    with open(path, 'w') as fh:
        fh.write(f'# gclhand mesh: {len(v)} vertices, {len(f)} faces\n')
        fh.write(v_lines + '\n')
        fh.write(f_lines + '\n')
    return path


def write_ply(path: str, verts: ArrayLike, faces: ArrayLike,
              colors: Optional[ArrayLike] = None) -> str:
    """Write an ASCII PLY file (optionally with per-vertex ``uchar`` RGB colours in [0, 1])."""
    v, f = _arrays(verts, faces)
    _makedirs(path)
    header = ['ply', 'format ascii 1.0', f'element vertex {len(v)}',
              'property float x', 'property float y', 'property float z']
    if colors is not None:
        c = np.broadcast_to(np.asarray(colors, np.float64), v.shape)
        c = np.clip(np.round(c * 255), 0, 255).astype(np.int64)
        header += ['property uchar red', 'property uchar green', 'property uchar blue']
        v_lines = [f'{x:.6f} {y:.6f} {z:.6f} {r} {g} {b}'
                   for (x, y, z), (r, g, b) in zip(v, c)]
    else:
        v_lines = [f'{x:.6f} {y:.6f} {z:.6f}' for x, y, z in v]
    header += [f'element face {len(f)}', 'property list uchar int vertex_indices',
               'end_header']
    f_lines = [f'3 {a} {b} {c}' for a, b, c in f]
    with open(path, 'w') as fh:
        fh.write('\n'.join(header + v_lines + f_lines) + '\n')
    return path


def write_mesh(path: str, verts: ArrayLike, faces: ArrayLike,
               colors: Optional[ArrayLike] = None) -> str:
    """Write ``path`` as OBJ or PLY, chosen by its extension (``.obj`` / ``.ply``)."""
    ext = osp.splitext(path)[1].lower()
    if ext == '.obj':
        return write_obj(path, verts, faces, colors)
    if ext == '.ply':
        return write_ply(path, verts, faces, colors)
    raise ValueError(f"write_mesh: unsupported extension '{ext}' in {path}; use .obj or .ply")


def read_obj(path: str) -> Tuple[np.ndarray, np.ndarray]:
    """Read the vertices ``(V, 3)`` and triangle faces ``(F, 3)`` (0-based) of an OBJ file.

    Handles ``f a/b/c`` index forms and ignores every other record; polygons with more than
    three vertices are fan-triangulated.
    """
    verts, faces = [], []
    with open(path) as fh:
        for line in fh:
            parts = line.split()
            if not parts:
                continue
            if parts[0] == 'v':
                verts.append([float(x) for x in parts[1:4]])
            elif parts[0] == 'f':
                idx = [int(p.split('/')[0]) for p in parts[1:]]
                idx = [i - 1 if i > 0 else len(verts) + i for i in idx]
                faces.extend([idx[0], idx[k], idx[k + 1]] for k in range(1, len(idx) - 1))
    return (np.asarray(verts, np.float64).reshape(-1, 3),
            np.asarray(faces, np.int64).reshape(-1, 3))
