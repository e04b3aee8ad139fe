# The training-only DGCL module shared by every contrastive row of Table 2 (HandDGCL
# section 3.2: "F_gen replaces those 4 kinds of simple graph-level operations above and the
# other setting remains the same"). Each row's variant file adds its disturber; HandDGCL adds
# the similarity distinguish. A row moves the variant under `model`:
#     _base_ = ['../../gcn_baseline_synth.py', './egd_mask.py']   (paths from configs/)
#     model = dict(dgcl=_base_.pop('dgcl'))
# Channel and node counts come from the model's decoder; only the paper's choices are here.
dgcl = dict(
    type='DGCLNet',
    projector=dict(type='GraphReadoutProjector', hidden_channels=128, out_channels=64),
    self_contrast=dict(type='SelfContrastHead', tau=0.1),  # eq. 3, 13
    # "MoCo-like dictionary settings to save the graph features of recent batches" (3.4):
    # earlier batches' disturbed-branch embeddings as extra negatives
    self_queue=dict(type='FeatureQueue', size=2048),
    consistency=dict(type='ConsistencyHead'),  # eq. 4, 10: linear MLP on G_hat -> joints
    normalize='l2',  # "all G are normalized before use" (G_hat; the hand split does G)
    lambda_consistent=1.0,  # lambda5
    lambda_contrast=1e-2,  # lambda7
)
