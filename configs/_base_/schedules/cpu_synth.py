# A short CPU schedule for the synthetic-data configs (README main job, CPU ablations):
# the paper's optimiser with a higher learning rate and a cosine decay, sized so that
# training + evaluation take about 10 minutes on 2 CPU cores.
# fused=True: one kernel for the whole Adam update (CPU support since torch 2.4; on this
# model it cuts the optimiser step from 48 to 20 ms of a 230 ms baseline step).
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3, fused=True),
                     clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=0, end=4, T_max=4,
         convert_to_iter_based=True),
]
# 4 epochs x 125 iterations of batch 16 (~4 min of DGCL training on 2 cores); longer CPU
# runs: --cfg-options train_cfg.max_epochs=N param_scheduler.1.end=N param_scheduler.1.T_max=N
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=4, val_interval=2)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
