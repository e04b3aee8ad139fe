# The training-only DGCL module of each Table 2 row (paper section 3, DESIGN.md 1.4).
# A row config picks one: ``model = dict(dgcl={{_base_.hand_dgcl}})``. Channel and node
# counts come from the model's decoder; only the paper's choices are set here.

# EGD rows ("GCN + random mask/noise/edge/flip"): a simple disturber and the self contrast
# (eq. 3, 13), lambda7 = 1e-2; no consistency MLP, no pool.
egd = dict(
    type='DGCLNet',
    projector=dict(type='GraphReadoutProjector', hidden_channels=128, out_channels=64),
    self_contrast=dict(type='SelfContrastHead', tau=0.1),
    lambda_contrast=1e-2,  # lambda7
)
egd_mask = dict(egd, disturber=dict(type='FeatureMask', p=0.2))
egd_noise = dict(egd, disturber=dict(type='FeatureNoise', sigma=0.1, relative=True))
egd_edge_add = dict(egd, disturber=dict(type='EdgeAdd', ratio=0.1))
egd_edge_flip = dict(egd, disturber=dict(type='EdgeFlip', ratio=0.1))

# "GCN + DGCLNet": the graph U-Net generator F_gen (eq. 1) replaces the simple disturber and
# the consistency MLP (eq. 4, 10; lambda5 = 1) keeps pose information in G_hat.
dgclnet = dict(
    egd,
    disturber=dict(type='GraphUNetDisturber', depth=2, pool_ratios=0.5),
    consistency=dict(type='ConsistencyHead'),
    lambda_consistent=1.0,  # lambda5
)

# HandDGCL ("GCN + DGCLNet*"): + similarity distinguish: a MoCo feature-pose pool of 2048
# with a momentum key encoder and the cross contrast |S_p - S_g| with the dot-product
# target of eq. 6.
hand_dgcl = dict(
    dgclnet,
    pool=dict(type='FeaturePosePool', size=2048),
    key_encoder=dict(type='MomentumKeyEncoder', momentum=0.999),
    cross_contrast=dict(type='CrossContrastHead', sim_target=dict(type='DotTarget')),
)
