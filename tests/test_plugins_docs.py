"""docs/plugins.md runs as written: its code blocks are a plugin package with one component
per extension point, a config and the commands; this test writes the files, installs the
package with pip (offline: ``--no-deps --no-build-isolation``, into a ``--target`` folder
instead of the environment), checks each component against the contract the page states,
and runs the page's ``gclhand train`` (two iterations on tiny data) and ``gclhand test``.

The only changes to the page's commands: ``pip install`` gets the offline flags and
``--target``; ``gclhand`` runs as ``python -m gclhand`` (the same entry point) with a tiny
``--work-dir`` / ``--cfg-options`` appended.
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from test_configs import make_tiny_data, tiny_cfg_options

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / 'docs' / 'plugins.md'
BLOCK = re.compile(r'^```(\w*)\n(.*?)^```', re.S | re.M)
FILE_HEADER = re.compile(r'^# (\S+\.(?:py|toml))$')
#: every registry the page promises an example for -> the example's module
EXTENSION_POINTS = {
    'DISTURBERS': 'disturbers', 'SIM_TARGETS': 'sim_targets',
    'CONTRAST_HEADS': 'contrast_heads', 'ENCODERS': 'encoders', 'NECKS': 'necks',
    'DECODERS': 'decoders', 'HEADS': 'heads', 'LOSSES': 'losses',
    'HAND_MODELS': 'hand_models', 'DATASETS': 'datasets', 'METRICS': 'metrics',
    'TRANSFORMS': 'transforms', 'HOOKS': 'hooks'}
#: the plugin config's model at a seconds-per-step size (the data options come from
#: test_configs.tiny_cfg_options)
TINY_MODEL = ['model.encoder.channels=(8,8,8,8)', 'model.hand_split.hidden_channels=16',
              'model.decoder.channels=(8,8,8)', 'model.decoder.K=2',
              'model.camera_head.hidden_channels=16',
              '+model.aux_heads.root_depth.hidden_channels=8']

CONTRACTS = """
import torch
import my_gclhand_ext as ext
from gclhand.models.disturbers import Graph
from gclhand.registry import (CONTRAST_HEADS, DATASETS, DECODERS, DISTURBERS, ENCODERS,
                              HAND_MODELS, HEADS, HOOKS, LOSSES, METRICS, NECKS, SIM_TARGETS,
                              TRANSFORMS)

for reg, name in [(DISTURBERS, 'KHopNodeDrop'), (SIM_TARGETS, 'BoneDirectionTarget'),
                  (CONTRAST_HEADS, 'DecoupledContrastHead'), (ENCODERS, 'PlainConvEncoder'),
                  (NECKS, 'AttentionPoolHandSplit'), (DECODERS, 'VertexOffsetChebGCNDecoder'),
                  (HEADS, 'RootDepthHead'), (LOSSES, 'RootDepthLoss'),
                  (HAND_MODELS, 'ClampedShapeMANOHandModel'),
                  (DATASETS, 'MaxDepthIntagDataset'), (METRICS, 'PerFingerMPJPEMetric'),
                  (TRANSFORMS, 'RandomHandGaussianBlur'), (HOOKS, 'ParamNormHook')]:
    assert reg.get(name) is getattr(ext, name), name

# transform: blurs the image only (prob 1), leaves it alone at prob 0
import numpy as np
np.random.seed(0)
img = np.random.randint(0, 256, (32, 32, 3), dtype=np.uint8)
labels = dict(gt_joints_2d=np.ones((2, 21, 2)), cam_K=np.eye(3))
out = ext.RandomHandGaussianBlur(prob=1.0)(dict(img=img.copy(), **labels))
assert out['img'].shape == img.shape and out['img'].dtype == np.uint8
assert out['img'].std() < img.std()  # blurred
assert out['gt_joints_2d'] is labels['gt_joints_2d'] and out['cam_K'] is labels['cam_K']
assert np.array_equal(ext.RandomHandGaussianBlur(prob=0.0)(dict(img=img.copy()))['img'], img)

torch.manual_seed(0)
# disturber: a path graph 0-1-2-3-4; one hop around a node zeroes at most 3 whole nodes
ei = torch.tensor([[0, 1, 1, 2, 2, 3, 3, 4], [1, 0, 2, 1, 3, 2, 4, 3]])
x = torch.rand(64, 5, 4) + 0.1
out = ext.KHopNodeDrop(num_hops=1)(x, ei)
zero = (out.x == 0).all(-1)
assert out.edge_index is ei and out.edge_weight is None
assert torch.equal(out.x[~zero], x[~zero]) and ((out.x == 0) == zero[..., None]).all()
n = zero.sum(1)
assert ((n >= 2) & (n <= 3)).all()
for row in zero:  # the zeroed nodes are consecutive on the path (one neighbourhood)
    idx = torch.nonzero(row).flatten()
    assert (idx.diff() == 1).all()

# similarity target: (M, K) in [-1, 1], 1 on identical poses, not rotation invariant
j = torch.randn(6, 21, 3)
s = ext.BoneDirectionTarget()(j, j)
assert s.shape == (6, 6) and (s.abs() <= 1 + 1e-6).all()
assert torch.allclose(s.diagonal(), torch.ones(6))
assert torch.allclose(ext.BoneDirectionTarget()(j, -j).diagonal(), -torch.ones(6))

# contrast head: aligned pairs cost less than shuffled ones; the queue adds negatives
head = ext.DecoupledContrastHead(tau=0.1)
q = torch.nn.functional.normalize(torch.randn(8, 16), dim=1)
assert head.loss(q, q) < head.loss(q, q.roll(1, 0))
assert head.loss(q, q, queue=q) > head.loss(q, q)

