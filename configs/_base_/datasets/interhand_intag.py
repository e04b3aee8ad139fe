# InterHand2.6M (interacting hands) in the IntagHand preprocessed layout
# (tools/prepare_interhand.py; docs/data.md). Real MANO: set GCLHAND_MANO_DIR.
data_root = '{{$GCLHAND_INTERHAND_ROOT:data/interhand}}'
img_size = 256
hand_model = dict(type='MANOHandModel', use_pca=True)

train_pipeline = [
    dict(type='LoadHandImage'),
    dict(type='RandomHandAffine', scale_range=(0.9, 1.1), rotate_range=30., shift_range=0.05),
    dict(type='ColorJitter', brightness=0.2, contrast=0.2, saturation=0.2),
    dict(type='ResizeHand', size=img_size),
    dict(type='PackHandInputs'),
]
test_pipeline = [
    dict(type='LoadHandImage'),
    dict(type='ResizeHand', size=img_size),
    dict(type='PackHandInputs'),
]

# persistent_workers=False: workers restart (and re-seed from the restored RNG) each
# epoch, which is what makes --resume exact; the restart costs seconds per epoch.
train_dataloader = dict(
    batch_size=32, num_workers=8, persistent_workers=False, pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='InterHandIntagDataset', data_root=data_root, split='train',
                 hand_model=hand_model, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64, num_workers=8, persistent_workers=False, pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='InterHandIntagDataset', data_root=data_root, split='val',
                 hand_model=hand_model, pipeline=test_pipeline, test_mode=True))
test_dataloader = dict(
    batch_size=64, num_workers=8, persistent_workers=False, pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='InterHandIntagDataset', data_root=data_root, split='test',
                 hand_model=hand_model, pipeline=test_pipeline, test_mode=True))

# InterHandMetric: the release's official protocol on its annotated joints.  For joints
# regressed from the predicted mesh the way the release fits its annotations, give a copy
# of its tool/MANO_world_to_camera/J_regressor_mano_ih26m.npy:
#   dict(type='InterHandMetric', joint_regressor='checkpoints/J_regressor_mano_ih26m.npy')
val_evaluator = [
    dict(type='IntagHandMetric'),
    dict(type='InterHandMetric'),
    dict(type='PAMPJPEMetric'),
]
test_evaluator = val_evaluator + [dict(type='InterpenetrationMetric')]
