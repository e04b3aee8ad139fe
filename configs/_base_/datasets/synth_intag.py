# gclhand's built-in synthetic two-hand data in the IntagHand layout, generated into
# data_root on first use (once, with a progress bar; `gclhand make-synth` does it ahead of
# time). Same reader and metrics as InterHand2.6M; sized for the 2-core CPU main job.
#
# Learning from the pixels on a CPU budget is bounded by how many distinct images the
# network sees (docs/reproduce.md, "What makes the CPU job learn"), so the data is made
# cheap per image: rendered directly at the 64 px the network reads, and each posed,
# interpenetration-free pair of hands is shown from 4 views (views_per_scene: a capture
# dome's cameras; every view follows the same distribution) so the costly posing is shared.
# Views as in a capture dome (orientation='upright': fingers up in the image, any yaw, +-30
# deg tilt). Validation and test samples are one view per scene (independent samples).
# 25,000 training images: 3 seeds of the main job gave 0.79x the image-blind constant
# against 0.81x with 20,000 (docs/reproduce.md, "25,000 training images"), for ~1.5 min more.
# Every dataloader below gets these settings (gclhand.datasets.synth.
# apply_synthetic_settings): one key changes them all, e.g. --cfg-options synthetic.num=200.
_base_ = ['./interhand_intag.py']

data_root = '{{$GCLHAND_SYNTH_ROOT:data/synth}}'
img_size = 64
# The renderer also writes each image's (left, right) hand masks in IntagHand's layout
# ({split}/mask/{idx}.jpg, almost free): the synthetic configs supervise the encoder with them
# (configs/gcn_baseline_synth.py, docs/reproduce.md "Hand-mask supervision").
synthetic = dict(num=dict(train=25000, val=300, test=300), seed=0, img_size=img_size,
                 workers=2, views_per_scene=dict(train=4), aux_maps=('mask', ),
                 sampler=dict(placement=dict(orientation='upright')))

# No geometric augmentation: train and test views come from one distribution, and at this
# budget (about 4 passes over the data) widening it costs more than it gives (measured).
# Training reads the masks too (required: a data root without them stops, naming the file),
# packed at the encoder's first-stage resolution (64 px / 4).
train_pipeline = [
    dict(type='LoadHandImage'),
    dict(type='LoadHandAuxMaps', kinds=('mask', ), required=True),
    dict(type='ResizeHand', size=img_size),
    dict(type='PackHandInputs', aux_size=img_size // 4),
]
test_pipeline = [
    dict(type='LoadHandImage'),
    dict(type='ResizeHand', size=img_size),
    dict(type='PackHandInputs'),
]

# num_workers=0: a 64 px sample takes well under a millisecond to load, and loader
# processes would take CPU from the two compute threads (measured: docs/benchmarks.md).
train_dataloader = dict(
    batch_size=32, num_workers=0, persistent_workers=False, pin_memory=False,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=100, num_workers=0, persistent_workers=False, pin_memory=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=100, num_workers=0, persistent_workers=False, pin_memory=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))

# ImageBlindMetric puts the model beside the best prediction that ignores the image
val_evaluator = [dict(type='IntagHandMetric'), dict(type='ImageBlindMetric')]
test_evaluator = [
    dict(type='IntagHandMetric'),
    dict(type='ImageBlindMetric'),
    dict(type='InterHandMetric'),
    dict(type='PAMPJPEMetric'),
]
