"""Generate the licence-free procedural hand model (MANO layout) and optionally a picture.

Examples::

    # write MANO_RIGHT.pkl / MANO_LEFT.pkl into the cache (what the library does on first use)
    gclhand make-hand-model
    # into a chosen directory, plus the docs picture and the graph-hierarchy summary
    gclhand make-hand-model --out-dir work_dirs/hand \
        --render docs/images/hand_model.png --graph

The files load with ``smplx.MANO(out_dir, is_rhand=True)`` unmodified.
"""
import argparse
import os.path as osp
import time

import torch


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--out-dir', help='where to write the pkl files (default: the cache, '
                   '$GCLHAND_CACHE or ~/.cache/gclhand)')
    p.add_argument('--model-dir', help='render/summarise this real MANO directory instead')
    p.add_argument('--render', help='write a picture of both hands in a few poses here')
    p.add_argument('--graph', action='store_true', help='build and summarise the graph '
                   'hierarchy (63 -> 126 -> 252 nodes)')
    return p.parse_args(argv)


def demo_poses(hm, side: str) -> dict:
    """Named axis-angle poses (flat_hand_mean=True model) for the picture."""
    arr = hm.arrays[side]
    mean = torch.as_tensor(arr['hands_mean'], dtype=torch.float32)
    comps = torch.as_tensor(arr['hands_components'], dtype=torch.float32)
    flip = torch.tensor([1., 1., 1.] if side == 'right' else [1., -1., -1.])
    point = torch.zeros(15, 3)
    for j in (4, 5, 6, 7, 8, 9, 10, 11, 12):  # curl middle, pinky, ring; index straight
        point[j, 2] = 1.2 if j % 3 == 0 else 1.0
    point[12] = torch.tensor([0.0, -0.3, 0.6])  # thumb across
    point = (point * flip).reshape(45)
    return {'flat (zero pose)': torch.zeros(45), 'rest (hands_mean)': mean,
            'fist (+2.5 PC1)': mean + 2.5 * comps[0], 'point': point}


def render(hm, path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    from gclhand.hand.viz import plot_hand_mesh
    names = list(demo_poses(hm, 'right'))
    fig = plt.figure(figsize=(4 * len(names), 7.6))
    for r, side in enumerate(('right', 'left')):
        poses = demo_poses(hm, side)
        for c, name in enumerate(names):
            out = hm(side=side, hand_pose=poses[name][None])
            ax = fig.add_subplot(2, len(names), r * len(names) + c + 1, projection='3d')
            color = (0.85, 0.62, 0.52) if side == 'right' else (0.55, 0.68, 0.85)
            # look at the back of the hand from above the thumb side
            azim = -70 if side == 'right' else -110
            plot_hand_mesh(ax, out.vertices[0].numpy(), hm.faces(side).numpy(), color=color,
                           joints=out.joints[0].numpy(), view=(35, azim))
            ax.set_title(f'{side}: {name}', fontsize=11)
    fig.suptitle('gclhand procedural hand model (778 vertices, 1538 faces, 16+5 joints)' if
                 hm.is_procedural else f'MANO from {hm.model_dir}')
    plt.tight_layout()
    fig.savefig(path, dpi=80)
    print(f'wrote {path}')


def main(argv=None):
    args = parse_args(argv)
    from gclhand.hand import MANOHandModel, build_graph_hierarchy
    from gclhand.hand.hand_model import procedural_model_dir
    from gclhand.hand.mano_io import MANO_FILES, save_mano_arrays
    from gclhand.hand.procedural import generate_procedural_hand
    if args.model_dir:
        hm = MANOHandModel(model_dir=args.model_dir, use_pca=False, flat_hand_mean=True)
    else:
        t0 = time.perf_counter()
        if args.out_dir:
            for side, arrays in generate_procedural_hand().items():
                save_mano_arrays(arrays, osp.join(args.out_dir, MANO_FILES[side]))
            out_dir = args.out_dir
        else:
            out_dir = procedural_model_dir()
        print(f'procedural hand model in {out_dir} ({time.perf_counter() - t0:.2f} s)')
        hm = MANOHandModel(model_dir=out_dir, use_pca=False, flat_hand_mean=True)
        hm.is_procedural = True
    a = hm.arrays['right']
    print(f"vertices {a['v_template'].shape}, faces {a['f'].shape}, joints "
          f"{a['J_regressor'].shape[0]}, fingertips {hm.fingertip_ids.tolist()}, "
          f'hash {hm.content_hash}')
    j = hm(side='right', hand_pose=torch.zeros(1, 45)).joints[0]
    print(f'wrist -> middle tip {1000 * float((j[12] - j[0]).norm()):.0f} mm, palm width '
          f'(index-pinky MCP) {1000 * float((j[5] - j[17]).norm()):.0f} mm')
    if args.graph:
        t0 = time.perf_counter()
        gh = build_graph_hierarchy(hm)
        print(f'{gh} ({time.perf_counter() - t0:.3f} s)')
    if args.render:
        render(hm, args.render)
