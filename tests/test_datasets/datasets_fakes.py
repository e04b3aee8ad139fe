"""Hand-written fixtures for the dataset tests: IntagHand-layout samples and a tiny fake
InterHand2.6M release."""
import json
import os
import os.path as osp
import pickle

import cv2
import numpy as np

HANDS = ('left', 'right')


def random_rotation(rng, max_angle=np.pi) -> np.ndarray:
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    return cv2.Rodrigues(axis * rng.uniform(0, max_angle))[0]


def make_annotation(rng, img_size=256, hand_type='interacting') -> dict:
    """One IntagHand-layout annotation with plain numpy values (world = MANO space)."""
    mano = {}
    for side, x in zip(HANDS, (0.06, -0.06)):
        mano[side] = dict(
            R=random_rotation(rng, 0.5)[None].astype(np.float32),
            pose=rng.normal(0, 0.3, (1, 45)).astype(np.float32),
            shape=rng.normal(0, 0.5, (1, 10)).astype(np.float32),
            trans=np.array([[x, 0.0, 0.0]], np.float32))
    f = img_size * 2.0
    K = np.array([[f, 0, img_size / 2], [0, f, img_size / 2], [0, 0, 1]], np.float32)
    camera = dict(R=random_rotation(rng, 0.3).astype(np.float32),
                  t=np.array([0.0, 0.0, 0.6], np.float32), camera=K)
    return dict(image=f'fake_{img_size}.jpg', mano_params=mano, camera=camera,
                annotation=dict(hand_type=hand_type, hand_type_valid=1))


def write_jpeg(path: str, size=(256, 256), value=0) -> None:
    h, w = size
    img = np.full((h, w, 3), value, np.uint8)
    img[::8] = 255 - value  # some structure
    ok, buf = cv2.imencode('.jpg', img)
    assert ok
    with open(path, 'wb') as f:
        f.write(buf.tobytes())


def write_intag_split(root: str, split: str = 'train', num: int = 2, seed: int = 0,
                      img_size: int = 256) -> str:
    """Write ``num`` samples in the IntagHand layout under ``root/split``."""
    rng = np.random.default_rng(seed)
    for sub in ('img', 'anno'):
        os.makedirs(osp.join(root, split, sub), exist_ok=True)
    for i in range(num):
        write_jpeg(osp.join(root, split, 'img', f'{i}.jpg'), (img_size, img_size), 40 * i)
        with open(osp.join(root, split, 'anno', f'{i}.pkl'), 'wb') as f:
            pickle.dump(make_annotation(rng, img_size), f)
    return osp.join(root, split)


# ------------------------------------------------------------------ fake InterHand2.6M
def write_fake_release(root: str, hand_model, split: str = 'test', img_hw=(240, 160),
                       seed: int = 0) -> dict:
    """A 4-image fake release: 2 valid interacting samples, one right-hand-only sample and
    one interacting sample with ``hand_type_valid = 0`` (both must be filtered out).

    World joints are the hand model's joints (x1000, InterHand order), so the annotated
    joints must agree with the MANO-derived labels.  The data file's ``joint_valid`` (what
    the official evaluation uses) of image 2 marks the left wrist (41) and the right thumb's
    first joint (3) as not annotated; the joint file's says all are.
    """
    import torch

    from gclhand.hand.joints import library_to_interhand
    rng = np.random.default_rng(seed)
    h, w = img_hw
    capture, cam = 0, '400262'
    camrot = random_rotation(rng, 0.2)
    campos = -camrot.T @ np.array([0.0, 0.0, 700.0])  # world origin 0.7 m in front
    cameras = {str(capture): dict(
        campos={cam: campos.tolist()}, camrot={cam: camrot.tolist()},
        focal={cam: [300.0, 310.0]}, princpt={cam: [w / 2 + 3, h / 2 - 2]})}
    images, annotations, joints, manos = [], [], {str(capture): {}}, {str(capture): {}}
    kinds = [('interacting', 1, True), ('right', 1, False), ('interacting', 1, True),
             ('interacting', 0, True)]
    for i, (hand_type, type_valid, both) in enumerate(kinds):
        frame = 100 + i
        file_name = f'Capture{capture}/ROM01/cam{cam}/image{frame}.jpg'
        os.makedirs(osp.join(root, 'images', split, osp.dirname(file_name)), exist_ok=True)
        write_jpeg(osp.join(root, 'images', split, file_name), (h, w), 30 * i)
        images.append(dict(id=i, file_name=file_name, width=w, height=h, capture=capture,
                           subject=0, seq_name='ROM01', camera=cam, frame_idx=frame))
        joint_valid = [[1]] * 42
        if i == 2:
            joint_valid[41] = joint_valid[3] = [0]
        annotations.append(dict(id=i, image_id=i, bbox=[0, 0, w, h],
                                joint_valid=joint_valid, hand_type=hand_type,
                                hand_type_valid=type_valid))
        fits, lib_joints = {}, np.zeros((2, 21, 3))
        for k, (side, x) in enumerate(zip(HANDS, (0.05, -0.05))):
            if not both and side == 'left':
                fits[side] = None
                continue
            pose = rng.normal(0, 0.3, 48)
            pose[:3] = cv2.Rodrigues(random_rotation(rng, 0.6))[0][:, 0]
            fit = dict(pose=pose.tolist(), shape=rng.normal(0, 0.5, 10).tolist(),
                       trans=[x, 0.01 * i, 0.0])
            fits[side] = fit
            out = hand_model(side=side,
                             hand_pose=torch.tensor(pose[3:], dtype=torch.float32)[None],
                             betas=torch.tensor(fit['shape'], dtype=torch.float32)[None],
                             global_orient=torch.tensor(pose[:3], dtype=torch.float32)[None],
                             transl=torch.tensor(fit['trans'], dtype=torch.float32)[None])
            lib_joints[k] = out.joints[0].numpy()
        manos[str(capture)][str(frame)] = fits
        joints[str(capture)][str(frame)] = dict(
            world_coord=(library_to_interhand(lib_joints) * 1000).tolist(),
            joint_valid=[1] * 42, hand_type=hand_type, hand_type_valid=type_valid)
    ann_dir = osp.join(root, 'annotations', split)
    os.makedirs(ann_dir, exist_ok=True)
    for kind, obj in (('data', dict(images=images, annotations=annotations)),
                      ('camera', cameras), ('joint_3d', joints), ('MANO_NeuralAnnot', manos)):
        with open(osp.join(ann_dir, f'InterHand2.6M_{split}_{kind}.json'), 'w') as f:
            json.dump(obj, f)
    return dict(camrot=camrot, campos=campos, valid_ids=[0, 2])
