# HandDGCL (dgcl_synth.py) with a disturber from a third-party package: the example plugin
# plugins/gclhand_nodedrop registers `NodeDrop` (zero the features of random graph nodes,
# GraphCL-style) in gclhand's DISTURBERS registry; nothing in gclhand/ is touched.
# Install the plugin first:  pip install -e plugins/gclhand_nodedrop   (docs/plugins.md)
_base_ = ['./dgcl_synth.py']

# MMEngine imports these modules when it reads the config, before anything is built;
# allow_failed_imports=False makes a missing plugin an error instead of a warning.
custom_imports = dict(imports=['gclhand_nodedrop'], allow_failed_imports=False)

# `_delete_=True` drops the base disturber's other keys (GraphUNetDisturber's depth,
# pool_ratios); the rest of model.dgcl (self/cross contrast, consistency, pool) is kept.
model = dict(dgcl=dict(disturber=dict(_delete_=True, type='NodeDrop', p=0.1)))
