# Table 2: "GCN + DGCLNet + similarity distinguish (HandDGCL)" (synthetic-data twin of dgcl_interhand.py).
_base_ = ['./gcn_baseline_synth.py', './_base_/models/dgcl_variants.py']
model = dict(dgcl={{_base_.hand_dgcl}})
