# The GCN baseline of HandDGCL (Table 2 row 1), IntagHand-style: ResNet-50 encoder, hand
# split, hierarchical Chebyshev GCN decoder (63 -> 126 -> 252 nodes -> 778 vertices) with
# image and cross-hand attention, weak-perspective camera and L/R translation head.
# Loss weights: paper section 4.1 (lambda1..lambda6).
model = dict(
    type='TwoHandEstimator',
    data_preprocessor=dict(type='HandDataPreprocessor'),
    encoder=dict(type='ResNet', depth=50,
                 # ImageNet weights from a local file (nothing downloads):
                 # init_cfg=dict(type='Pretrained', checkpoint='checkpoints/resnet50.pth')
                 ),
    hand_split=dict(type='HandSplit', hidden_channels=512),
    decoder=dict(type='ChebGCNDecoder', channels=(256, 128, 64), K=3, num_blocks=1,
                 image_attention=True, cross_hand_attention=True, num_heads=4),
    camera_head=dict(type='CameraHead', hidden_channels=512),
    hand_model=dict(type='MANOHandModel', use_pca=True),
    graph=dict(num_nodes=(63, 126, 252)),
    losses=dict(
        joints_3d=dict(type='JointLoss3D', loss_weight=10.0),      # lambda1
        verts_3d=dict(type='VertexLoss3D', loss_weight=10.0),      # lambda2
        joints_2d=dict(type='Joint2DLoss', loss_weight=1e-3),      # lambda3
        bone_length=dict(type='BoneLengthLoss', loss_weight=1e-3),  # lambda4
        transition=dict(type='TransitionLoss', loss_weight=1.0),   # lambda6
    ),
)
