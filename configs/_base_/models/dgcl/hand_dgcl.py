# Table 2 "GCN + DGCLNet*" (HandDGCL): + the similarity distinguish (section 3.3): a MoCo
# feature-pose pool of 2048 with a momentum key encoder and the cross contrast |S_p - S_g|
# (eq. 5, 12) with the dot-product target of eq. 6.
_base_ = ['./dgclnet.py']
dgcl = dict(
    pool=dict(type='FeaturePosePool', size=2048),
    key_encoder=dict(type='MomentumKeyEncoder', momentum=0.999),
    cross_contrast=dict(type='CrossContrastHead', sim_target=dict(type='DotTarget')),
)
