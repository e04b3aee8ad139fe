# Table 2 "GCN + random mask": EGD (a), random mask on the feature dimension.
_base_ = ['./contrast.py']
dgcl = dict(disturber=dict(type='FeatureMask', p=0.2))
