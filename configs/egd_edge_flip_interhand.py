# Table 2: "GCN + flip edge" (paper on InterHand2.6M: MPJPE 10.92, MPVPE 11.30 mm).
_base_ = ['./gcn_baseline_interhand.py', './_base_/models/dgcl_variants.py']
model = dict(dgcl={{_base_.egd_edge_flip}})
