# Table 2: "GCN + flip edge" (synthetic-data twin of egd_edge_flip_interhand.py).
_base_ = ['./gcn_baseline_synth.py', './_base_/models/dgcl/egd_edge_flip.py']
model = dict(dgcl=_base_.pop('dgcl'))  # the variant's DGCL module, under model
