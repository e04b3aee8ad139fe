# The CPU schedule of the synthetic-data configs (README main job, CPU ablations): the
# paper's optimiser (Adam) with a higher learning rate, a short warm-up and a cosine decay,
# sized so that data generation + training + evaluation take under 10 minutes on 2 cores.
# fused=True: one kernel for the whole Adam update (CPU support since torch 2.4).
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3, fused=True),
                     clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=0, end=4, T_max=4,
         convert_to_iter_based=True),
]
# 4 epochs of 782 iterations of batch 32 (25,000 training images); longer CPU runs:
# --cfg-options train_cfg.max_epochs=N train_cfg.val_interval=N param_scheduler.1.end=N
#               param_scheduler.1.T_max=N
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=4, val_interval=4)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
