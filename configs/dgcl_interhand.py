# Table 2: "GCN + DGCLNet + similarity distinguish (HandDGCL)" (paper on InterHand2.6M: MPJPE 8.86, MPVPE 9.14 mm).
_base_ = ['./gcn_baseline_interhand.py', './_base_/models/dgcl/hand_dgcl.py']
model = dict(dgcl=_base_.pop('dgcl'))  # the variant's DGCL module, under model
