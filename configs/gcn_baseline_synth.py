# The GCN baseline on gclhand's synthetic two-hand data, at CPU scale: a half-width ResNet-18
# at 64 px and a narrower decoder without the IntagHand attention blocks (at this size they
# double the step time -- 0.55 vs 0.29 s, batch 16, 2 cores -- without lowering the
# validation error reached in the same wall time), so that the README main job, DGCL
# training + evaluation, takes about 10 minutes on 2 cores.
# The synthetic rows of Table 2 are diffs on this file.
_base_ = [
    './_base_/default_runtime.py',
    './_base_/schedules/cpu_synth.py',
    './_base_/datasets/synth_intag.py',
    './_base_/models/gcn_baseline.py',
]
model = dict(
    encoder=dict(depth=18, base_channels=32),
    hand_split=dict(hidden_channels=256),
    decoder=dict(channels=(128, 64, 32), image_attention=False, cross_hand_attention=False),
    camera_head=dict(hidden_channels=256),
)
