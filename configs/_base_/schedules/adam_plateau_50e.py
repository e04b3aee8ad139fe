# HandDGCL's recipe (paper section 4.1): Adam, lr 1e-4, halved when the training loss
# improves by less than 1e-4 for 4 epochs, min lr 1e-6, 50 epochs, batch 32 (set in the
# dataset config). TrainLossPlateauLR is stepped by the runtime's
# TrainLossParamSchedulerHook with the epoch's mean training loss.
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4))
param_scheduler = [
    dict(type='TrainLossPlateauLR', monitor='train/loss', rule='less', factor=0.5,
         patience=4, threshold=1e-4, threshold_rule='abs', min_value=1e-6, by_epoch=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=50, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
