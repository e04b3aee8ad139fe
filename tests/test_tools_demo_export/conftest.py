"""A tiny model config for the demo / export tool tests."""
import os.path as osp

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SIZE = 64

TINY_CONFIG = f'''
default_scope = 'gclhand'
input_size = {SIZE}
model = dict(
    type='TwoHandEstimator',
    encoder=dict(type='ResNet', depth=18, base_channels=8, stage_blocks=(1, 1, 1, 1)),
    hand_split=dict(type='HandSplit', hidden_channels=16),
    decoder=dict(type='ChebGCNDecoder', channels=(8, 8, 8), K=2, num_heads=2,
                 image_attention={{attn}}, cross_hand_attention=True),
    camera_head=dict(type='CameraHead', hidden_channels=16))
'''


@pytest.fixture
def tiny_config(tmp_path):
    """Path of a tiny config; ``tiny_config(attn=True)`` adds image attention."""

    def make(attn: bool = False) -> str:
        path = tmp_path / f'tiny_attn{int(attn)}.py'
        path.write_text(TINY_CONFIG.replace('{attn}', str(attn)))
        return str(path)

    return make
