"""Drawing two-hand meshes and joints: renderer glue, mesh files, MMEngine visualizer."""
from .hand_visualizer import HandVisualizer
from .mesh_io import read_obj, write_mesh, write_obj, write_ply
from .render import (GT_HAND_COLORS, HAND_COLORS, draw_joints, hstack_images,
                     perspective_to_view, render_overlay, render_side_view, render_view,
                     to_uint8_image, weak_perspective_to_view)

__all__ = [
    'HandVisualizer', 'read_obj', 'write_mesh', 'write_obj', 'write_ply', 'GT_HAND_COLORS',
    'HAND_COLORS', 'draw_joints', 'hstack_images', 'perspective_to_view', 'render_overlay',
    'render_side_view', 'render_view', 'to_uint8_image', 'weak_perspective_to_view'
]
