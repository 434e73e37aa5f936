"""What every plot shares: argument checks, the values a kind draws, colour scales and titles."""
from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import numpy as np

from .._validation import check_choice, check_float, check_int, check_segments, describe
from ..explanation import Explanation
from ..segmentation import segment_means

__all__ = [
    "KINDS",
    "ColorScale",
    "check_explanation",
    "resolve_kind",
    "block_values",
    "scale_values",
    "color_scale",
    "check_color",
    "check_options",
]

KINDS = ("heatmap", "block", "outline")

#: Default colormaps: perceptually uniform for one-signed maps, diverging (white at 0) for signed ones.
SEQUENTIAL_COLORMAP = "inferno"
DIVERGING_COLORMAP = "RdBu_r"

def check_explanation(explanation: Any, name: str = "explanation") -> Explanation:
    """An :class:`~superexplain.Explanation`, or a TypeError naming what came instead."""
    if not isinstance(explanation, Explanation):
        raise TypeError(f"{name} must be a superexplain.Explanation; got {describe(explanation)}")
    return explanation


def resolve_kind(kind: Any, explanation: Explanation) -> str:
    """``kind`` checked, or the explanation's natural kind when None.

    Gradient explanations default to ``"heatmap"``, perturbation ones (with segments and weights)
    to ``"block"``.
    """
    if kind is None:
        return "block" if explanation.weights is not None and explanation.segments is not None else "heatmap"
    return check_choice(kind, "kind", KINDS)


def plot_segments(explanation: Explanation, segments: Any = None) -> np.ndarray:
    """The label image a block or outline plot uses: ``segments`` if given, else the explanation's."""
    if segments is not None:
        return check_segments(segments, explanation.image.shape, "segments")
    if explanation.segments is not None:
        return explanation.segments
    raise ValueError(
        f"a block or outline plot needs superpixels, but this {explanation.method!r} explanation has no "
        "segments; pass segments=superexplain.segmentation.segment(explanation.image) (or any (H, W) "
        "label image)"
    )


