# Table 2 "GCN + flip edge": EGD (d), edges of the coarse graph flipped.
_base_ = ['./contrast.py']
dgcl = dict(disturber=dict(type='EdgeFlip', ratio=0.1))
