"""The import graph between gclhand's subpackages points one way.

Layers, bottom to top: ``utils`` (and ``registry``, ``version``) <- ``hand``, ``structures``
<- ``datasets``, ``evaluation``, ``models`` <- ``visualization``, ``engine`` <- ``apis``,
``benchmark`` <- ``cli``.  Checked twice:

* statically, from every ``import`` in ``gclhand/`` (function-level imports included): who
  imports whom, no cycle between subpackages, ``utils`` imports nothing above it;
* at run time, each subpackage imported alone in a fresh interpreter (an import cycle that
  only breaks for one import order shows up here).
"""
import ast
import json
import os
import os.path as osp
import subprocess
import sys
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Set

import pytest

import gclhand

PACKAGE_DIR = osp.dirname(osp.abspath(gclhand.__file__))
#: what ``gclhand.utils`` may import from gclhand (itself aside)
UTILS_MAY_IMPORT = {'registry', 'version'}
#: subpackages nothing below the command line / user-facing layer may import
TOP_LAYERS = {'apis': {'cli', 'benchmark'}, 'benchmark': {'cli'}, 'cli': set()}


def subpackage_imports(package_dir: str) -> Dict[str, Dict[str, List[str]]]:
    """``{importer: {imported: [files]}}`` between the top-level parts of a package.

    A part is a subpackage or a top-level module (``registry``, ``version``); the package's
    own ``__init__`` is ``''``.  Relative imports are resolved; ``from gclhand import x``
    counts as an import of ``x``.
    """
    name = osp.basename(package_dir)
    graph: Dict[str, Dict[str, List[str]]] = defaultdict(lambda: defaultdict(list))
    for folder, _, files in os.walk(package_dir):
        for file in files:
            if not file.endswith('.py'):
                continue
            path = osp.join(folder, file)
            parts = [name] + osp.relpath(path, package_dir)[:-3].split(os.sep)
            is_init = parts[-1] == '__init__'
            module = parts[:-1] if is_init else parts
            package = module if is_init else module[:-1]
            importer = module[1] if len(module) > 1 else ''
            for node in ast.walk(ast.parse(open(path).read(), path)):
                if isinstance(node, ast.Import):
                    targets = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    base = package[:len(package) - node.level + 1] if node.level else []
                    target = '.'.join(base + ([node.module] if node.module else []))
                    targets = ([f'{target}.{a.name}' for a in node.names] if target == name
                               else [target])
                else:
                    continue
                for target in targets:
                    target_parts = target.split('.')
                    if target_parts[0] != name:
                        continue
                    imported = target_parts[1] if len(target_parts) > 1 else ''
                    if imported != importer:
                        graph[importer][imported].append(osp.relpath(path, package_dir))
    return graph


def find_cycles(graph: Dict[str, Dict[str, list]]) -> List[List[str]]:
    """Every import cycle, as the list of parts on it (Tarjan's strongly connected
    components of size > 1, or a part importing itself)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    cycles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph.get(v, {}):
                cycles.append(sorted(component))

    for v in list(graph):
        if v not in index:
            visit(v)
    return cycles


GRAPH = subpackage_imports(PACKAGE_DIR)


def test_cycle_finder_and_graph_on_hand_made_cases():
    """The two helpers can fail: a hand-made cycle is found, a chain is not."""
    assert find_cycles({'a': {'b': []}, 'b': {'c': []}, 'c': {'a': []}}) == [['a', 'b', 'c']]
    assert find_cycles({'a': {'b': []}, 'b': {'c': []}, 'c': {}}) == []
    assert 'utils' in GRAPH['models'] and 'models' in GRAPH['apis']
    assert 'registry' in GRAPH['hand']  # `from gclhand.registry import ...`


def test_no_import_cycle_between_subpackages():
    cycles = find_cycles(GRAPH)
    detail = {tuple(c): {a: {b: GRAPH[a][b][:2] for b in GRAPH[a] if b in c} for a in c}
              for c in cycles}
    assert not cycles, f'import cycles between subpackages: {detail}'


def test_utils_imports_nothing_above_it():
    above = {k: v for k, v in GRAPH['utils'].items() if k not in UTILS_MAY_IMPORT}
    assert not above, f'gclhand.utils imports {sorted(above)}: {dict(above)}'


@pytest.mark.parametrize('layer', sorted(TOP_LAYERS))
def test_top_layers_are_imported_only_from_above(layer):
    importers = {a: files for a, imports in GRAPH.items() for b, files in imports.items()
                 if b == layer and a not in TOP_LAYERS[layer] and a != '__main__'}
    assert not importers, f'gclhand.{layer} is imported from below: {importers}'


SUBPACKAGES = sorted(d for d in os.listdir(PACKAGE_DIR)
                     if osp.isfile(osp.join(PACKAGE_DIR, d, '__init__.py')))
PROBE = ("import importlib, json, sys; importlib.import_module(sys.argv[1]); "
         "print(json.dumps(sorted(m for m in sys.modules if m.startswith('gclhand'))))")


def test_each_subpackage_imports_alone_in_a_fresh_interpreter():
    """Each subpackage in its own interpreter (two at a time); ``gclhand.utils`` loads no
    other gclhand subpackage."""
    env = dict(os.environ, OMP_NUM_THREADS='1')
    assert {'utils', 'models', 'cli', 'benchmark'} <= set(SUBPACKAGES)

    def probe(name):
        return subprocess.run([sys.executable, '-c', PROBE, f'gclhand.{name}'],
                              capture_output=True, text=True, env=env, timeout=300)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(SUBPACKAGES, pool.map(probe, SUBPACKAGES)))
    loaded = {}
    for name, proc in results.items():
        assert proc.returncode == 0, f'import gclhand.{name} alone failed:\n{proc.stderr[-2000:]}'
        loaded[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    utils_loaded = {m.split('.')[1] for m in loaded['utils'] if m.count('.') >= 1}
    assert utils_loaded <= {'utils'} | UTILS_MAY_IMPORT, utils_loaded