def block_values(explanation: Explanation, segments: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """``(labels, one value per segment)`` for block and outline plots.

    A perturbation explanation's own weights are used when no other segments are given; otherwise
    the heatmap is averaged over the segments, so gradient explanations can be shown as blocks too.
    """
    labels = plot_segments(explanation, segments)
    if segments is None and explanation.weights is not None:
        return labels, np.asarray(explanation.weights, dtype=np.float64)[: int(labels.max()) + 1]
    return labels, segment_means(explanation.heatmap, labels)


def scale_values(explanation: Explanation, kind: str, segments: Any = None) -> np.ndarray | None:
    """The numbers whose range sets the colour scale of ``kind`` (None for outlines: fixed colours)."""
    if kind == "heatmap":
        return np.asarray(explanation.heatmap, dtype=np.float64)
    if kind == "block":
        return block_values(explanation, segments)[1]
    return None


class ColorScale(NamedTuple):
    """A colormap with its value range; ``signed`` scales are symmetric about 0."""

    cmap: Any
    vmin: float
    vmax: float
    signed: bool

    def normalize(self, values: np.ndarray) -> np.ndarray:
        """Values mapped to [0, 1] on this scale (clipped)."""
        span = self.vmax - self.vmin
        return np.clip((np.asarray(values, dtype=np.float64) - self.vmin) / span, 0.0, 1.0)

    def strength(self, values: np.ndarray) -> np.ndarray:
        """How far each value is from "nothing" in [0, 1]: |v| / max for signed, position otherwise."""
        if self.signed:
            return np.clip(np.abs(np.asarray(values, dtype=np.float64)) / self.vmax, 0.0, 1.0)
        return self.normalize(values)

    def rgba(self, values: np.ndarray) -> np.ndarray:
        """Colormap colours (..., 4) float in [0, 1]."""
        return np.asarray(self.cmap(self.normalize(values)), dtype=np.float64)


def _colormap(colormap: Any) -> Any:
    import matplotlib

    if isinstance(colormap, matplotlib.colors.Colormap):
        return colormap
    if not isinstance(colormap, str):
        raise TypeError(f"colormap must be a matplotlib colormap or its name; got {describe(colormap)}")
    try:
        return matplotlib.colormaps[colormap]
    except KeyError:
        raise ValueError(f"colormap {colormap!r} is not a matplotlib colormap name (e.g. 'inferno', 'RdBu_r')") \
            from None


def color_scale(value_sets: Sequence[np.ndarray | None], colormap: Any = None, vmin: Any = None,
                vmax: Any = None) -> ColorScale:
    """One colour scale covering every array in ``value_sets``.

    A scale is signed (diverging colormap, centred on 0) as soon as any value is negative; a
    one-signed scale runs from 0 (or the smallest value, if positive values do not start at 0) to
    the largest value. ``vmin``/``vmax`` override the range.
    """
    finite = [np.asarray(v, dtype=np.float64).ravel() for v in value_sets if v is not None]
    values = np.concatenate(finite) if finite else np.zeros(1)
    values = values[np.isfinite(values)]
    low = float(values.min()) if values.size else 0.0
    high = float(values.max()) if values.size else 0.0
    if vmin is not None:
        vmin = check_float(vmin, "vmin")
    if vmax is not None:
        vmax = check_float(vmax, "vmax")
    signed = (vmin if vmin is not None else low) < 0
    if signed:
        bound = max(abs(low), abs(high)) if vmax is None else vmax
        if vmin is not None:
            bound = max(abs(vmin), bound)
        bound = bound if bound > 0 else 1.0
        lo, hi = -bound, bound
    else:
        lo = 0.0 if vmin is None else vmin
        hi = high if vmax is None else vmax
        if hi <= lo:
            hi = lo + 1.0
    if colormap is None:
        colormap = DIVERGING_COLORMAP if signed else SEQUENTIAL_COLORMAP
    return ColorScale(_colormap(colormap), float(lo), float(hi), bool(signed))


def check_color(color: Any, name: str) -> tuple[float, float, float]:
    """A matplotlib colour spec as an RGB triple in [0, 1]."""
    import matplotlib.colors

    try:
        red, green, blue = matplotlib.colors.to_rgb(color)
        return float(red), float(green), float(blue)
    except (ValueError, TypeError):
        raise ValueError(f"{name} must be a matplotlib colour (e.g. 'yellow', '#00ff00', (1, 0, 0)); "
                         f"got {describe(color)}") from None


def check_options(alpha_limit: Any = 0.65, fill_alpha: Any = 0.5, num_features: Any = None,
                  threshold: Any = 0.0, positive_only: Any = False,
                  show_negative: Any = None) -> tuple[float, float, int | None, float, bool]:
    """The overlay options every renderer takes, checked; the last item says whether negatives are marked.

    ``show_negative`` is the older spelling of ``not positive_only``; giving both in contradiction
    is an error.
    """
    alpha_limit = check_float(alpha_limit, "alpha_limit", 0.0, 1.0)
    fill_alpha = check_float(fill_alpha, "fill_alpha", 0.0, 1.0)
    if num_features is not None:
        num_features = check_int(num_features, "num_features", 1)
    threshold = check_float(threshold, "threshold", 0.0)
    if not isinstance(positive_only, (bool, np.bool_)):
        raise TypeError(f"positive_only must be a bool; got {describe(positive_only)}")
    if show_negative is None:
        return alpha_limit, fill_alpha, num_features, threshold, not positive_only
    if not isinstance(show_negative, (bool, np.bool_)):
        raise TypeError(f"show_negative must be a bool or None; got {describe(show_negative)}")
    if positive_only and show_negative:
        raise ValueError("positive_only=True and show_negative=True contradict each other; "
                         "give positive_only only (show_negative is its older opposite)")
    return alpha_limit, fill_alpha, num_features, threshold, bool(show_negative)
