# toy_train.py whose process is killed halfway through writing the epoch-2 checkpoint.
_base_ = ['./toy_train.py']
train_cfg = dict(max_epochs=3)
custom_hooks = [dict(type='RecordIndicesHook'), dict(type='KillDuringSaveHook', epoch=2)]
