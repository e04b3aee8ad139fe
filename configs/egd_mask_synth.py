# Table 2: "GCN + random mask" (synthetic-data twin of egd_mask_interhand.py).
_base_ = ['./gcn_baseline_synth.py', './_base_/models/dgcl/egd_mask.py']
model = dict(dgcl=_base_.pop('dgcl'))  # the variant's DGCL module, under model
