# Table 2: "GCN + random noise" (synthetic-data twin of egd_noise_interhand.py).
_base_ = ['./gcn_baseline_synth.py', './_base_/models/dgcl_variants.py']
model = dict(dgcl={{_base_.egd_noise}})
