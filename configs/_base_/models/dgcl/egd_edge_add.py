# Table 2 "GCN + random edge": EGD (c), random edges added to the coarse graph.
_base_ = ['./contrast.py']
dgcl = dict(disturber=dict(type='EdgeAdd', ratio=0.1))
