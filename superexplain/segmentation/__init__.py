"""Superpixels for perturbation methods and block plots: `segment` and helpers for tuning."""
from ._segment import SEGMENTATION_METHODS, display_image, segment
from ._stats import SegmentStats, count_segments, segment_means, segment_sizes, segment_stats

__all__ = [
    "segment",
    "display_image",
    "SEGMENTATION_METHODS",
    "SegmentStats",
    "count_segments",
    "segment_sizes",
    "segment_stats",
    "segment_means",
]
