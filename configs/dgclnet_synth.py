# Table 2: "GCN + DGCLNet" (synthetic-data twin of dgclnet_interhand.py).
_base_ = ['./gcn_baseline_synth.py', './_base_/models/dgcl/dgclnet.py']
model = dict(dgcl=_base_.pop('dgcl'))  # the variant's DGCL module, under model
