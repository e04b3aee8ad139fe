# Table 2: "GCN + random noise" (paper on InterHand2.6M: MPJPE 10.56, MPVPE 10.89 mm).
_base_ = ['./gcn_baseline_interhand.py', './_base_/models/dgcl/egd_noise.py']
model = dict(dgcl=_base_.pop('dgcl'))  # the variant's DGCL module, under model
