# Toy config for the tool / engine tests: MMEngine's pieces + tests/test_tools/toy_modules.py.
default_scope = 'gclhand'
runner_type = 'GCLHandRunner'
custom_imports = dict(imports=['toy_modules'], allow_failed_imports=False)

model = dict(type='ToyRegressor', dropout=0.5)
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='ToyRegressionDataset', num_samples=16))
test_dataloader = dict(
    batch_size=4,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='ToyRegressionDataset', num_samples=8))
test_evaluator = dict(type='ToyMAE')
test_cfg = dict(type='TestLoop')

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=2)
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01, momentum=0.9))
param_scheduler = [dict(type='MultiStepLR', milestones=[1], gamma=0.5)]

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=4),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='AtomicCheckpointHook', interval=1, max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'))
custom_hooks = [dict(type='RecordIndicesHook')]

env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork'),
               dist_cfg=dict(backend='nccl'))  # nccl falls back to gloo without CUDA
randomness = dict(seed=0)
log_level = 'WARNING'
visualizer = dict(type='Visualizer', vis_backends=[dict(type='LocalVisBackend')])
