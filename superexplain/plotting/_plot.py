"""`plot(explanation, kind=...)`: one explanation drawn as a heatmap, filled blocks or outlines."""
from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_choice, check_float, describe
from ..segmentation import display_image
from ._common import (
    block_values,
    check_color,
    check_explanation,
    check_options,
    color_scale,
    resolve_kind,
)
from ._labels import constant_note, constant_value, describe_explanation, units_label, warn_constant, wrap_title
from ._overlay import block_overlay, heatmap_overlay, outline_lines, select_segments

__all__ = ["plot", "POSITIVE_COLOR", "NEGATIVE_COLOR", "new_axes", "draw_lines", "set_title"]

#: Outline colours: evidence for the class and against it (distinct also for red-green colour blindness).
POSITIVE_COLOR = "#ffd400"
NEGATIVE_COLOR = "#00b4ff"

#: Default number of outlined segments (Python lime's ``num_features`` default).
OUTLINE_FEATURES = 5


def new_axes(ax: Any, figsize: Any = (4, 4)) -> Any:
    """``ax`` if given (checked), else the Axes of a new pyplot figure (never shown here)."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize, layout="constrained")
        return ax
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None; got {describe(ax)}")
    return ax


def draw_lines(ax: Any, lines: np.ndarray, color: Any, linewidth: float) -> None:
    """Add line segments without letting them change the Axes' limits."""
    if len(lines) == 0:
        return
    from matplotlib.collections import LineCollection

    # matplotlib's stub wants a sequence of (n, 2) arrays; an (N, 2, 2) array is one, as its docs say
    collection = LineCollection(lines, colors=[color], linewidths=linewidth, capstyle="projecting")  # type: ignore[arg-type]
    ax.add_collection(collection, autolim=False)


def set_title(ax: Any, title: Any, default: str, fontsize: float = 9, note: str = "") -> None:
    """None: the default title; False or "": none; a str: that. Wrapped to the width of ``ax``.

    ``note`` (e.g. that the map is constant) is added as a last line to any title but False.
    """
    if title is None:
        title = default
    if title is False or title == "":
        return
    if not isinstance(title, str):
        raise TypeError(f"title must be a str, None (automatic) or False (none); got {describe(title)}")
    if note:
        title = f"{title}\n{note}"
    ax.set_title(wrap_title(title, ax, fontsize), fontsize=fontsize)


def _show_image(ax: Any, image: np.ndarray) -> None:
    height, width = image.shape[:2]
    ax.imshow(image, interpolation="nearest" if max(height, width) < 256 else "antialiased")
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(height - 0.5, -0.5)
    ax.set_xticks([])
    ax.set_yticks([])


def _colorbar(ax: Any, scale: Any, label: str) -> None:
    import matplotlib.cm
    import matplotlib.colors

    mappable = matplotlib.cm.ScalarMappable(matplotlib.colors.Normalize(scale.vmin, scale.vmax), scale.cmap)
    colorbar = ax.figure.colorbar(mappable, ax=ax, fraction=0.046, pad=0.03)
    colorbar.ax.tick_params(labelsize=7)
    colorbar.set_label(label, fontsize=7)


