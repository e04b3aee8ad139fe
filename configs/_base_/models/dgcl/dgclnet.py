# Table 2 "GCN + DGCLNet": the graph U-Net generator F_gen (eq. 1) as the disturber.
_base_ = ['./contrast.py']
dgcl = dict(disturber=dict(type='GraphUNetDisturber', depth=2, pool_ratios=0.5))
