# Table 2: "GCN + flip edge" (paper on InterHand2.6M: MPJPE 10.92, MPVPE 11.30 mm).
_base_ = ['./gcn_baseline_interhand.py', './_base_/models/dgcl/egd_edge_flip.py']
model = dict(dgcl=_base_.pop('dgcl'))  # the variant's DGCL module, under model
