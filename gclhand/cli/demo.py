"""Reconstruct two hands from images: meshes, joints, cameras and an overlay per image.

    gclhand demo CONFIG CHECKPOINT --input IMG_OR_DIR [--out DIR]
                         [--bbox x0,y0,x1,y1] [--bbox-scale 1.0] [--mesh-format obj|ply]
                         [--fuse-conv-bn]

The model sees a square crop around *both* hands (256x256 in the paper).  Give it:

* 256x256 (or any square) crops around both hands, as in the IntagHand data layout; or
* a larger image together with the two-hand box ``--bbox x0,y0,x1,y1`` (pixels): the demo
  crops the square of side ``max(w, h) * --bbox-scale`` centred on the box.

**No hand detector is shipped.**  Without ``--bbox`` a non-square image is centre-cropped to
its largest square (the demo says so); when the hands are elsewhere, pass ``--bbox`` (from
any hand/person detector or drawn by hand).

Outputs per image ``NAME`` in ``--out`` (default ``demo_out/``):

* ``NAME_left.obj``, ``NAME_right.obj`` (or ``.ply``): meshes in metres, camera axes
  (x right, y down, z forward), origin at the right wrist; the left hand is placed with the
  predicted relative root translation.  They load in trimesh, MeshLab or Blender.
* ``NAME.json``: per hand the 21 joints (metres, wrist-relative, library order), the
  weak-perspective camera ``(s, tx, ty)``, 2D joints in pixels of the original image, the crop
  box, the relative root translation and ``canonical_length`` (the camera's unit).
* ``NAME_overlay.png``: ``[crop | meshes over the crop | side view]``, left hand blue, right
  hand orange (rendered with the library's rasteriser, orthographic weak-perspective camera).

``CHECKPOINT`` may be ``none`` to run the config's initial weights (for testing the plumbing).
"""
import argparse
import glob
import json
import os
import os.path as osp
import time
from typing import List, Optional, Tuple

import cv2
import numpy as np

IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config', help='config file the checkpoint was trained with')
    p.add_argument('checkpoint', help="checkpoint file, or 'none' for the initial weights")
    p.add_argument('--input', required=True,
                   help='an image or a folder of images (jpg, png, bmp, webp)')
    p.add_argument('--out', default='demo_out', help='output folder (default demo_out)')
    p.add_argument('--bbox', default=None, metavar='x0,y0,x1,y1',
                   help='box around BOTH hands in pixels of the input image(s); no hand '
                   'detector is shipped: without it a non-square image is centre-cropped')
    p.add_argument('--bbox-scale', type=float, default=1.0,
                   help='side of the square crop = longer box side * this (default 1.0)')
    p.add_argument('--mesh-format', choices=['obj', 'ply'], default='obj')
    p.add_argument('--input-size', type=int, default=None,
                   help='network input side; default: the config (input_size, or the '
                   'ResizeHand size of its test pipeline), else 256')
    p.add_argument('--render-size', type=int, default=512,
                   help='overlays are drawn at min(crop side, this) pixels (default 512)')
    p.add_argument('--no-side-view', action='store_true', help='leave out the side view')
    p.add_argument('--device', default='cpu', help="torch device (default 'cpu')")
    p.add_argument('--fuse-conv-bn', action='store_true',
                   help="fold the encoder's batch norms into its convolutions (same "
                   'meshes to float rounding, slightly faster)')
    p.add_argument('--no-progress', action='store_true', help='no progress bar')
    return p.parse_args(argv)


# -- inputs ------------------------------------------------------------------------------
def list_images(path: str) -> List[str]:
    """The image at ``path``, or the images directly inside the folder ``path`` (sorted)."""
    if osp.isfile(path):
        return [path]
    if osp.isdir(path):
        files = sorted(f for f in glob.glob(osp.join(path, '*'))
                       if osp.splitext(f)[1].lower() in IMAGE_EXTS)
        if not files:
            raise FileNotFoundError(f'--input {path}: no {"/".join(IMAGE_EXTS)} images inside')
        return files
    raise FileNotFoundError(f'--input {path} is neither an image nor a folder')


def parse_bbox(text: Optional[str]) -> Optional[Tuple[float, float, float, float]]:
    if text is None:
        return None
    try:
        x0, y0, x1, y1 = (float(v) for v in text.split(','))
    except ValueError:
        raise ValueError(f"--bbox must be 'x0,y0,x1,y1' (four numbers), got '{text}'")
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f'--bbox {text}: need x1 > x0 and y1 > y0')
    return x0, y0, x1, y1


def square_crop_box(shape: Tuple[int, int], bbox=None,
                    bbox_scale: float = 1.0) -> Tuple[np.ndarray, str]:
    """Square crop ``[x0, y0, side]`` (pixels, may reach outside the image) and a note."""
    h, w = shape
    if bbox is not None:
        x0, y0, x1, y1 = bbox
        side = max(x1 - x0, y1 - y0) * bbox_scale
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        return np.array([cx - side / 2, cy - side / 2, side]), 'bbox'
    if h == w:
        return np.array([0.0, 0.0, float(w)]), 'full'
    side = float(min(h, w))
    return (np.array([(w - side) / 2, (h - side) / 2, side]),
            f'no --bbox: centre-cropped the largest square ({int(side)}x{int(side)}) of the '
            f'{w}x{h} image')


