# Table 2 "GCN + random noise": EGD (b), random noise on the feature space.
_base_ = ['./contrast.py']
dgcl = dict(disturber=dict(type='FeatureNoise', sigma=0.1, relative=True))
