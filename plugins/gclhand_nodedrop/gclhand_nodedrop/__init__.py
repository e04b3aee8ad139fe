"""Example gclhand plugin: importing it registers the ``NodeDrop`` disturber."""
from .node_drop import NodeDrop

__all__ = ['NodeDrop']
__version__ = '0.1.0'
