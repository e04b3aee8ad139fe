"""Send grids of predicted vs ground-truth hands to the runner's visualizer during val/test."""
from typing import Optional, Sequence

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from gclhand.registry import HOOKS


def current_train_iter(runner) -> int:
    """``runner.iter`` if the runner's train loop exists already, else 0.

    ``Runner.iter`` builds the train loop (dataset included) from its config on first
    access; MMEngine's own ``LoggerHook.after_val_epoch`` checks ``runner._train_loop`` the
    same way before reading it.
    """
    loop = getattr(runner, '_train_loop', None)
    if loop is None or isinstance(loop, dict):
        return 0
    return runner.iter


@HOOKS.register_module()
class HandVisualizationHook(Hook):
    """Every ``interval`` validation (and test) iterations, add one grid image of overlays.

    Each grid has one row per sample of the batch (at most ``max_samples``), drawn by
    :meth:`gclhand.visualization.HandVisualizer.draw_hands`:
    ``[input | GT | prediction | prediction, side]``.  The grid goes to
    ``runner.visualizer.add_image(f'{prefix}_hands_b{batch_idx}', grid, step=iter)``,
    so MMEngine's ``LocalVisBackend`` writes
    ``{work_dir}/{timestamp}/vis_data/vis_image/val_hands_b{batch_idx}_{iter}.png`` and
    ``TensorboardVisBackend`` an image summary.  ``iter`` is the training iteration when the
    runner is training, and 0 in a test (or stand-alone validation) run: reading
    ``runner.iter`` there would make MMEngine build the train loop, i.e. load the whole
    training split, just to tag an image.  The runner's visualizer should be a
    ``HandVisualizer``; with any other MMEngine ``Visualizer`` the hook draws with a
    ``HandVisualizer`` of its own and still sends the image to the runner's backends.

    The hook takes the faces and the metres-per-unit ``canonical_length`` from the model
    being trained, so the drawing always matches it.  Only the main process draws.

    Args:
        interval: draw at validation iterations ``batch_idx % interval == 0``.
        max_samples: rows per grid.
        draw_gt, draw_pred: which panels to draw.
        test: draw during ``tools/test.py`` runs too.

    Config::

        custom_hooks = [dict(type='HandVisualizationHook', interval=10, max_samples=4)]
        visualizer = dict(type='HandVisualizer', vis_backends=vis_backends, name='visualizer')
    """

    priority = 'LOW'

    def __init__(self, interval: int = 10, max_samples: int = 4, draw_gt: bool = True,
                 draw_pred: bool = True, test: bool = True):
        if interval < 1 or max_samples < 1:
            raise ValueError(f'HandVisualizationHook: interval ({interval}) and max_samples '
                             f'({max_samples}) must be >= 1')
        self.interval = interval
        self.max_samples = max_samples
        self.draw_gt = draw_gt
        self.draw_pred = draw_pred
        self.test = test
        self._own_visualizer = None

    def _drawer(self, runner):
        from gclhand.visualization import HandVisualizer
        vis = runner.visualizer
        if not isinstance(vis, HandVisualizer):
            if self._own_visualizer is None:
                self._own_visualizer = HandVisualizer(name='gclhand_hand_drawer')
            vis = self._own_visualizer
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if hasattr(model, 'hand_model'):
            vis.set_hand_model(model.hand_model, getattr(model, 'canonical_length', None))
        return vis

    def _draw(self, runner, prefix: str, batch_idx: int, data_batch: Optional[dict],
              outputs: Optional[Sequence]) -> None:
        if batch_idx % self.interval or not outputs or not is_main_process():
            return
        inputs = (data_batch or {}).get('inputs')
        if inputs is None:
            return
        drawer = self._drawer(runner)
        rows = [drawer.draw_hands(img, sample, self.draw_gt, self.draw_pred)
                for img, sample in list(zip(inputs, outputs))[:self.max_samples]]
        grid = drawer.make_grid(rows)
        runner.visualizer.add_image(f'{prefix}_hands_b{batch_idx}', grid,
                                    step=current_train_iter(runner))

    def after_val_iter(self, runner, batch_idx: int, data_batch: Optional[dict] = None,
                       outputs: Optional[Sequence] = None) -> None:
        self._draw(runner, 'val', batch_idx, data_batch, outputs)

    def after_test_iter(self, runner, batch_idx: int, data_batch: Optional[dict] = None,
                        outputs: Optional[Sequence] = None) -> None:
        if self.test:
            self._draw(runner, 'test', batch_idx, data_batch, outputs)
