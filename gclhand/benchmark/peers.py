"""The peer network, IntagHand (Li et al., CVPR 2022), built from a checkout for timing.

HandDGCL's baseline follows IntagHand, and the paper compares with it (Table 1), so the
benchmark can time IntagHand's own network beside gclhand's deployed model
(``gclhand benchmark ... --intaghand PATH``).  Nothing of IntagHand is shipped or copied
here: its modules are imported from the user's checkout of
https://github.com/Dw1010/IntagHand and built with the sizes of its ``utils/defaults.yaml``,
with random weights (what a network costs does not depend on its weights).

What the checkout needs but cannot have here is stood in, and the stand-ins are reported
(``stand_ins``) because they are part of what is timed:

* ``torchvision.models.resnet*`` -> gclhand's :class:`~gclhand.models.encoders.ResNet` of
  the same depth: the same layers under torchvision's names.  Always: IntagHand asks for
  ``pretrained=True`` (a download), and the PyPI torchvision wheel does not import beside
  the CPU torch build.
* ``yacs`` (IntagHand's config parser) -> an empty stand-in: the defaults are read with
  PyYAML instead, and the module that uses yacs is only imported.
* ``misc/graph_{left,right}.pkl`` (the coarsened mesh graphs) -> built with IntagHand's
  own ``build_graph`` from the faces of gclhand's hand model - the real MANO when
  ``GCLHAND_MANO_DIR`` is set, else the procedural hand (MANO's 778 vertices / 1538 faces)
  - exactly as IntagHand's ``build_mano_graph`` does from ``MANO_{side}.pkl``.
* ``misc/v_color.pkl`` (per-vertex colours, IntagHand's positional encoding) -> the
  template vertices scaled to [0, 1]; ``misc/upsample.pkl`` -> none (IntagHand then
  initialises that ``(778, N)`` layer itself: same shape, same cost).
"""
import contextlib
import importlib
import os.path as osp
import sys
import types
from typing import Dict, Iterator, Optional

import torch
import torch.nn as nn

from gclhand.utils import ConfigError

#: IntagHand's top-level packages (generic names: imported in isolation, then removed).
_PACKAGES = ('models', 'utils', 'dataset')
#: files that identify a checkout
_REQUIRED = ('models/model.py', 'models/encoder.py', 'models/decoder.py',
             'models/model_zoo/coarsening.py', 'utils/defaults.yaml')


def _stub_modules() -> Dict[str, types.ModuleType]:
    from gclhand.models.encoders import ResNet

    def resnet(depth):
        def build(pretrained=False, **kwargs):
            return ResNet(depth=depth)  # torchvision's layer names; random weights
        return build

    tv, tv_models = types.ModuleType('torchvision'), types.ModuleType('torchvision.models')
    for depth in (18, 34, 50, 101, 152):
        setattr(tv_models, f'resnet{depth}', resnet(depth))
    tv.models = tv_models
    yacs, yacs_config = types.ModuleType('yacs'), types.ModuleType('yacs.config')
    yacs_config.CfgNode = dict
    yacs.config = yacs_config
    return {'torchvision': tv, 'torchvision.models': tv_models, 'yacs': yacs,
            'yacs.config': yacs_config}


@contextlib.contextmanager
def _checkout_imports(checkout: str) -> Iterator[None]:
    """Import from ``checkout`` with the stand-ins; afterwards ``sys.modules`` and
    ``sys.path`` are as before (the built objects keep their own module references)."""
    stubs = _stub_modules()
    roots = set(_PACKAGES) | {name.split('.')[0] for name in stubs}

    def ours(name):
        return name.split('.')[0] in roots

    saved = {k: v for k, v in sys.modules.items() if ours(k)}
    for k in saved:
        del sys.modules[k]
    sys.modules.update(stubs)
    sys.path.insert(0, checkout)
    try:
        yield
    finally:
        sys.path.remove(checkout)
        for k in [k for k in sys.modules if ours(k)]:
            del sys.modules[k]
        sys.modules.update(saved)


