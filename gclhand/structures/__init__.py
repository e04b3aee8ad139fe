from .hand_data_sample import HANDS, NUM_HAND_JOINTS, NUM_HAND_VERTS, HandDataSample

__all__ = ['HANDS', 'NUM_HAND_JOINTS', 'NUM_HAND_VERTS', 'HandDataSample']
