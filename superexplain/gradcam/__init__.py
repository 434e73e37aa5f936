"""The gradient room's class activation maps: Grad-CAM, Grad-CAM++, LayerCAM, Score-CAM, and layer resolution."""
from .layers import resolve_layer
from .methods import GradCAM

__all__ = ["GradCAM", "resolve_layer"]
