"""Loader throughput through the full training pipeline (not collected by pytest).

    python tests/test_datasets/bench_loader.py --num 300 --workers 2 --size 256

Generates (once) synthetic IntagHand-layout data, then times a DataLoader over
``InterHandIntagDataset`` + the training transforms + MMEngine's ``pseudo_collate``.
"""
import argparse
import os.path as osp
import tempfile
import time

import cv2
import torch
from mmengine.dataset import pseudo_collate
from torch.utils.data import DataLoader

from gclhand.datasets import InterHandIntagDataset

TRAIN_PIPELINE = [
    dict(type='LoadHandImage'),
    dict(type='RandomHandAffine', scale_range=(0.9, 1.1), rotate_range=30, shift_range=0.1),
    dict(type='RandomHandFlip', prob=0.5),
    dict(type='ColorJitter', brightness=0.2, contrast=0.2, saturation=0.2),
    dict(type='ResizeHand', size=256),
    dict(type='PackHandInputs'),
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--root', default=osp.join(tempfile.gettempdir(), 'gclhand_bench'))
    parser.add_argument('--num', type=int, default=128)
    parser.add_argument('--size', type=int, default=256)
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--epochs', type=int, default=4)
    args = parser.parse_args()
    # as MMEngine's Runner does (set_multi_processing): no OpenCV/torch thread pools per
    # worker, the parallelism comes from the worker processes
    torch.set_num_threads(1)
    cv2.setNumThreads(0)
    pipeline = [dict(t, size=args.size) if t['type'] == 'ResizeHand' else t
                for t in TRAIN_PIPELINE]
    t0 = time.perf_counter()
    ds = InterHandIntagDataset(args.root, 'train', pipeline=pipeline,
                               synthetic=dict(num=dict(train=args.num), splits=['train'],
                                              seed=0, img_size=args.size, workers=1,
                                              progress=False))
    print(f'dataset init (incl. generation if absent): {time.perf_counter() - t0:.1f} s, '
          f'{len(ds)} samples')
    loader = DataLoader(ds, batch_size=args.batch, shuffle=True, num_workers=args.workers,
                        collate_fn=pseudo_collate, persistent_workers=args.workers > 0)
    for epoch in range(args.epochs):  # epoch 0 includes worker start-up
        t0, n = time.perf_counter(), 0
        for batch in loader:
            n += len(batch['inputs'])
        dt = time.perf_counter() - t0
        print(f'epoch {epoch}: {n} samples in {dt:.2f} s = {n / dt:.0f} samples/s '
              f'({args.workers} workers, {args.size} px)')


if __name__ == '__main__':
    main()
