# The GCN baseline on gclhand's synthetic two-hand data, at CPU scale: ResNet-18 at 128 px
# and a narrower decoder, so that training + evaluation take about 10 minutes on 2 cores.
# The synthetic rows of Table 2 are diffs on this file.
_base_ = [
    './_base_/default_runtime.py',
    './_base_/schedules/cpu_synth.py',
    './_base_/datasets/synth_intag.py',
    './_base_/models/gcn_baseline.py',
]
model = dict(
    encoder=dict(depth=18),
    hand_split=dict(hidden_channels=256),
    decoder=dict(channels=(128, 64, 32)),
    camera_head=dict(hidden_channels=256),
)
