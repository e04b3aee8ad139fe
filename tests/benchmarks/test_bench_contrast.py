"""Pool and graph-hierarchy benchmarks.

    pytest tests/benchmarks/test_bench_contrast.py --benchmark-only

* ``FeaturePosePool.enqueue`` and the similarity cost (self-contrast logits against the queue
  + cross contrast ``S_p = q keys^T`` vs ``S_g``, forward + backward) for queue sizes 512,
  2048, 8192 at M = 64 hands (batch 32): both are single matmuls / index writes, so the
  similarity cost should grow linearly in the queue size and enqueue stay flat.
* graph hierarchy build: cold (empty disk cache) vs cached (file present).
"""
import pytest
import torch
import torch.nn.functional as F

from gclhand.registry import CONTRAST_HEADS, MODELS

M, D = 64, 64  # hands per step at batch 32, embedding size of the DGCL configs


def filled_pool(size):
    pool = MODELS.build(dict(type='FeaturePosePool', size=size, feat_dim=D))
    g = torch.Generator().manual_seed(0)
    for _ in range(size // M):
        pool.enqueue(F.normalize(torch.randn(M, D, generator=g), dim=1),
                     torch.randn(M, 21, 3, generator=g) * 0.05)
    return pool


@pytest.mark.parametrize('size', [512, 2048, 8192])
def test_bench_pool_enqueue(benchmark, size):
    pool = filled_pool(size)
    feats = F.normalize(torch.randn(M, D), dim=1)
    poses = torch.randn(M, 21, 3) * 0.05
    benchmark.extra_info['queue'] = size
    benchmark.pedantic(pool.enqueue, args=(feats, poses), rounds=50, warmup_rounds=5,
                       iterations=1)


@pytest.mark.parametrize('size', [512, 2048, 8192])
def test_bench_pool_similarity(benchmark, size):
    pool = filled_pool(size)
    self_head = CONTRAST_HEADS.build(dict(type='SelfContrastHead', tau=0.1))
    cross_head = CONTRAST_HEADS.build(dict(type='CrossContrastHead',
                                           sim_target=dict(type='DotTarget')))
    q = F.normalize(torch.randn(M, D), dim=1).requires_grad_()
    k = F.normalize(torch.randn(M, D), dim=1)
    joints = torch.randn(M, 21, 3) * 0.05

    def run():
        queue, poses, valid = (t.clone() for t in pool.entries())  # as DGCLNet.loss does
        loss = self_head.loss(q, k, queue) + cross_head.loss(
            q, torch.cat([k, queue]), joints, torch.cat([joints, poses]),
            valid_k=torch.cat([torch.ones(M, dtype=torch.bool), valid]))
        loss.backward()

    benchmark.extra_info['queue'] = size
    benchmark.pedantic(run, rounds=20, warmup_rounds=3, iterations=1)


@pytest.mark.parametrize('state', ['cold', 'cached'])
def test_bench_graph_hierarchy(benchmark, tmp_path, state):
    from gclhand.hand import build_graph_hierarchy, build_hand_model
    hm = build_hand_model(dict(type='MANOHandModel', use_pca=True))
    counter = iter(range(10**6))

    def setup():
        d = tmp_path / (f'c{next(counter)}' if state == 'cold' else 'shared')
        return (hm, ), dict(cache_dir=str(d))

    if state == 'cached':
        build_graph_hierarchy(hm, cache_dir=str(tmp_path / 'shared'))
    benchmark.pedantic(build_graph_hierarchy, setup=setup,
                       rounds=3 if state == 'cold' else 20, iterations=1)
