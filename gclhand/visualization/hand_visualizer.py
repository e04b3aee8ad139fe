"""HandVisualizer: MMEngine visualizer that draws two-hand predictions next to ground truth."""
from typing import List, Optional, Sequence

import numpy as np
import torch
from mmengine.dist import master_only
from mmengine.visualization import Visualizer

from gclhand.registry import VISUALIZERS
from gclhand.structures.hand_data_sample import HANDS, HandDataSample
from .render import (GT_HAND_COLORS, HAND_COLORS, draw_joints, hstack_images,
                     perspective_to_view, render_overlay, render_side_view, to_uint8_image,
                     weak_perspective_to_view)


@VISUALIZERS.register_module()
class HandVisualizer(Visualizer):
    """Draws predicted vs ground-truth hand meshes and joints over the network input.

    :meth:`draw_hands` returns one row of panels for a :class:`HandDataSample`::

        [ input | GT mesh + GT joints | predicted mesh + predicted joints | predicted, side ]

    Ground truth (``gt_verts_3d`` in camera metres, ``cam_K`` of the image) is drawn with the
    pinhole camera; predictions (``pred_verts_3d`` wrist-relative metres, ``pred_cam``) with
    the model's weak-perspective camera (an orthographic render, see
    :mod:`gclhand.visualization.render`).  Left and right hands have different colours
    (``hand_colors`` / ``gt_hand_colors``).  Panels whose fields are missing are left out.

    Used in configs as ``visualizer = dict(type='HandVisualizer', vis_backends=[...])``;
    :class:`~gclhand.engine.hooks.HandVisualizationHook` calls :meth:`set_hand_model` with the
    trained model's hand model, so faces and units always match the model.

    Args:
        name: instance name (MMEngine's ``Visualizer.get_current_instance`` key).
        vis_backends: MMEngine visualisation backends, e.g.
            ``[dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]``.
        save_dir: where backends write (the runner sets ``{work_dir}/{timestamp}/vis_data``).
        hand_model: hand-model config used until :meth:`set_hand_model` is called.
        canonical_length: metres per normalised model unit; ``None`` takes the hand model
            template's wrist-to-middle-MCP length (what ``TwoHandEstimator`` uses by default).
        alpha: mesh opacity over the image.
        hand_colors, gt_hand_colors: RGB albedo in [0, 1] of (left, right).
        side_view: add the side-view panel of the prediction.
    """

    def __init__(self, name: str = 'visualizer', image: Optional[np.ndarray] = None,
                 vis_backends: Optional[List[dict]] = None, save_dir: Optional[str] = None,
                 hand_model: Optional[dict] = None, canonical_length: Optional[float] = None,
                 alpha: float = 0.8,
                 hand_colors: Sequence[Sequence[float]] = HAND_COLORS,
                 gt_hand_colors: Sequence[Sequence[float]] = GT_HAND_COLORS,
                 side_view: bool = True, **kwargs):
        super().__init__(name=name, image=image, vis_backends=vis_backends, save_dir=save_dir,
                         **kwargs)
        self.hand_model_cfg = hand_model or dict(type='MANOHandModel', use_pca=True)
        self._hand_model = None
        self.canonical_length = canonical_length
        self.alpha = alpha
        self.hand_colors = tuple(tuple(c) for c in hand_colors)
        self.gt_hand_colors = tuple(tuple(c) for c in gt_hand_colors)
        self.side_view = side_view

    # -- hand model ----------------------------------------------------------------------
    def set_hand_model(self, hand_model, canonical_length: Optional[float] = None) -> None:
        """Use ``hand_model``'s faces and (if given) the model's ``canonical_length``."""
        self._hand_model = hand_model
        if canonical_length is not None:
            self.canonical_length = float(canonical_length)

    @property
    def hand_model(self):
        if self._hand_model is None:
            from gclhand.hand import build_hand_model
            self._hand_model = build_hand_model(self.hand_model_cfg)
        return self._hand_model

    def faces(self) -> List[torch.Tensor]:
        """``[(F, 3), (F, 3)]`` faces of (left, right)."""
        return [self.hand_model.faces(side) for side in HANDS]

    def _canonical_length(self) -> float:
        if self.canonical_length is None:
            from gclhand.models.estimators.two_hand_estimator import MIDDLE_MCP, WRIST
            tmpl = self.hand_model.template('right').float()[None]
            joints = self.hand_model.joints_from_vertices(tmpl, 'right')[0]
            self.canonical_length = float((joints[MIDDLE_MCP] - joints[WRIST]).norm())
        return self.canonical_length

    # -- drawing -------------------------------------------------------------------------
    def draw_hands(self, image, data_sample: HandDataSample, draw_gt: bool = True,
                   draw_pred: bool = True, draw_joints_2d: bool = True) -> np.ndarray:
        """One row of panels for ``data_sample`` drawn over ``image``.

        Args:
            image: the network input, ``(H, W, 3)`` uint8 RGB (or a ``(3, H, W)`` tensor);
                ``cam_K``, ``gt_joints_2d``, ``pred_cam`` and ``pred_joints_2d`` refer to it.
            data_sample: a sample with ``gt_*`` and/or ``pred_*`` fields.

        Returns:
            ``(H, k * W + gaps, 3)`` uint8 RGB.
        """
        image = to_uint8_image(image)
        H, W = image.shape[:2]
        panels, labels = [image], ['input']
        faces = self.faces()
        valid = (data_sample.hand_valid if 'hand_valid' in data_sample else torch.ones(2))
        valid = torch.as_tensor(valid).cpu()
        if draw_gt and 'gt_verts_3d' in data_sample and 'cam_K' in data_sample:
            view = perspective_to_view(torch.as_tensor(data_sample.gt_verts_3d).cpu(),
                                       torch.as_tensor(data_sample.cam_K).cpu())
            keep = [h for h in range(2) if valid[h] > 0]
            gt = render_overlay(image, [view[h] for h in keep], [faces[h] for h in keep],
                                [self.gt_hand_colors[h] for h in keep], self.alpha)
            if draw_joints_2d and 'gt_joints_2d' in data_sample:
                gt = draw_joints(gt, data_sample.gt_joints_2d, self.gt_hand_colors, valid)
            panels.append(gt)
            labels.append('GT')
        if draw_pred and 'pred_verts_3d' in data_sample and 'pred_cam' in data_sample:
            rel = data_sample.pred_rel_root if 'pred_rel_root' in data_sample else None
            view = weak_perspective_to_view(
                torch.as_tensor(data_sample.pred_verts_3d).cpu(),
                torch.as_tensor(data_sample.pred_cam).cpu(), (H, W), self._canonical_length(),
                None if rel is None else torch.as_tensor(rel).cpu())
            pred = render_overlay(image, list(view), faces, self.hand_colors, self.alpha)
            if draw_joints_2d and 'pred_joints_2d' in data_sample:
                pred = draw_joints(pred, data_sample.pred_joints_2d, self.hand_colors)
            panels.append(pred)
            labels.append('prediction')
            if self.side_view:
                panels.append(render_side_view(list(view), faces, (H, W), self.hand_colors))
                labels.append('prediction, side')
        return hstack_images(panels, labels)

    @master_only
    def add_datasample(self, name: str, image, data_sample: HandDataSample,
                       draw_gt: bool = True, draw_pred: bool = True, show: bool = False,
                       wait_time: float = 0, out_file: Optional[str] = None,
                       step: int = 0) -> np.ndarray:
        """Draw :meth:`draw_hands` and send it to the backends (``add_image(name, ...)``).

        ``out_file`` writes the drawing to that file instead of the backends; ``show``
        displays it.  Returns the drawing.
        """
        drawn = self.draw_hands(image, data_sample, draw_gt, draw_pred)
        self.set_image(drawn)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            import mmcv
            mmcv.imwrite(drawn[..., ::-1], out_file)
        else:
            self.add_image(name, drawn, step)
        return drawn

    @staticmethod
    def make_grid(rows: Sequence[np.ndarray], gap: int = 2) -> np.ndarray:
        """Stack rows of (possibly different widths) top to bottom on a white canvas."""
        width = max(r.shape[1] for r in rows)
        out = []
        for i, r in enumerate(rows):
            pad = np.full((r.shape[0], width - r.shape[1], 3), 255, np.uint8)
            out.append(np.concatenate([r, pad], 1))
            if gap and i < len(rows) - 1:
                out.append(np.full((gap, width, 3), 255, np.uint8))
        return np.concatenate(out, 0)
