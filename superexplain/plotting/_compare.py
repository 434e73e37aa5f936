"""`compare([...])`: explanations side by side, one row per image, one colour scale per kind and row."""
from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_float, describe
from ..explanation import Explanation
from ..segmentation import display_image
from ._common import color_scale, describe_explanation, resolve_kind, scale_values
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


def compare(explanations: Any, kind: str | None = None, *, share_scale: bool = True, show_image: bool = True,
            panel_size: float = 3.0, **options: Any) -> Any:
    """Explanations side by side: the image, then one panel per explanation; one row per image.

    This is the figure for comparing methods (e.g. Grad-CAM vs LIME) or settings on the same image.

    Parameters
    ----------
    explanations : Explanation, list of Explanation, or list of lists
        One row, or one row per image; every explanation in a row must explain the same image.
    kind : {"heatmap", "block", "outline"}, optional
        For every panel; by default each explanation's natural kind (heatmap for gradient methods,
        block for perturbation ones).
    share_scale : bool
        Give all panels of the same kind in a row one colour scale (default), so equal colours
        mean equal values; False scales each panel to its own range.
    show_image : bool
        Start each row with the plain image.
    panel_size : float
        Height of one panel in inches.
    **options
        Passed to :func:`plot` for every panel (``num_features=``, ``segments=``, ``colorbar=``...).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain import Explanation, compare
    >>> image = np.random.default_rng(0).random((16, 16, 3))
    >>> a = Explanation(image=image, method="a", target=0, heatmap=np.eye(16))
    >>> b = Explanation(image=image, method="b", target=0, heatmap=-np.eye(16))
    >>> figure = compare([a, b])
    >>> [ax.get_title().split(" ")[0] for ax in figure.axes]
    ['image', 'a', 'b']
    """
    import matplotlib.pyplot as plt

    rows = _rows(explanations)
    if not isinstance(share_scale, (bool, np.bool_)):
        raise TypeError(f"share_scale must be a bool; got {describe(share_scale)}")
    if not isinstance(show_image, (bool, np.bool_)):
        raise TypeError(f"show_image must be a bool; got {describe(show_image)}")
    panel_size = check_float(panel_size, "panel_size", 0.0, strict=True)
    kinds = [[resolve_kind(kind, item) for item in row] for row in rows]
    n_columns = max(len(row) for row in rows) + int(bool(show_image))
    height, width = rows[0][0].image.shape[:2]
    aspect = min(max(width / height, 0.5), 2.0)
    figure = plt.figure(figsize=(panel_size * aspect * n_columns + 0.3, (panel_size + 0.55) * len(rows)),
                        layout="constrained")
    axes = figure.subplots(len(rows), n_columns, squeeze=False)
    for row_axes, row, row_kinds in zip(axes, rows, kinds):
        scales = {}
        if share_scale:
            segments = options.get("segments")
            for panel_kind in set(row_kinds) - {"outline"}:
                values = [scale_values(item, panel_kind, segments) for item, k in zip(row, row_kinds)
                          if k == panel_kind]
                scale = color_scale(values, options.get("colormap"), options.get("vmin"), options.get("vmax"))
                scales[panel_kind] = {"vmin": scale.vmin, "vmax": scale.vmax}
        offset = int(bool(show_image))
        if show_image:
            _show_image(row_axes[0], display_image(row[0].image, "explanation.image"))
            row_axes[0].set_title(f"image {height}\u00d7{width}" if row is rows[0] else "image", fontsize=9)
        for column, (item, panel_kind) in enumerate(zip(row, row_kinds)):
            panel_options = {**options, **scales.get(panel_kind, {})}
            panel_options.setdefault("title", describe_explanation(item, settings=True))
            plot(item, kind=panel_kind, ax=row_axes[offset + column], **panel_options)
        for ax in row_axes[offset + len(row):]:
            ax.set_axis_off()
    return figure
