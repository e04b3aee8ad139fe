"""A small vectorised z-buffer triangle rasteriser in plain PyTorch.

Why not a library: the maintained mesh renderers either need a GPU context
(``pyrender`` needs OpenGL through EGL/OSMesa, which does not install headless from PyPI;
``nvdiffrast`` needs CUDA), or compiled extensions that have no CPU wheel for the pinned
torch (``pytorch3d``).  The synthetic dataset only needs flat / Lambert-shaded opaque
triangles at 64-256 px, which takes ~150 lines of tensor code here and runs on any
machine that runs the rest of the library.

Conventions (OpenCV / InterHand2.6M):
    * camera frame x right, y down, z forward (metres); points need ``z > near``.
    * pixel ``(u, v)`` has its *centre* at integer coordinates, so pixel column ``i`` covers
      ``[i - 0.5, i + 0.5)``; ``u = fx * x / z + cx``.

The rasteriser works on chunks of faces: each face gets the pixel centres of its
(clipped) bounding box, barycentric coordinates are computed for all of them at once,
and the nearest fragment per pixel is selected with one ``scatter_reduce(amin)`` over a
packed ``(depth bits, face index)`` int64 key, which makes the result exact and
deterministic even when fragments tie.  Faces are sorted by bounding-box size so that a
few large faces do not inflate the work of many small ones.
"""
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ['Fragments', 'project_points', 'rasterize', 'shade', 'render_mesh',
           'face_normals', 'vertex_normals']

#: Upper bound of (faces x bounding-box pixels) handled by one vectorised chunk.
_CHUNK_BUDGET = 1 << 20
_EMPTY = torch.iinfo(torch.int64).max


@dataclass
class Fragments:
    """Nearest-surface fragment of every pixel.

    Attributes:
        face_idx: (H, W) long, index of the visible face, ``-1`` where no face covers the pixel.
        depth: (H, W) float, camera-space z of the visible surface, ``inf`` on background.
        bary: (H, W, 3) float, perspective-correct barycentric coordinates (0 on background).
    """
    face_idx: Tensor
    depth: Tensor
    bary: Tensor

    @property
    def mask(self) -> Tensor:
        """(H, W) bool, True where a face is visible."""
        return self.face_idx >= 0


def project_points(points: Tensor, K: Tensor, eps: float = 1e-8) -> Tensor:
    """Pinhole projection ``u = K x / z``.

    Args:
        points: (..., N, 3) camera-space points.
        K: (3, 3) or (..., 3, 3) intrinsics (broadcast against ``points``' batch dims).

    Returns:
        (..., N, 2) pixel coordinates (pixel centres at integers).
    """
    uvw = points @ K.transpose(-1, -2)
    return uvw[..., :2] / uvw[..., 2:].clamp_min(eps)


def face_normals(verts: Tensor, faces: Tensor) -> Tensor:
    """(V, 3), (F, 3) -> (F, 3) unit normals ``(v1 - v0) x (v2 - v0)``."""
    tri = verts[faces]
    n = torch.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0], dim=-1)
    return F.normalize(n, dim=-1)


def vertex_normals(verts: Tensor, faces: Tensor) -> Tensor:
    """(V, 3), (F, 3) -> (V, 3) area-weighted unit vertex normals."""
    tri = verts[faces]
    n = torch.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0], dim=-1)  # 2 * area * normal
    vn = torch.zeros_like(verts).index_add_(0, faces.reshape(-1), n.repeat_interleave(3, 0))
    return F.normalize(vn, dim=-1)


