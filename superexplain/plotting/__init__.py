"""Shared plotting for every Explanation: heatmap, block and outline overlays, comparisons, superpixel tuning.

Nothing here imports TensorFlow, so saved explanations can be drawn without it. Everything
renders headless (Agg) and nothing calls ``plt.show()``.
"""
from ._compare import compare
from ._image import explanation_png, format_as_image
from ._overlay import block_overlay, heatmap_overlay, outline_lines, outline_pixels, select_segments
from ._plot import plot
from ._superpixels import plot_superpixels, plot_superpixels_grid
from .concepts import plot_concepts

__all__ = [
    "plot",
    "plot_superpixels",
    "plot_superpixels_grid",
    "plot_concepts",
    "compare",
    "format_as_image",
    "explanation_png",
    "select_segments",
    "heatmap_overlay",
    "block_overlay",
    "outline_pixels",
    "outline_lines",
]
