# IntagHand's dense encoder supervision (Li et al., CVPR 2022): one training-only head on the
# encoder's maps predicting both hands' 21 joint heatmaps, masks and dense-correspondence
# maps at a quarter of the input resolution, and their losses with IntagHand's weights
# (utils/defaults.yaml: 100 / 500 / 30 beside 100 on its 3D terms, which is gclhand's 10 in
# its units: gclhand/models/losses/aux_map_loss.py).  Used under model by
# dgcl_intagaux_{interhand,synth}.py: model = dict(aux_heads=_base_.pop('aux_heads'),
# losses=_base_.pop('aux_losses')).
aux_heads = dict(maps=dict(type='AuxMapHead', outputs=('heatmaps', 'mask', 'dense')))
aux_losses = dict(
    heatmaps=dict(type='HeatmapMSELoss', loss_weight=100.0),
    mask=dict(type='MaskLoss', loss_weight=500.0),
    dense=dict(type='DenseMapLoss', loss_weight=30.0),
)
