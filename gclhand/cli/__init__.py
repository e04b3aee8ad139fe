"""gclhand's command line: ``gclhand SUBCOMMAND ...`` and ``python -m gclhand SUBCOMMAND ...``.

One module per subcommand (``gclhand/cli/<name>.py``, each with ``parse_args(argv)`` and
``main(argv)``); ``tools/<name>.py`` in the repository are thin wrappers around the same
``main`` with the same arguments.  Errors a user can fix print one line (``error: ...``)
and exit with status 2 (:func:`gclhand.cli.errors.run_tool`); ``GCLHAND_DEBUG=1`` shows the
traceback instead.

Multi-process training: ``torchrun --nproc_per_node 2 -m gclhand train CONFIG --launcher
pytorch`` (gloo on CPU-only machines, NCCL on GPUs).
"""
import difflib
import sys
from contextlib import contextmanager
from importlib import import_module
from typing import List, Optional

#: subcommand -> (module in gclhand.cli, one-line summary)
COMMANDS = {
    'train': ('train', 'train a model from a config'),
    'test': ('test', 'evaluate a checkpoint (or the untrained model) on the test set'),
    'demo': ('demo', 'reconstruct two hands from images: meshes, joints, overlays'),
    'export': ('export', 'export the deployed model to TorchScript / ONNX and verify it'),
    'benchmark': ('benchmark', 'train-step / inference / data speed against a baseline'),
    'ablation': ('ablation', 'train and test the Table 2 rows, print the table'),
    'print-config': ('print_config', 'print the resolved config'),
    'configs': ('configs', "list the shipped configs (usable as 'gclhand::NAME')"),
    'make-synth': ('make_synth', 'generate the synthetic two-hand dataset'),
    'make-hand-model': ('make_hand_model', 'write the procedural hand model (MANO layout)'),
    'prepare-interhand': ('prepare_interhand', 'convert InterHand2.6M to the IntagHand layout'),
    'plot-curves': ('plot_curves', 'plot the training curves of work dirs'),
    'reference-errors': ('reference_errors', 'MPJPE of reference predictors on a split'),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ['usage: gclhand SUBCOMMAND [-h] [ARGS ...]', '',
             'Graph contrastive two-hand 3D reconstruction (HandDGCL). Subcommands:']
    lines += [f'  {name:<{width}}  {summary}' for name, (_, summary) in COMMANDS.items()]
    lines += ['', "'gclhand SUBCOMMAND -h' describes one; configs may be files or shipped "
              "configs, e.g. 'gclhand train gclhand::dgcl_synth.py'."]
    return '\n'.join(lines)


@contextmanager
def _program_name(name: str):
    """argparse names the program after ``sys.argv[0]``: say ``gclhand SUBCOMMAND``."""
    saved = sys.argv[0] if sys.argv else ''
    if sys.argv:
        sys.argv[0] = name
    try:
        yield
    finally:
        if sys.argv:
            sys.argv[0] = saved


def main(argv: Optional[List[str]] = None) -> int:
    """Run ``gclhand SUBCOMMAND ARGS``; returns the exit status."""
    from gclhand.version import __version__
    from .errors import run_tool
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ('-h', '--help'):
        print(usage())
        return 0 if argv else 2
    if argv[0] == '--version':
        print(f'gclhand {__version__}')
        return 0
    name = argv[0].replace('_', '-')
    if name not in COMMANDS:
        close = difflib.get_close_matches(name, list(COMMANDS), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ''
        print(f"error: unknown subcommand '{argv[0]}'{hint}; choose from "
              f"{', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    module = import_module(f'{__name__}.{COMMANDS[name][0]}')
    with _program_name(f'gclhand {name}'):
        return run_tool(module.main, argv[1:])


__all__ = ['COMMANDS', 'main']