def crop(image: np.ndarray, box: np.ndarray, out_size: int) -> np.ndarray:
    """Resample the square ``box = [x0, y0, side]`` to ``out_size`` px (black outside)."""
    x0, y0, side = box
    s = out_size / side
    # pixel centres: out (i) <- in (x0 - 0.5 + (i + 0.5) / s)
    M = np.array([[s, 0, -s * x0 + 0.5 * s - 0.5], [0, s, -s * y0 + 0.5 * s - 0.5]])
    return cv2.warpAffine(image, M, (out_size, out_size), flags=cv2.INTER_AREA
                          if s < 1 else cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


# -- outputs -----------------------------------------------------------------------------
def run_one(model, path: str, out_dir: str, args, visualizer) -> dict:
    """Process one image; returns the record written to ``NAME.json`` plus timings."""
    import torch

    from gclhand.apis import inference
    from gclhand.structures.hand_data_sample import HANDS
    from gclhand.visualization import (hstack_images, render_overlay, render_side_view,
                                       weak_perspective_to_view, write_mesh)

    t0 = time.perf_counter()
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(f'cannot read image {path}')
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    box, note = square_crop_box(rgb.shape[:2], args.bbox, args.bbox_scale)
    side = int(round(box[2]))
    crop_px = crop(rgb, box, side)
    t1 = time.perf_counter()
    pred = inference(model, [crop_px])[0]
    t2 = time.perf_counter()

    name = osp.splitext(osp.basename(path))[0]
    L = float(model.canonical_length)
    verts = pred.pred_verts_3d.cpu()  # (2, 778, 3) m, wrist-relative
    joints = pred.pred_joints_3d.cpu()
    rel_root = pred.pred_rel_root.cpu()  # left wrist - right wrist, m
    cam = pred.pred_cam.cpu()
    faces = [model.hand_model.faces(side_) for side_ in HANDS]
    offsets = torch.stack([rel_root, torch.zeros(3)])  # origin: the right wrist
    mesh_files = {}
    for h, hand in enumerate(HANDS):
        f = osp.join(out_dir, f'{name}_{hand}.{args.mesh_format}')
        write_mesh(f, verts[h] + offsets[h], faces[h], visualizer.hand_colors[h])
        mesh_files[hand] = osp.basename(f)
    joints_2d = pred.pred_joints_2d.cpu().numpy() + box[:2]  # crop px -> image px
    record = dict(
        image=osp.abspath(path), image_size=[int(rgb.shape[1]), int(rgb.shape[0])],
        crop=dict(box_xyxy=[float(box[0]), float(box[1]), float(box[0] + box[2]),
                            float(box[1] + box[2])], how=note.split(':')[0]),
        input_size=int(model.input_size), canonical_length=L,
        camera_model='weak perspective per hand: u = s * X_xy / canonical_length + (tx, ty), '
        'X wrist-relative metres, u in crop-size-normalised coordinates (0..1)',
        rel_root=rel_root.tolist(), meshes=mesh_files,
        hands={hand: dict(joints_3d=joints[h].tolist(), cam=cam[h].tolist(),
                          joints_2d=joints_2d[h].tolist()) for h, hand in enumerate(HANDS)})
    with open(osp.join(out_dir, f'{name}.json'), 'w') as fh:
        json.dump(record, fh, indent=1)

    size = min(side, args.render_size)
    view_img = cv2.resize(crop_px, (size, size), interpolation=cv2.INTER_AREA)
    view = weak_perspective_to_view(verts, cam, (size, size), L, rel_root)
    panels = [view_img, render_overlay(view_img, list(view), faces, visualizer.hand_colors)]
    labels = ['input crop', 'prediction']
    if not args.no_side_view:
        panels.append(render_side_view(list(view), faces, (size, size),
                                       visualizer.hand_colors))
        labels.append('side view')
    overlay = hstack_images(panels, labels)
    cv2.imwrite(osp.join(out_dir, f'{name}_overlay.png'), overlay[..., ::-1])
    t3 = time.perf_counter()
    record.update(note=note, time_load=t1 - t0, time_model=t2 - t1, time_write=t3 - t2,
                  time_total=t3 - t0)
    return record


def main(argv=None) -> List[dict]:
    args = parse_args(argv)
    args.bbox = parse_bbox(args.bbox)
    from tqdm import tqdm

    from gclhand.apis import init_model, input_size_from_config, register_all_modules
    from .config import check_registered_types, load_config
    from gclhand.visualization import HandVisualizer

    register_all_modules()
    images = list_images(args.input)
    from gclhand.engine.config_utils import evaluation_only_config
    # the training and validation splits are never built: their types are not needed
    cfg = evaluation_only_config(load_config(args.config, deployed=True))
    check_registered_types(cfg)
    checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
    if checkpoint is None:
        print('note: CHECKPOINT is none - running the initial (untrained) weights')
    model = init_model(cfg, checkpoint, device=args.device,
                       input_size=args.input_size or input_size_from_config(cfg),
                       fuse_conv_bn=args.fuse_conv_bn)
    visualizer = HandVisualizer(name='gclhand_demo')
    os.makedirs(args.out, exist_ok=True)
    records = []
    bar = tqdm(images, desc='demo', unit='img', disable=args.no_progress or len(images) < 2)
    for path in bar:
        rec = run_one(model, path, args.out, args, visualizer)
        if rec['note'] not in ('full', 'bbox'):
            tqdm.write(f'{osp.basename(path)}: {rec["note"]}')
        records.append(rec)
    n = len(records)
    model_t = sum(r['time_model'] for r in records) / n
    total_t = sum(r['time_total'] for r in records) / n
    print(f'{n} image(s) -> {osp.abspath(args.out)}; per image: model {model_t * 1e3:.0f} ms, '
          f'total {total_t * 1e3:.0f} ms (input {model.input_size} px, {args.device})')
    return records
