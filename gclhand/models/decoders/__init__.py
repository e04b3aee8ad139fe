from .attention import CrossHandAttention, ImageAttention
from .camera_head import CameraHead
from .cheb_gcn_decoder import ChebGCNDecoder, ChebResBlock, build_graph
from .hand_split import HandSplit

__all__ = [
    'ChebGCNDecoder', 'ChebResBlock', 'build_graph', 'HandSplit', 'CameraHead',
    'ImageAttention', 'CrossHandAttention'
]
