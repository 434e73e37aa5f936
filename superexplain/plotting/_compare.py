"""`compare([...])`: explanations side by side, one row per image, each panel with its colour scale and bar."""
from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_choice, check_float, describe
from ..explanation import Explanation
from ..segmentation import display_image
from ._common import color_scale, resolve_kind, scale_values
from ._labels import describe_explanation, units_label
from ._plot import _show_image, plot

__all__ = ["compare"]


def _rows(explanations: Any) -> list[list[Explanation]]:
    """An Explanation, a list of them (one row) or a list of lists (one row each), checked."""
    if isinstance(explanations, Explanation):
        return [[explanations]]
    if not isinstance(explanations, (list, tuple)) or not explanations:
        raise TypeError(f"explanations must be a non-empty list of Explanations or a list of such lists; "
                        f"got {describe(explanations)}")
    if all(isinstance(item, Explanation) for item in explanations):
        rows = [list(explanations)]
    elif all(isinstance(item, (list, tuple)) for item in explanations):
        rows = [list(row) for row in explanations]
    else:
        raise TypeError("explanations must be a list of Explanations (one row) or a list of lists of "
                        "Explanations (one row per image), not a mix")
    for index, row in enumerate(rows):
        if not row:
            raise ValueError(f"explanations: row {index} is empty")
        for item in row:
            if not isinstance(item, Explanation):
                raise TypeError(f"explanations: row {index} holds {describe(item)}, not an Explanation")
        first = row[0].image
        for item in row[1:]:
            if item.image.shape != first.shape or not np.array_equal(item.image, first):
                raise ValueError(f"explanations: row {index} mixes different images; put the explanations "
                                 "of each image in their own row")
    return rows


SCALES = ("per_panel", "per_method", "shared")


def _check_scale(scale: Any, share_scale: Any) -> str:
    """``scale`` checked; ``share_scale`` (the older bool) translated when given."""
    if share_scale is not None:
        if not isinstance(share_scale, (bool, np.bool_)):
            raise TypeError(f"share_scale must be a bool or None; got {describe(share_scale)}")
        if scale is not None:
            raise ValueError("give scale= or share_scale= (its older spelling), not both")
        return "shared" if share_scale else "per_panel"
    return "per_panel" if scale is None else check_choice(scale, "scale", SCALES)


def _group_key(scale: str, item: Explanation, kind: str) -> tuple | None:
    """Panels with the same key share a colour scale; None: the panel keeps its own."""
    if kind == "outline" or scale == "per_panel":
        return None
    if scale == "per_method":
        layer = item.params.get("layer")  # maps of different layers have different scales
        return kind, item.method, units_label(item), layer if isinstance(layer, str) else None
    return (kind,)


def _row_scales(row: list, row_kinds: list, scale: str, options: dict) -> list[dict]:
    """For each panel of a row, the ``vmin``/``vmax`` it is given (empty: its own range)."""
    groups: dict[tuple, list[int]] = {}
    for index, (item, kind) in enumerate(zip(row, row_kinds)):
        key = _group_key(scale, item, kind)
        if key is not None:
            groups.setdefault(key, []).append(index)
    given: list[dict] = [{} for _ in row]
    for (kind, *_), members in groups.items():
        units = {units_label(row[i]) for i in members}
        if len(units) > 1:
            raise ValueError(f"scale='shared' would put maps in different units ({', '.join(sorted(units))}) on "
                             "one colour scale; use scale='per_method' or 'per_panel'")
        values = [scale_values(row[i], kind, options.get("segments")) for i in members]
        shared = color_scale(values, options.get("colormap"), options.get("vmin"), options.get("vmax"))
        for i in members:
            given[i] = {"vmin": shared.vmin, "vmax": shared.vmax}
    return given


