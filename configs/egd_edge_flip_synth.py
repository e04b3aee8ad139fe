# Table 2: "GCN + flip edge" (synthetic-data twin of egd_edge_flip_interhand.py).
_base_ = ['./gcn_baseline_synth.py', './_base_/models/dgcl_variants.py']
model = dict(dgcl={{_base_.egd_edge_flip}})
