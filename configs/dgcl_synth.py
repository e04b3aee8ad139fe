# Table 2: "GCN + DGCLNet + similarity distinguish (HandDGCL)" (synthetic-data twin of dgcl_interhand.py).
_base_ = ['./gcn_baseline_synth.py', './_base_/models/dgcl/hand_dgcl.py']
model = dict(dgcl=_base_.pop('dgcl'))  # the variant's DGCL module, under model
