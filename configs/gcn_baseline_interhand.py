# Table 2 row 1: the GCN baseline on InterHand2.6M (paper: MPJPE 9.97, MPVPE 10.63 mm).
_base_ = [
    './_base_/default_runtime.py',
    './_base_/schedules/adam_plateau_50e.py',
    './_base_/datasets/interhand_intag.py',
    './_base_/models/gcn_baseline.py',
]
