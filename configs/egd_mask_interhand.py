# Table 2: "GCN + random mask" (paper on InterHand2.6M: MPJPE 10.35, MPVPE 10.65 mm).
_base_ = ['./gcn_baseline_interhand.py', './_base_/models/dgcl/egd_mask.py']
model = dict(dgcl=_base_.pop('dgcl'))  # the variant's DGCL module, under model
