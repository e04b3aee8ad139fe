# CPU twin of dgcl_intagaux_interhand.py: HandDGCL (dgcl_synth.py) with IntagHand's dense
# encoder supervision (2D joint heatmaps, hand masks, dense-correspondence maps) on the
# built-in synthetic data, whose renderer writes the three maps at almost no extra cost.
# Not a Table 2 row.  The data goes to its own folder (data/synth_aux, or
# $GCLHAND_SYNTH_AUX_ROOT): a data root records its settings and is never mixed with data
# made without the maps, so the main job's data/synth is left as it is.
_base_ = ['./dgcl_synth.py', './_base_/models/intag_aux.py']

data_root = '{{$GCLHAND_SYNTH_AUX_ROOT:data/synth_aux}}'
synthetic = dict(aux_maps=('mask', 'dense', 'hms'))

aux_size = 16  # 64 px / 4: the encoder's first stage
train_pipeline = [
    dict(type='LoadHandImage'),
    dict(type='LoadHandAuxMaps', kinds=('mask', 'dense', 'hms'), required=True),
    dict(type='ResizeHand', size=64),
    dict(type='PackHandInputs', aux_size=aux_size),
]
train_dataloader = dict(dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))

model = dict(aux_heads=_base_.pop('aux_heads'), losses=_base_.pop('aux_losses'))
