# Table 2: "GCN + DGCLNet" (paper on InterHand2.6M: MPJPE 9.02, MPVPE 9.31 mm).
_base_ = ['./gcn_baseline_interhand.py', './_base_/models/dgcl/dgclnet.py']
model = dict(dgcl=_base_.pop('dgcl'))  # the variant's DGCL module, under model
