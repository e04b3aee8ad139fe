"""Decoders: the main GCN, graph features -> hand meshes (registry ``DECODERS``)."""
from .attention import CrossHandAttention, ImageAttention
from .cheb_gcn_decoder import ChebGCNDecoder, ChebResBlock, build_graph

__all__ = ['ChebGCNDecoder', 'ChebResBlock', 'build_graph', 'ImageAttention', 'CrossHandAttention']
