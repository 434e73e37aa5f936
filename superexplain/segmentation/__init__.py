"""Superpixels for perturbation methods and block plots: `segment` and helpers for tuning."""
from ._segment import SEGMENTATION_METHODS, display_image, segment

__all__ = ["segment", "display_image", "SEGMENTATION_METHODS"]
