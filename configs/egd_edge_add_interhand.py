# Table 2: "GCN + random edge" (paper on InterHand2.6M: MPJPE 10.59, MPVPE 10.93 mm).
_base_ = ['./gcn_baseline_interhand.py', './_base_/models/dgcl/egd_edge_add.py']
model = dict(dgcl=_base_.pop('dgcl'))  # the variant's DGCL module, under model
