"""Benchmarks (pytest-benchmark) stay out of the default test run.

    pytest tests/benchmarks --benchmark-only            # run them (a few minutes on CPU)
    pytest tests/benchmarks --benchmark-only --benchmark-json out.json

The project's ``addopts`` carry ``--benchmark-disable``; pytest-benchmark refuses that
together with ``--benchmark-only``, so when this folder is on the command line
``--benchmark-only`` turns benchmarking back on here.  Without ``--benchmark-only`` /
``--benchmark-enable`` every test that uses the ``benchmark`` fixture is skipped, so the
default ``pytest`` run times nothing.  Benchmarks only measure: what they rely on being
correct is asserted by the tests beside the code (``tests/test_benchmark/`` for the
benchmark's builders, ``tests/test_models/test_decoder_laplacian.py`` for the dense
Laplacian path the ChebConv benchmark compares).
"""
import os.path as osp

import pytest

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(osp.dirname(HERE))


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    # runs before pytest-benchmark's own (trylast) pytest_configure when this conftest is
    # an initial one (``pytest tests/benchmarks ...``)
    if config.getoption('benchmark_only', False):
        config.option.benchmark_enable = True


def benchmarks_enabled(config) -> bool:
    return bool(config.getoption('benchmark_only', False)
                or config.getoption('benchmark_enable', False))


def pytest_collection_modifyitems(config, items):
    if benchmarks_enabled(config):
        return
    skip = pytest.mark.skip(reason='benchmark: run with `pytest tests/benchmarks '
                            '--benchmark-only`')
    for item in items:
        if str(item.fspath).startswith(HERE) and 'benchmark' in getattr(item, 'fixturenames',
                                                                         ()):
            item.add_marker(skip)


@pytest.fixture(scope='session')
def bench():
    """:mod:`gclhand.benchmark` with every gclhand module registered."""
    from gclhand import benchmark
    from gclhand.apis import register_all_modules
    register_all_modules()
    return benchmark


@pytest.fixture(scope='session')
def config_path():
    return lambda name: osp.join(REPO, 'configs', name)