def plot(explanation: Any, kind: str | None = None, ax: Any = None, *, segments: Any = None,
         colormap: Any = None, vmin: float | None = None, vmax: float | None = None,
         alpha_limit: float = 0.65, interpolation: str = "bilinear", num_features: int | None = None,
         threshold: float = 0.0, positive_only: bool = False, show_negative: bool | None = None,
         fill_alpha: float = 0.6, positive_color: Any = POSITIVE_COLOR, negative_color: Any = NEGATIVE_COLOR,
         linewidth: float = 1.5, colorbar: bool = False, title: Any = None, figsize: Any = (4, 4)) -> Any:
    """Draw an explanation over its image; returns the matplotlib Axes.

    Parameters
    ----------
    explanation : Explanation
        From any method (gradient or perturbation), fresh or loaded from disk.
    kind : {"heatmap", "block", "outline"}, optional
        ``"heatmap"``: the attribution over the image; opacity grows with strength up to
        ``alpha_limit`` so weak regions leave the image visible. ``"block"``: superpixels filled
        with the colour of their weight, red for the class and blue against it when any weight is
        negative, the strongest at ``fill_alpha`` (R lime's ``display = "block"``).
        ``"outline"``: boundaries of the selected superpixels, ``positive_color`` for evidence for
        the class and ``negative_color`` against it (R lime's ``display = "outline"``). Default:
        ``"heatmap"`` for gradient explanations, ``"block"`` for perturbation ones.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.
    segments : (H, W) int array, optional
        Superpixels for block/outline plots. A gradient explanation's heatmap is averaged over
        them; a perturbation explanation uses its own segments and weights unless given.
    colormap : str or Colormap, optional
        Default ``"inferno"`` (perceptually uniform) for one-signed values, ``"RdBu_r"`` centred
        on 0 when any value is negative.
    vmin, vmax : float, optional
        The colour scale's range (a signed scale stays symmetric about 0).
    alpha_limit : float in [0, 1]
        Heatmap opacity of the strongest value.
    interpolation : str
        matplotlib interpolation of the heatmap overlay (``"bilinear"``, ``"nearest"``, ...).
    num_features : int, optional
        Mark only the strongest segments, ranked by absolute value (block: all beyond
        ``threshold`` by default; outline: 5).
    threshold : float >= 0
        Segments whose absolute value (with ``positive_only``: value) is at or below it are not marked.
    positive_only : bool
        Block and outline: mark only evidence for the class (default False: segments against it
        are marked too, blue).
    show_negative : bool, optional
        The older spelling of ``not positive_only``.
    fill_alpha : float in [0, 1]
        Opacity of the strongest filled block (weaker ones are more transparent).
    positive_color, negative_color : matplotlib colour
        Outline colours.
    linewidth : float
        Outline width in points (lines are vectors: thin whatever the image's size).
    colorbar : bool
        Add a colour bar labelled with the map's units (heatmap and block).
    title : str, None or False
        None: method, class name and score; False: no title. Long titles are wrapped to the panel.
        A constant map adds a line saying so (and warns).
    figsize : (float, float)
        Size of the new figure when ``ax`` is None.

    Returns
    -------
    matplotlib.axes.Axes

    Warns
    -----
    UserWarning
        When the map is constant (e.g. all zero): there is nothing to show; the warning gives the
        likely reason.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain import Explanation, plot
    >>> image = np.random.default_rng(0).random((32, 32, 3))
    >>> heatmap = np.zeros((32, 32)); heatmap[8:16, 8:16] = 1.0
    >>> e = Explanation(image=image, method="demo", target=0, heatmap=heatmap)
    >>> ax = plot(e, colorbar=True)                    # a heatmap
    >>> ax.figure.axes[-1].get_ylabel()
    'attribution'
    >>> ax = plot(e, kind="outline", segments=np.arange(32 * 32).reshape(32, 32) // 256)
    """
    explanation = check_explanation(explanation)
    kind = resolve_kind(kind, explanation)
    alpha_limit, fill_alpha, num_features, threshold, show_negative = check_options(
        alpha_limit, fill_alpha, num_features, threshold, positive_only, show_negative)
    positive_rgb = check_color(positive_color, "positive_color")
    negative_rgb = check_color(negative_color, "negative_color")
    linewidth = check_float(linewidth, "linewidth", 0.0, strict=True)
    if not isinstance(colorbar, (bool, np.bool_)):
        raise TypeError(f"colorbar must be a bool; got {describe(colorbar)}")
    from matplotlib.image import interpolations_names

    check_choice(interpolation, "interpolation", sorted(interpolations_names))
    ax = new_axes(ax, figsize)
    _show_image(ax, display_image(explanation.image, "explanation.image"))
    scale = None
    if kind == "heatmap":
        values = np.asarray(explanation.heatmap, dtype=np.float64)
        scale = color_scale([values], colormap, vmin, vmax)
        ax.imshow(heatmap_overlay(values, scale, alpha_limit), interpolation=interpolation)
    else:
        labels, values = block_values(explanation, segments)
        if kind == "block":
            scale = color_scale([values], colormap, vmin, vmax)
            positive, negative = select_segments(values, num_features, threshold, show_negative)
            overlay = block_overlay(labels, values, np.concatenate([positive, negative]), scale, fill_alpha)
            ax.imshow(overlay, interpolation="nearest")
        else:
            count = OUTLINE_FEATURES if num_features is None else num_features
            positive, negative = select_segments(values, count, threshold, show_negative)
            draw_lines(ax, outline_lines(labels, negative), negative_rgb, linewidth)
            draw_lines(ax, outline_lines(labels, positive), positive_rgb, linewidth)
    constant = constant_value(values)
    if constant is not None:
        warn_constant(explanation, constant)
    if colorbar and scale is not None and constant is None:  # a constant map has no range to show
        _colorbar(ax, scale, units_label(explanation))
    set_title(ax, title, describe_explanation(explanation),
              note=constant_note(constant) if constant is not None else "")
    return ax
