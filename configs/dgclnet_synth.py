# Table 2: "GCN + DGCLNet" (synthetic-data twin of dgclnet_interhand.py).
_base_ = ['./gcn_baseline_synth.py', './_base_/models/dgcl_variants.py']
model = dict(dgcl={{_base_.dgclnet}})
