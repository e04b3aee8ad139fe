# GCN baseline, synthetic data, CPU scale (why these sizes: docs/reproduce.md section 3).
_base_ = [
    './_base_/default_runtime.py',
    './_base_/schedules/cpu_synth.py',
    './_base_/datasets/synth_intag.py',
    './_base_/models/gcn_baseline.py',
]
model = dict(
    encoder=dict(depth=18, base_channels=32),
    hand_split=dict(hidden_channels=256),
    decoder=dict(channels=(64, 32, 16), K=2, image_attention=False, cross_hand_attention=False),
    camera_head=dict(hidden_channels=256),
)