# encoder -> neck -> heads: shapes of the contract
enc = ext.PlainConvEncoder(channels=(8, 8, 16, 16))
feats = enc(torch.rand(2, 3, 64, 64))
assert [f.shape[-1] for f in feats] == [16, 8, 4, 2] and enc.out_channels == (8, 8, 16, 16)
G = ext.AttentionPoolHandSplit(16, num_nodes=63, out_channels=8)(feats)
assert G.shape == (2, 2, 63, 8)
depth = ext.RootDepthHead(enc.out_channels)(feats)['root_depth']
assert depth.shape == (2, 2) and torch.allclose(depth, torch.full((2, 2), 0.6), atol=0.5)

# loss: zero for a perfect prediction, masked by hand_valid
target = torch.rand(2, 2, 21, 3)
loss = ext.RootDepthLoss(loss_weight=2.0)
assert loss(target[:, :, 0, 2], target, torch.ones(2, 2)) == 0
assert loss(target[:, :, 0, 2] + 1, target, torch.tensor([[1., 0.], [0., 0.]])) == 2.0

# hand model: clamped shape, unchanged otherwise
hm = ext.ClampedShapeMANOHandModel(max_abs_beta=1.0)
pose = torch.zeros(1, 45)
big = hm(side='right', hand_pose=pose, betas=torch.full((1, 10), 5.0)).vertices
one = hm(side='right', hand_pose=pose, betas=torch.full((1, 10), 1.0)).vertices
assert torch.equal(big, one)
print('contracts ok')
"""


def doc_blocks():
    """(language, text) of every fenced block of the page."""
    return [(m.group(1), m.group(2)) for m in BLOCK.finditer(DOC.read_text())]


def doc_files():
    """path -> content of the blocks that are files (first line ``# path.py``)."""
    files = {}
    for _, text in doc_blocks():
        first = text.splitlines()[0] if text.strip() else ''
        found = FILE_HEADER.match(first)
        if found:
            files[found.group(1)] = text
    return files


def doc_commands():
    """The shell lines of the page's bash blocks that install or run gclhand."""
    return [line.strip() for lang, text in doc_blocks() if lang == 'bash'
            for line in text.splitlines()
            if line.strip().startswith(('pip install ', 'gclhand '))]


def test_every_block_is_a_file_a_command_or_the_layout():
    files = doc_files()
    others = [(lang, text) for lang, text in doc_blocks()
              if not FILE_HEADER.match(text.splitlines()[0]) and lang != 'bash']
    assert [lang for lang, _ in others] == ['']  # the package layout tree
    package = {Path(p).stem for p in files if p.startswith('my_gclhand_ext/my_gclhand_ext/')}
    assert set(EXTENSION_POINTS.values()) <= package
    assert 'my_gclhand_ext/pyproject.toml' in files and 'my_experiment.py' in files
    for registry, module in EXTENSION_POINTS.items():
        text = files[f'my_gclhand_ext/my_gclhand_ext/{module}.py']
        assert f'@{registry}.register_module()' in text, module
    assert doc_commands() == ['pip install ./my_gclhand_ext', 'gclhand train my_experiment.py',
                              'gclhand test my_experiment.py last --out results.json']


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """The page's files written out and the package pip-installed into ``site``."""
    work = tmp_path_factory.mktemp('plugin_docs')
    for path, text in doc_files().items():
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_text(text)
    site = work / 'site'
    (command, ) = [c for c in doc_commands() if c.startswith('pip install ')]
    proc = subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-deps',
                           '--no-build-isolation', '-q', '--target', str(site),
                           *command.split()[2:]],
                          cwd=work, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (site / 'my_gclhand_ext' / 'metrics.py').is_file()
    env = dict(os.environ, PYTHONPATH=str(site), OMP_NUM_THREADS='1')
    env.pop('GCLHAND_DEBUG', None)
    env.pop('GCLHAND_PLUGINS', None)
    return work, env


def test_components_keep_the_stated_contracts(installed):
    work, env = installed
    proc = subprocess.run([sys.executable, '-c', CONTRACTS], cwd=work, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and 'contracts ok' in proc.stdout, proc.stderr[-3000:]


def test_train_and_test_through_the_command_line(installed, tmp_path_factory):
    work, env = installed
    data = make_tiny_data(str(tmp_path_factory.getbasetemp() / 'tiny_synth'))
    options = [o for o in tiny_cfg_options(str(ROOT / 'configs' / 'dgcl_synth.py'), data)
               if 'model.' not in o] + TINY_MODEL
    logs = {}
    for command in doc_commands():
        if not command.startswith('gclhand '):
            continue
        args = command.split()[1:]
        proc = subprocess.run([sys.executable, '-m', 'gclhand', *args, '--work-dir', 'wd',
                               '--cfg-options', *options], cwd=work, env=env,
                              capture_output=True, text=True, timeout=900)
        logs[args[0]] = proc.stdout + proc.stderr
        assert proc.returncode == 0, logs[args[0]][-4000:]
    train_log = logs['train']
    assert "gclhand: loaded plugins ['my_gclhand_ext']" in train_log  # by the entry point
    for term in ('loss_root_depth', 'loss_self_contrast', 'loss_cross_contrast'):
        assert term in train_log  # the aux head / loss and the DGCL plugin parts ran
    assert 'Epoch(train) [1][2/2]' in train_log  # two iterations (4 samples, batch 2)
    assert 'param_norm: ' in train_log  # the plugin hook's scalar, logged with the losses
    metrics = json.loads((work / 'results.json').read_text())['metrics']
    fingers = [metrics[f'finger/{f}'] for f in ('thumb', 'index', 'middle', 'ring', 'pinky')]
    assert all(v > 0 for v in fingers) and metrics['finger/worst'] == max(fingers)
    assert metrics['intaghand/mpjpe'] > 0
