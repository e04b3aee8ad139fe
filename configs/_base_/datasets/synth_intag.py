# gclhand's built-in synthetic two-hand data, in the IntagHand layout, generated into
# data_root on first use (once, with a progress bar; tools/make_synth.py does it ahead of
# time). Same loader, transforms and metrics as InterHand2.6M; CPU-sized input and workers.
# Views as in a capture dome (orientation='upright': fingers up in the image, any yaw, +-30
# deg tilt; 'uniform' draws any rotation, upside-down hands included). Rendered at 128 px
# (31 img/s with 2 workers), fed at 64 px: the CPU main job's input size.
_base_ = ['./interhand_intag.py']

data_root = '{{$GCLHAND_SYNTH_ROOT:data/synth}}'
img_size = 64
synthetic = dict(num=dict(train=2000, val=200, test=200), seed=0, img_size=128, workers=2,
                 sampler=dict(placement=dict(orientation='upright')))

train_pipeline = [
    dict(type='LoadHandImage'),
    dict(type='RandomHandAffine', scale_range=(0.9, 1.1), rotate_range=20., shift_range=0.05),
    dict(type='ColorJitter', brightness=0.2, contrast=0.2, saturation=0.2),
    dict(type='ResizeHand', size=img_size),
    dict(type='PackHandInputs'),
]
test_pipeline = [
    dict(type='LoadHandImage'),
    dict(type='ResizeHand', size=img_size),
    dict(type='PackHandInputs'),
]

train_dataloader = dict(
    batch_size=16, num_workers=2, persistent_workers=False, pin_memory=False,
    dataset=dict(data_root=data_root, synthetic=synthetic, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32, num_workers=2, persistent_workers=False, pin_memory=False,
    dataset=dict(data_root=data_root, synthetic=synthetic, pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=32, num_workers=2, persistent_workers=False, pin_memory=False,
    dataset=dict(data_root=data_root, synthetic=synthetic, pipeline=test_pipeline))
