# HandDGCL (dgcl_interhand.py) with IntagHand's dense encoder supervision: not a Table 2
# row (HandDGCL trains without it), the supervision of its predecessor IntagHand (Li et al.,
# CVPR 2022), which supervises the encoder with both hands' 2D joint heatmaps, masks and
# dense-correspondence maps at a quarter of the input resolution.
# The maps are read from the IntagHand layout beside anno/ (hms/, mask/, dense/), which
# `gclhand prepare-interhand` writes (docs/data.md); required=True: a split without them
# stops, naming the missing file, instead of training without the supervision.
# The head and IntagHand's loss weights: configs/_base_/models/intag_aux.py.
_base_ = ['./dgcl_interhand.py', './_base_/models/intag_aux.py']

aux_size = 64  # 256 px / 4: the resolution of the encoder's first stage and of IntagHand's maps
train_pipeline = [
    dict(type='LoadHandImage'),
    dict(type='LoadHandAuxMaps', kinds=('mask', 'dense', 'hms'), required=True),
    dict(type='RandomHandAffine', scale_range=(0.9, 1.1), rotate_range=30., shift_range=0.05),
    dict(type='ColorJitter', brightness=0.2, contrast=0.2, saturation=0.2),
    dict(type='ResizeHand', size=256),
    dict(type='PackHandInputs', aux_size=aux_size),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

model = dict(aux_heads=_base_.pop('aux_heads'), losses=_base_.pop('aux_losses'))