class IntagHandNet(nn.Module):
    """IntagHand's ``HandNET_GCN`` behind a tensor-in call: normalised ``(B, 3, 256, 256)``
    images -> its outputs (vertices of both hands among them)."""

    def __init__(self, net: nn.Module, stand_ins: Dict[str, str]):
        super().__init__()
        self.net = net
        self.stand_ins = stand_ins

    def forward(self, images: torch.Tensor):
        return self.net(images)


def build_intaghand(checkout: str, device='cpu', seed: int = 0,
                    hand_model: Optional[dict] = None) -> IntagHandNet:
    """IntagHand's network from ``checkout``, in eval mode on ``device`` (see module doc).

    Args:
        checkout: a clone of https://github.com/Dw1010/IntagHand.
        device: where to put it.
        seed: seed of the random weights.
        hand_model: gclhand hand-model config whose faces make the mesh graphs
            (default: ``MANOHandModel``: real MANO if configured, else procedural).

    Raises:
        ConfigError: ``checkout`` is not an IntagHand checkout (names the missing file).
    """
    import yaml

    from gclhand.hand import build_hand_model
    checkout = osp.abspath(checkout)
    for rel in _REQUIRED:
        if not osp.isfile(osp.join(checkout, rel)):
            raise ConfigError(f"'{checkout}' is not an IntagHand checkout: {rel} is missing "
                              '(git clone https://github.com/Dw1010/IntagHand)')
    with open(osp.join(checkout, 'utils', 'defaults.yaml')) as f:
        defaults = yaml.safe_load(f)
    cfg = defaults['MODEL']
    hm = build_hand_model(hand_model or dict(type='MANOHandModel'))
    template = hm.template('right').float()
    dense = (template - template.min(0).values) / (template.max(0).values -
                                                   template.min(0).values)
    stand_ins = dict(
        encoder=f"gclhand ResNet-{cfg['ENCODER_TYPE'][len('resnet'):]} (random weights) for "
        'torchvision', mesh_graphs=f'IntagHand build_graph on the faces of {hm!r}',
        dense_coor='template vertices scaled to [0, 1]',
        upsample='IntagHand-initialised (778, N) layer')
    with _checkout_imports(checkout):
        enc_mod = importlib.import_module('models.encoder')
        dec_mod = importlib.import_module('models.decoder')
        model_mod = importlib.import_module('models.model')
        build_graph = importlib.import_module('models.model_zoo.coarsening').build_graph
        graphs = {side: build_graph(hm.faces(side).numpy(), coarsening_levels=4)
                  for side in ('left', 'right')}
        torch.manual_seed(seed)
        encoder = enc_mod.ResNetSimple(model_type=cfg['ENCODER_TYPE'], pretrained=False,
                                       fmapDim=[128] * 4, handNum=2, heatmapDim=21)
        mid = enc_mod.resnet_mid(model_type=cfg['ENCODER_TYPE'], in_fmapDim=[128] * 4,
                                 out_fmapDim=cfg['DECONV_DIMS'])
        info = mid.get_info()
        decoder = dec_mod.decoder(
            global_feature_dim=info['global_feature_dim'], f_in_Dim=info['fmaps_dim'],
            f_out_Dim=cfg['IMG_DIMS'], gcn_in_dim=cfg['GCN_IN_DIM'],
            gcn_out_dim=cfg['GCN_OUT_DIM'], graph_k=cfg['graph_k'],
            graph_layer_num=cfg['graph_layer_num'], vertex_num=template.shape[0],
            dense_coor=dense.numpy(), left_graph_dict=graphs['left'],
            right_graph_dict=graphs['right'], num_attn_heads=4, upsample_weight=None,
            dropout=defaults['TRAIN']['dropout'])
        net = model_mod.HandNET_GCN(encoder, mid, decoder)
    return IntagHandNet(net, stand_ins).to(device).eval()


__all__ = ['IntagHandNet', 'build_intaghand']
