# The GCN baseline on gclhand's synthetic two-hand data, at CPU scale: a half-width ResNet-18
# at 64 px, and a narrow decoder (64, 32, 16 channels, Chebyshev order 2) without the
# IntagHand attention blocks. On 2 cores the wall-clock budget is the constraint: at equal
# training time (6 min, docs/reproduce.md) the narrow decoder takes 1.6x more steps and ends
# lower than (128, 64, 32) / order 3, and the attention blocks cost 1.5x per step for a
# small gain per step. The synthetic rows of Table 2 are diffs on this file.
_base_ = [
    './_base_/default_runtime.py',
    './_base_/schedules/cpu_synth.py',
    './_base_/datasets/synth_intag.py',
    './_base_/models/gcn_baseline.py',
]
model = dict(
    encoder=dict(depth=18, base_channels=32),
    hand_split=dict(hidden_channels=256),
    decoder=dict(channels=(64, 32, 16), K=2, image_attention=False,
                 cross_hand_attention=False),
    camera_head=dict(hidden_channels=256),
)