def compare(explanations: Any, kind: str | None = None, *, scale: str | None = None, show_image: bool = True,
            panel_size: float = 3.0, share_scale: bool | None = None, **options: Any) -> Any:
    """Explanations side by side: the image, then one panel per explanation; one row per image.

    This is the figure for comparing methods (e.g. Grad-CAM vs LIME) or settings on the same image.
    Every heatmap and block panel has its own colour bar, labelled with the map's units (e.g.
    "LIME weight (probability units)", "probability drop when hidden", "attribution (logit)").

    Parameters
    ----------
    explanations : Explanation, list of Explanation, or list of lists
        One row, or one row per image; every explanation in a row must explain the same image.
    kind : {"heatmap", "block", "outline"}, optional
        For every panel; by default each explanation's natural kind (heatmap for gradient methods,
        block for perturbation ones).
    scale : {"per_panel", "per_method", "shared"}, optional
        Which panels of a row share a colour scale. ``"per_panel"`` (default): each panel is
        scaled to its own range, so no map is washed out by a larger one beside it.
        ``"per_method"``: panels of the same method, layer, kind and units share one scale (e.g.
        LIME runs with different settings), so equal colours mean equal values among them.
        ``"shared"``: every panel of a kind shares one scale; a ValueError if their units differ.
    show_image : bool
        Start each row with the plain image.
    panel_size : float
        Height of one panel in inches.
    share_scale : bool, optional
        Older spelling: True is ``scale="shared"``, False ``scale="per_panel"``.
    **options
        Passed to :func:`plot` for every panel (``num_features=``, ``segments=``,
        ``positive_only=``, ``colorbar=False`` to drop the colour bars...).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain import Explanation, compare
    >>> image = np.random.default_rng(0).random((16, 16, 3))
    >>> a = Explanation(image=image, method="a", target=0, heatmap=np.eye(16))
    >>> b = Explanation(image=image, method="b", target=0, heatmap=-1000 * np.eye(16))
    >>> figure = compare([a, b])
    >>> [ax.get_title().split(" ")[0] for ax in figure.axes[:3]]
    ['image', 'a', 'b']
    >>> [ax.get_ylabel() for ax in figure.axes[3:]]       # a colour bar per panel, with units
    ['attribution', 'attribution']
    """
    import matplotlib.pyplot as plt

    rows = _rows(explanations)
    scale = _check_scale(scale, share_scale)
    if not isinstance(show_image, (bool, np.bool_)):
        raise TypeError(f"show_image must be a bool; got {describe(show_image)}")
    panel_size = check_float(panel_size, "panel_size", 0.0, strict=True)
    kinds = [[resolve_kind(kind, item) for item in row] for row in rows]
    options.setdefault("colorbar", True)
    n_columns = max(len(row) for row in rows) + int(bool(show_image))
    height, width = rows[0][0].image.shape[:2]
    aspect = min(max(width / height, 0.5), 2.0)
    bar_width = 0.75 if options["colorbar"] is True else 0.0
    figure = plt.figure(figsize=(n_columns * (panel_size * aspect + bar_width) + 0.3, (panel_size + 0.8) * len(rows)),
                        layout="constrained")
    axes = figure.subplots(len(rows), n_columns, squeeze=False)
    for row_axes, row, row_kinds in zip(axes, rows, kinds):
        given = _row_scales(row, row_kinds, scale, options)
        offset = int(bool(show_image))
        if show_image:
            _show_image(row_axes[0], display_image(row[0].image, "explanation.image"))
            row_axes[0].set_title(f"image {height}\u00d7{width}" if row is rows[0] else "image", fontsize=9)
        for column, (item, panel_kind, limits) in enumerate(zip(row, row_kinds, given)):
            panel_options = {**options, **limits}
            panel_options.setdefault("title", describe_explanation(item, settings=True))
            plot(item, kind=panel_kind, ax=row_axes[offset + column], **panel_options)
        for ax in row_axes[offset + len(row):]:
            ax.set_axis_off()
    return figure
