"""Overlay builders shared by every renderer: arrays in, RGBA arrays or line segments out."""
from __future__ import annotations

import numpy as np

from ._common import ColorScale

__all__ = [
    "select_segments",
    "heatmap_overlay",
    "block_overlay",
    "outline_pixels",
    "outline_lines",
    "blend",
]


def select_segments(values: np.ndarray, num_features: int | None = None, threshold: float = 0.0,
                    show_negative: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The segments a block or outline plot marks: ``(positive ids, negative ids)``, strongest first.

    Positive segments have a value above ``threshold``; with ``show_negative`` segments below
    ``-threshold`` compete too, ranked by absolute value (Python lime's ``get_image_and_mask``
    rule). ``num_features`` keeps only the strongest ones.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.plotting import select_segments
    >>> positive, negative = select_segments(np.array([0.5, -0.9, 0.1]), num_features=2, show_negative=True)
    >>> positive.tolist(), negative.tolist()
    ([0], [1])
    """
    values = np.asarray(values, dtype=np.float64)
    if show_negative:
        candidates = np.flatnonzero(np.abs(values) > threshold)
        order = candidates[np.argsort(-np.abs(values[candidates]), kind="stable")]
    else:
        candidates = np.flatnonzero(values > threshold)
        order = candidates[np.argsort(-values[candidates], kind="stable")]
    if num_features is not None:
        order = order[:num_features]
    return order[values[order] > 0], order[values[order] < 0]


def heatmap_overlay(heatmap: np.ndarray, scale: ColorScale, alpha_limit: float) -> np.ndarray:
    """(H, W, 4) colours of ``heatmap`` whose opacity grows with the value's strength.

    As in eli5's ``format_as_image``: values near "nothing" (0, or the bottom of a one-signed
    scale) are transparent so the image stays visible, the strongest reach ``alpha_limit``.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.plotting import heatmap_overlay
    >>> from superexplain.plotting._common import color_scale
    >>> heatmap = np.array([[0.0, 1.0, 2.0]])
    >>> heatmap_overlay(heatmap, color_scale([heatmap]), alpha_limit=0.5)[..., 3].tolist()
    [[0.0, 0.25, 0.5]]
    """
    overlay = scale.rgba(heatmap)
    overlay[..., 3] = alpha_limit * scale.strength(heatmap)
    return overlay


def block_overlay(labels: np.ndarray, values: np.ndarray, selected: np.ndarray, scale: ColorScale,
                  fill_alpha: float) -> np.ndarray:
    """(H, W, 4): the ``selected`` segments filled with their value's colour, the rest transparent.

    R lime's ``display = "block"``, filled by weight: colour and opacity both follow the value, so
    the strongest segments reach ``fill_alpha`` and many weak ones do not veil the image.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.plotting import block_overlay
    >>> from superexplain.plotting._common import color_scale
    >>> labels, weights = np.array([[0, 1, 2]]), np.array([1.0, 0.5, -1.0])
    >>> block_overlay(labels, weights, np.array([0, 1]), color_scale([weights]), 0.6)[..., 3].tolist()
    [[0.6, 0.3, 0.0]]
    """
    values = np.asarray(values, dtype=np.float64)
    colours = scale.rgba(values)
    colours[:, 3] = fill_alpha * scale.strength(values)
    overlay = colours[labels]
    overlay[..., 3] *= np.isin(labels, selected)
    return overlay


def outline_pixels(labels: np.ndarray, selected: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels of a selected segment that touch another segment or the image border.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.plotting import outline_pixels
    >>> outline_pixels(np.zeros((3, 3), int), np.array([0])).astype(int).tolist()
    [[1, 1, 1], [1, 0, 1], [1, 1, 1]]
    """
    inside = np.isin(labels, selected)
    padded = np.pad(labels, 1, mode="constant", constant_values=-1)
    centre = padded[1:-1, 1:-1]
    edge = ((padded[:-2, 1:-1] != centre) | (padded[2:, 1:-1] != centre)
            | (padded[1:-1, :-2] != centre) | (padded[1:-1, 2:] != centre))
    return inside & edge


def _runs(edges: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each row of a bool array, its runs of True: ``(row, start, stop)`` with stop exclusive."""
    padded = np.zeros((edges.shape[0], edges.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = edges
    steps = np.diff(padded, axis=1)
    rows, starts = np.nonzero(steps == 1)
    _, stops = np.nonzero(steps == -1)  # row-major order pairs each start with its stop
    return rows, starts, stops


def outline_lines(labels: np.ndarray, selected: np.ndarray | None = None) -> np.ndarray:
    """Pixel-edge boundaries as line segments ``(M, 2, 2)`` of ``(x, y)`` in imshow data coordinates.

    With ``selected=None``: every edge between two different segments (for superpixel plots).
    Otherwise: the closed outlines of the selected segments, image border included. Drawn as
    vector lines, boundaries stay thin whatever the image's resolution.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.plotting import outline_lines
    >>> outline_lines(np.array([[0, 1], [0, 1]])).tolist()
    [[[0.5, -0.5], [0.5, 1.5]]]
    """
    labels = np.asarray(labels)
    height, width = labels.shape
    # vertical edges sit at x = j - 0.5 between columns j-1 and j (j = 0..W), one per row
    vertical = np.zeros((height, width + 1), dtype=bool)
    vertical[:, 1:-1] = labels[:, 1:] != labels[:, :-1]
    horizontal = np.zeros((height + 1, width), dtype=bool)
    horizontal[1:-1, :] = labels[1:, :] != labels[:-1, :]
    if selected is not None:
        inside = np.isin(labels, selected)
        touches = np.zeros_like(vertical)
        touches[:, 1:] |= inside
        touches[:, :-1] |= inside
        vertical &= touches
        vertical[:, 0] |= inside[:, 0]
        vertical[:, -1] |= inside[:, -1]
        touches = np.zeros_like(horizontal)
        touches[1:, :] |= inside
        touches[:-1, :] |= inside
        horizontal &= touches
        horizontal[0, :] |= inside[0, :]
        horizontal[-1, :] |= inside[-1, :]
    column, start, stop = _runs(vertical.T)
    x = column - 0.5
    vertical_lines = np.stack([np.stack([x, start - 0.5], 1), np.stack([x, stop - 0.5], 1)], 1)
    row, start, stop = _runs(horizontal)
    y = row - 0.5
    horizontal_lines = np.stack([np.stack([start - 0.5, y], 1), np.stack([stop - 0.5, y], 1)], 1)
    return np.concatenate([vertical_lines, horizontal_lines]).astype(np.float64)


def blend(base: np.ndarray, overlay: np.ndarray) -> np.ndarray:
    """``overlay`` (H, W, 4) composited over the RGB ``base`` (H, W, 3), both floats in [0, 1]."""
    alpha = overlay[..., 3:4]
    return base * (1.0 - alpha) + overlay[..., :3] * alpha
