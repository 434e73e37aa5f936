"""Explanations as images without a figure: `format_as_image` (PIL) and the PNG for notebooks."""
from __future__ import annotations

import io
from typing import Any

import numpy as np

from .._validation import describe
from ..segmentation import display_image
from ._common import block_values, check_color, check_explanation, check_options, color_scale, resolve_kind
from ._labels import constant_value, warn_constant
from ._overlay import block_overlay, blend, heatmap_overlay, outline_pixels, select_segments
from ._plot import NEGATIVE_COLOR, OUTLINE_FEATURES, POSITIVE_COLOR, plot

__all__ = ["format_as_image", "explanation_png"]

_FILTERS = ("nearest", "box", "bilinear", "hamming", "bicubic", "lanczos")


def _resampling_filter(value: Any) -> Any:
    from PIL import Image

    if isinstance(value, str):
        if value.lower() not in _FILTERS:
            raise ValueError(f"resampling_filter must be one of {', '.join(map(repr, _FILTERS))} or a "
                             f"PIL.Image.Resampling; got {value!r}")
        return getattr(Image.Resampling, value.upper())
    try:
        return Image.Resampling(value)
    except (ValueError, TypeError):
        raise ValueError(f"resampling_filter must be one of {', '.join(map(repr, _FILTERS))} or a "
                         f"PIL.Image.Resampling; got {describe(value)}") from None


def _heatmap_at_image_size(explanation: Any, resampling_filter: Any) -> np.ndarray:
    """The heatmap, or (eli5's way) the feature map resized to the image with ``resampling_filter``."""
    if resampling_filter is None or explanation.feature_map is None:
        return np.asarray(explanation.heatmap, dtype=np.float64)
    from PIL import Image

    height, width = explanation.image.shape[:2]
    small = Image.fromarray(np.asarray(explanation.feature_map, dtype=np.float32))
    return np.asarray(small.resize((width, height), _resampling_filter(resampling_filter)), dtype=np.float64)


def format_as_image(explanation: Any, kind: str | None = None, *, alpha_limit: float = 0.65,
                    colormap: Any = None, resampling_filter: Any = None, segments: Any = None,
                    vmin: float | None = None, vmax: float | None = None, num_features: int | None = None,
                    threshold: float = 0.0, positive_only: bool = False, show_negative: bool | None = None,
                    fill_alpha: float = 0.6,
                    positive_color: Any = POSITIVE_COLOR, negative_color: Any = NEGATIVE_COLOR) -> Any:
    """The explanation's overlay as an RGB ``PIL.Image`` the size of the image (no figure needed).

    The parameters follow eli5's function of the same name, plus the options of :func:`plot`.

    Parameters
    ----------
    explanation : Explanation
    kind : {"heatmap", "block", "outline"}, optional
        As in :func:`plot`; outlines are one pixel wide, inside the selected segments.
    alpha_limit : float in [0, 1]
        Opacity of the strongest heatmap value; weaker values are more transparent.
    colormap : str or matplotlib Colormap, optional
        As in :func:`plot` (``"inferno"``, or ``"RdBu_r"`` centred on 0 for signed maps).
    resampling_filter : str or PIL.Image.Resampling, optional
        None (default) draws the explanation's own full-resolution heatmap. Given (e.g.
        ``"lanczos"``, eli5's default, or ``"nearest"`` to see the cells), a gradient explanation's
        ``feature_map`` is resized to the image with this filter instead; explanations without a
        feature map keep their heatmap.
    segments, vmin, vmax, num_features, threshold, positive_only, show_negative, fill_alpha
        As in :func:`plot` (block and outline images mark evidence against the class too, unless
        ``positive_only=True``).
    positive_color, negative_color
        As in :func:`plot`.

    Returns
    -------
    PIL.Image.Image
        Mode ``"RGB"``, ``size == (W, H)`` of the explained image.

    Warns
    -----
    UserWarning
        When the map is constant: the image is then the plain image.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain import Explanation, format_as_image
    >>> e = Explanation(image=np.zeros((20, 30, 3)), method="demo", target=0,
    ...                 heatmap=np.eye(20, 30), feature_map=np.eye(2, 3))
    >>> format_as_image(e, resampling_filter="lanczos").size
    (30, 20)
    """
    explanation = check_explanation(explanation)
    kind = resolve_kind(kind, explanation)
    alpha_limit, fill_alpha, num_features, threshold, show_negative = check_options(
        alpha_limit, fill_alpha, num_features, threshold, positive_only, show_negative)
    positive_rgb = np.array(check_color(positive_color, "positive_color"))
    negative_rgb = np.array(check_color(negative_color, "negative_color"))
    base = display_image(explanation.image, "explanation.image")
    if kind == "heatmap":
        values = _heatmap_at_image_size(explanation, resampling_filter)
        scale = color_scale([values], colormap, vmin, vmax)
        rgb = blend(base, heatmap_overlay(values, scale, alpha_limit))
    else:
        labels, values = block_values(explanation, segments)
        if kind == "block":
            scale = color_scale([values], colormap, vmin, vmax)
            positive, negative = select_segments(values, num_features, threshold, show_negative)
            rgb = blend(base, block_overlay(labels, values, np.concatenate([positive, negative]), scale, fill_alpha))
        else:
            count = OUTLINE_FEATURES if num_features is None else num_features
            positive, negative = select_segments(values, count, threshold, show_negative)
            rgb = base.copy()
            rgb[outline_pixels(labels, negative)] = negative_rgb
            rgb[outline_pixels(labels, positive)] = positive_rgb
    constant = constant_value(values)
    if constant is not None:
        warn_constant(explanation, constant)
    from PIL import Image

    return Image.fromarray(np.round(np.clip(rgb, 0.0, 1.0) * 255.0).astype(np.uint8))


def explanation_png(explanation: Any, dpi: int = 100) -> bytes:
    """PNG bytes of :func:`plot`'s default view with a colorbar, rendered off-screen (Agg).

    Used by ``Explanation._repr_png_`` so that an explanation shows itself in a notebook.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain import Explanation
    >>> from superexplain.plotting import explanation_png
    >>> e = Explanation(image=np.zeros((8, 8, 3)), method="demo", target=0, heatmap=np.eye(8))
    >>> explanation_png(e)[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    explanation = check_explanation(explanation)
    figure = Figure(figsize=(4.2, 4), layout="constrained")  # not pyplot: nothing is registered or shown
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    plot(explanation, ax=ax, colorbar=True)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