def rasterize(verts: Tensor, faces: Tensor, K: Tensor, image_size: Union[int, Tuple[int, int]],
              near: float = 1e-3) -> Fragments:
    """Rasterise a triangle mesh with a z-buffer.

    Both windings are drawn (no back-face culling): mirrored meshes such as a left MANO
    hand keep their outside visible.  Faces with a vertex at ``z <= near`` are skipped
    (no near-plane clipping; the synthetic scenes keep the hands well in front).

    Args:
        verts: (V, 3) camera-space vertices, metres.
        faces: (F, 3) long vertex indices.
        K: (3, 3) intrinsics of the output image.
        image_size: ``H`` or ``(H, W)``.
        near: minimal depth of a drawn face.

    Returns:
        :class:`Fragments` of size (H, W).
    """
    H, W = (image_size, image_size) if isinstance(image_size, int) else image_size
    device = verts.device
    faces = faces.to(device=device, dtype=torch.long)
    uv = project_points(verts, K.to(verts))                      # (V, 2)
    inv_z = 1.0 / verts[:, 2].clamp_min(near)                    # 1/z is affine in screen space
    tri_uv, tri_iz = uv[faces], inv_z[faces]                     # (F, 3, 2), (F, 3)

    e1, e2 = tri_uv[:, 1] - tri_uv[:, 0], tri_uv[:, 2] - tri_uv[:, 0]
    area = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]             # 2 x signed area
    lo = tri_uv.amin(1).ceil().clamp(min=0)                      # first pixel centre >= min
    hi = tri_uv.amax(1).floor()                                  # last pixel centre <= max
    hi[:, 0].clamp_(max=W - 1)
    hi[:, 1].clamp_(max=H - 1)
    size = (hi - lo + 1).clamp_min(0).long()                     # (F, 2) bbox extent (w, h)
    keep = (verts[faces][..., 2] > near).all(1) & (area.abs() > 1e-12) & (size > 0).all(1)
    fid = keep.nonzero().squeeze(1)
    side = size[fid].amax(1)
    side, order = side.sort(stable=True)                          # small faces first
    fid = fid[order]

    best = torch.full((H * W,), _EMPTY, dtype=torch.int64, device=device)
    start, n = 0, fid.numel()
    while start < n:
        # faces of similar bounding-box sides (padding stays tight), at most the budget
        s = int(side[start])
        top = max(s + 2, int(1.3 * s))
        similar = int(torch.searchsorted(side, top, right=True)) - start
        end = start + max(1, min(similar, _CHUNK_BUDGET // (top * top)))
        chunk = fid[start:end]
        bw, bh = (int(v) for v in size[chunk].amax(0))
        best = _raster_chunk(chunk, bw, bh, lo, size, tri_uv, tri_iz, area, best, W)
        start = end

    face_idx = torch.where(best == _EMPTY, -1,
                           best & 0xFFFFFFFF).view(H, W)
    return _fragments(face_idx, uv, inv_z, faces)


def _raster_chunk(fid: Tensor, bw: int, bh: int, lo: Tensor, size: Tensor, tri_uv: Tensor,
                  tri_iz: Tensor, area: Tensor, best: Tensor, W: int) -> Tensor:
    """Depth-test the pixels of ``fid``'s bounding boxes (padded to ``bh x bw``) into ``best``."""
    dev = tri_uv.device
    oy, ox = torch.meshgrid(torch.arange(bh, device=dev), torch.arange(bw, device=dev),
                            indexing='ij')
    ox, oy = ox.reshape(1, -1), oy.reshape(1, -1)                 # (1, P)
    inside_box = (ox < size[fid, 0:1]) & (oy < size[fid, 1:2])   # (C, P)
    px = lo[fid, 0:1] + ox                                       # (C, P) pixel centres
    py = lo[fid, 1:2] + oy
    t = tri_uv[fid]                                              # (C, 3, 2)
    # edge functions: w_i is the signed area opposite vertex i, normalised by the total
    w0 = ((t[:, 2, 0:1] - t[:, 1, 0:1]) * (py - t[:, 1, 1:2])
          - (t[:, 2, 1:2] - t[:, 1, 1:2]) * (px - t[:, 1, 0:1]))
    w1 = ((t[:, 0, 0:1] - t[:, 2, 0:1]) * (py - t[:, 2, 1:2])
          - (t[:, 0, 1:2] - t[:, 2, 1:2]) * (px - t[:, 2, 0:1]))
    a = area[fid].unsqueeze(1)
    b0, b1 = w0 / a, w1 / a
    b2 = 1.0 - b0 - b1
    inside = inside_box & (b0 >= 0) & (b1 >= 0) & (b2 >= 0)
    iz = tri_iz[fid]
    inv_depth = b0 * iz[:, 0:1] + b1 * iz[:, 1:2] + b2 * iz[:, 2:3]
    depth = (1.0 / inv_depth[inside]).float()
    # positive float32 bit patterns order like the floats: pack (depth, face) into one key
    key = (depth.view(torch.int32).to(torch.int64) << 32) | fid.unsqueeze(1).expand_as(px)[inside]
    pix = (py[inside] * W + px[inside]).long()
    return best.scatter_reduce(0, pix, key, reduce='amin')


def _fragments(face_idx: Tensor, uv: Tensor, inv_z: Tensor, faces: Tensor) -> Fragments:
    """Barycentrics and depth of the visible face at every pixel centre."""
    H, W = face_idx.shape
    dev, dtype = uv.device, uv.dtype
    mask = face_idx >= 0
    bary = torch.zeros(H, W, 3, device=dev, dtype=dtype)
    depth = torch.full((H, W), float('inf'), device=dev, dtype=dtype)
    if mask.any():
        ys, xs = mask.nonzero(as_tuple=True)
        f = faces[face_idx[ys, xs]]
        t = uv[f]                                                # (M, 3, 2)
        p = torch.stack([xs, ys], -1).to(dtype)
        e1, e2, ep = t[:, 1] - t[:, 0], t[:, 2] - t[:, 0], p - t[:, 0]
        area = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
        b1 = (ep[:, 0] * e2[:, 1] - ep[:, 1] * e2[:, 0]) / area
        b2 = (e1[:, 0] * ep[:, 1] - e1[:, 1] * ep[:, 0]) / area
        b = torch.stack([1 - b1 - b2, b1, b2], -1)               # screen-space barycentrics
        bz = b * inv_z[f]                                        # perspective correction
        inv_d = bz.sum(-1)
        bary[ys, xs] = bz / inv_d.unsqueeze(-1)
        depth[ys, xs] = 1.0 / inv_d
    return Fragments(face_idx=face_idx, depth=depth, bary=bary)


def shade(frags: Fragments, verts: Tensor, faces: Tensor, colors: Tensor,
          background: Optional[Tensor] = None, mode: str = 'smooth',
          light_dir: Sequence[float] = (0.0, 0.0, 1.0), ambient: float = 0.35,
          diffuse: float = 0.65) -> Tensor:
    """Colour the fragments with two-sided Lambert shading under a directional light.

    ``I = albedo * (ambient + diffuse * |n . l|)`` with ``l`` the unit vector *towards* the
    light's travel direction reversed (so ``light_dir=(0, 0, 1)`` is a light shining along
    the camera's viewing direction, i.e. from the camera).

    Args:
        frags: output of :func:`rasterize`.
        verts: (V, 3) camera-space vertices used for the normals.
        faces: (F, 3) faces.
        colors: per-vertex (V, 3), per-face (F, 3) or one (3,) albedo in [0, 1].  Per-vertex
            colours are interpolated; a tensor with ``V == F`` rows is read as per-vertex.
        background: (H, W, 3) image in [0, 1]; black when ``None``.
        mode: ``'flat'`` (face normals), ``'smooth'`` (interpolated vertex normals) or
            ``'none'`` (unlit albedo).
        light_dir: direction in which the light travels, camera frame.
        ambient, diffuse: Lambert weights.

    Returns:
        (H, W, 3) float image in [0, 1].
    """
    H, W = frags.face_idx.shape
    dtype, dev = verts.dtype, verts.device
    img = (torch.zeros(H, W, 3, dtype=dtype, device=dev) if background is None
           else background.to(device=dev, dtype=dtype).clone())
    mask = frags.mask
    if not mask.any():
        return img
    fi = frags.face_idx[mask]
    bary = frags.bary[mask]                                      # (M, 3)
    f = faces.to(dev, torch.long)[fi]                            # (M, 3)
    colors = colors.to(device=dev, dtype=dtype)
    if colors.dim() == 1:
        albedo = colors.expand(fi.numel(), 3)
    elif colors.shape[0] == verts.shape[0]:
        albedo = (colors[f] * bary.unsqueeze(-1)).sum(1)
    elif colors.shape[0] == faces.shape[0]:
        albedo = colors[fi]
    else:
        raise ValueError(f'colors has {colors.shape[0]} rows; expected {verts.shape[0]} '
                         f'(per vertex), {faces.shape[0]} (per face) or a single (3,) colour')
    if mode == 'none':
        out = albedo
    else:
        if mode == 'flat':
            n = face_normals(verts, faces.to(dev, torch.long))[fi]
        elif mode == 'smooth':
            vn = vertex_normals(verts, faces.to(dev, torch.long))
            n = F.normalize((vn[f] * bary.unsqueeze(-1)).sum(1), dim=-1)
        else:
            raise ValueError(f"shading mode must be 'flat', 'smooth' or 'none', got {mode!r}")
        light = F.normalize(torch.as_tensor(light_dir, dtype=dtype, device=dev), dim=0)
        lambert = (n @ light).abs()                               # two-sided
        out = albedo * (ambient + diffuse * lambert).unsqueeze(-1)
    img[mask] = out.clamp(0, 1)
    return img


def render_mesh(verts: Tensor, faces: Tensor, K: Tensor,
                image_size: Union[int, Tuple[int, int]], colors: Tensor,
                background: Optional[Tensor] = None, mode: str = 'smooth',
                light_dir: Sequence[float] = (0.0, 0.0, 1.0), ambient: float = 0.35,
                diffuse: float = 0.65) -> Tuple[Tensor, Fragments]:
    """Rasterise and shade one mesh (concatenate several meshes to render them together).

    Args:
        verts, faces, K, image_size: see :func:`rasterize`.
        colors, background, mode, light_dir, ambient, diffuse: see :func:`shade`.

    Returns:
        ``(image, fragments)``: (H, W, 3) float image in [0, 1] and the :class:`Fragments`.
    """
    frags = rasterize(verts, faces, K, image_size)
    img = shade(frags, verts, faces, colors, background, mode, light_dir, ambient, diffuse)
    return img, frags
