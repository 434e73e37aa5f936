"""Superpixel tuning plots: `plot_superpixels` (R lime's favourite) and a grid of settings."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from .._validation import check_float, check_int, describe
from ..segmentation import SEGMENTATION_METHODS, display_image, segment, segment_stats
from ._common import check_color
from ._plot import _show_image, draw_lines, new_axes, set_title
from ._overlay import outline_lines

__all__ = ["plot_superpixels", "plot_superpixels_grid"]

_DEFAULT_N = 50
_DEFAULT_WEIGHT = 10.0


def _method_name(method: Any) -> str:
    if callable(method):
        return getattr(method, "__name__", type(method).__name__)
    if not isinstance(method, str) or method not in SEGMENTATION_METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, SEGMENTATION_METHODS))} or a callable; "
                         f"got {describe(method)}")
    return method


def _settings(method: Any, n_superpixels: Any, weight: Any) -> dict[str, Any]:
    """The segmentation options ``n_superpixels`` and ``weight`` stand for with ``method``."""
    name = _method_name(method)
    takes_n = name in ("slic", "grid", "watershed") and not callable(method)
    takes_weight = name == "slic" and not callable(method)
    if n_superpixels is not None and not takes_n:
        raise ValueError(f"n_superpixels applies to 'slic', 'grid' and 'watershed', not to method {name!r}; "
                         "pass that method's own options instead (e.g. scale=, kernel_size=)")
    if weight is not None and not takes_weight:
        raise ValueError(f"weight (SLIC's compactness) applies to method 'slic' only; got method {name!r}")
    options: dict[str, Any] = {}
    if takes_n:
        count = check_int(_DEFAULT_N if n_superpixels is None else n_superpixels, "n_superpixels", 1)
        options["markers" if name == "watershed" else "n_segments"] = count
    if takes_weight:
        options["compactness"] = check_float(_DEFAULT_WEIGHT if weight is None else weight, "weight", 0.0,
                                             strict=True)
    return options


def _label(name: str, options: dict[str, Any]) -> str:
    shown = {"n_segments": "n", "markers": "n", "compactness": "weight"}
    parts = [f"{shown.get(key, key)}={value:g}" if isinstance(value, (int, float)) else f"{key}={value}"
             for key, value in options.items()]
    return f"{name} " + ", ".join(parts) if parts else name


def _draw(ax: Any, rgb: np.ndarray, labels: np.ndarray, color: Any, linewidth: float, title: Any,
          heading: str, fontsize: float) -> None:
    _show_image(ax, rgb)
    draw_lines(ax, outline_lines(labels), color, linewidth)
    set_title(ax, title, f"{heading}\n{segment_stats(labels)}", fontsize)


def plot_superpixels(image: Any, n_superpixels: int | None = None, weight: float | None = None,
                     method: str | Callable = "slic", ax: Any = None, *, color: Any = "yellow",
                     linewidth: float = 0.6, title: Any = None, figsize: Any = (4, 4), **options: Any) -> Any:
    """Draw superpixel boundaries over an image, to tune a segmentation before a slow LIME run.

    The title gives the settings and what they produced: the number of segments and their mean,
    smallest and largest size (as R lime's ``plot_superpixels``).

    Parameters
    ----------
    image : array_like
        (H, W) or (H, W, C), any dtype and value range (a display-normalised copy is used).
    n_superpixels : int, optional
        How many segments to ask for (default 50): SLIC's and the grid's ``n_segments``,
        watershed's ``markers``. Not used by quickshift and felzenszwalb (an error if given).
    weight : float, optional
        SLIC's ``compactness`` (default 10; R lime's name): higher gives squarer segments that
        follow colour edges less.
    method : str or callable
        As in :func:`superexplain.segmentation.segment`.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.
    color : matplotlib colour
        Boundary colour.
    linewidth : float
        Boundary width in points (vector lines: thin at any image size).
    title : str, None or False
        None: settings and segment statistics; False: none.
    figsize : (float, float)
        Size of the new figure when ``ax`` is None.
    **options
        Further options of the segmentation method (e.g. ``sigma=``, ``scale=``).

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> from skimage import data
    >>> from superexplain import plot_superpixels
    >>> ax = plot_superpixels(data.chelsea(), n_superpixels=40, weight=20)
    >>> "40" in ax.get_title()
    True
    """
    settings = _settings(method, n_superpixels, weight)
    color = check_color(color, "color")
    linewidth = check_float(linewidth, "linewidth", 0.0, strict=True)
    rgb = display_image(image)
    labels = segment(rgb, method, **settings, **options)
    ax = new_axes(ax, figsize)
    _draw(ax, rgb, labels, color, linewidth, title, _label(_method_name(method), {**settings, **options}), 9)
    return ax


def _as_list(values: Any, name: str) -> list:
    if values is None or np.isscalar(values):
        return [values]
    if not isinstance(values, (list, tuple, np.ndarray)):
        raise TypeError(f"{name} must be a number or a list of numbers; got {describe(values)}")
    values = list(values)
    if not values:
        raise ValueError(f"{name} must not be empty")
    return values


def plot_superpixels_grid(image: Any, n_superpixels: Sequence[int] | int | None = None,
                          weight: Sequence[float] | float | None = None, method: str | Callable = "slic",
                          *, color: Any = "yellow", linewidth: float = 0.5, panel_size: float = 3.0,
                          **options: Any) -> Any:
    """One figure with a panel per (weight, n_superpixels) combination, to pick settings at a glance.

    Rows are weights, columns are numbers of superpixels; every panel's title gives the settings
    and the number and mean size of the segments produced.

    Parameters
    ----------
    image : array_like
        As in :func:`plot_superpixels`.
    n_superpixels : int or list of int, optional
        Columns (default 25, 50, 100 for slic, grid and watershed; quickshift and felzenszwalb
        take none).
    weight : float or list of float, optional
        Rows: SLIC's compactness (default 3, 10, 30; other methods take none).
    method : str or callable
        As in :func:`superexplain.segmentation.segment`.
    color, linewidth
        Boundary colour and width in points.
    panel_size : float
        Height of one panel in inches (the width follows the image's aspect ratio).
    **options
        Further options of the segmentation method.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from skimage import data
    >>> from superexplain import plot_superpixels_grid
    >>> figure = plot_superpixels_grid(data.coffee(), n_superpixels=[20, 80], weight=[5, 20])
    >>> len(figure.axes)
    4
    """
    import matplotlib.pyplot as plt

    name = _method_name(method)
    builtin = isinstance(method, str)
    if n_superpixels is None and builtin and name in ("slic", "grid", "watershed"):
        n_superpixels = (25, 50, 100)
    if weight is None and builtin and name == "slic":
        weight = (3, 10, 30)
    counts, weights = _as_list(n_superpixels, "n_superpixels"), _as_list(weight, "weight")
    grid = [[_settings(method, count, w) for count in counts] for w in weights]  # checks all before work
    color = check_color(color, "color")
    linewidth = check_float(linewidth, "linewidth", 0.0, strict=True)
    panel_size = check_float(panel_size, "panel_size", 0.0, strict=True)
    rgb = display_image(image)
    height, width = rgb.shape[:2]
    figure = plt.figure(figsize=(panel_size * len(counts) * width / height, (panel_size + 0.45) * len(weights)),
                        layout="constrained")
    axes = figure.subplots(len(weights), len(counts), squeeze=False)
    for row, settings_row in enumerate(grid):
        for column, settings in enumerate(settings_row):
            labels = segment(rgb, method, **settings, **options)
            _draw(axes[row][column], rgb, labels, color, linewidth, None, _label(name, settings), 8)
    return figure
