"""Numbers for tuning superpixels: how many segments a setting produced and how big they are."""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .._validation import check_segments, describe

__all__ = ["SegmentStats", "count_segments", "segment_sizes", "segment_stats", "segment_means"]


def _labels(labels: Any, name: str = "labels") -> np.ndarray:
    """A validated (H, W) label image relabelled to 0..K-1."""
    if isinstance(labels, (str, bytes)) or labels is None:
        raise TypeError(f"{name} must be an integer array of shape (H, W); got {describe(labels)}")
    shape = np.shape(labels)
    if len(shape) != 2:
        raise ValueError(f"{name} must be a 2-D label image (H, W); got shape {shape}")
    if 0 in shape:
        raise ValueError(f"{name} must not be empty; got shape {shape}")
    return check_segments(labels, shape, name)


class SegmentStats(NamedTuple):
    """What :func:`segment_stats` returns; sizes are in pixels.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.segmentation import segment_stats
    >>> print(segment_stats(np.array([[0, 0, 1]])))
    2 segments, 2 px on average (1\u20132)
    """

    n_segments: int
    mean_size: float
    min_size: int
    max_size: int

    def __str__(self) -> str:
        return f"{self.n_segments} segments, {self.mean_size:.0f} px on average ({self.min_size}\u2013{self.max_size})"


def count_segments(labels: Any) -> int:
    """The number of distinct segments in a label image.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.segmentation import count_segments
    >>> count_segments(np.array([[0, 0, 5], [7, 7, 5]]))
    3
    """
    return int(np.unique(np.asarray(_labels(labels))).size)


def segment_sizes(labels: Any) -> np.ndarray:
    """Pixels per segment, ``(K,)`` int64, in the order of the (relabelled 0..K-1) labels.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.segmentation import segment_sizes
    >>> segment_sizes(np.array([[0, 0, 1], [2, 2, 2]])).tolist()
    [2, 1, 3]
    """
    return np.bincount(_labels(labels).ravel()).astype(np.int64)


def segment_stats(labels: Any) -> SegmentStats:
    """Number of segments and their mean, smallest and largest size in pixels.

    Use it to tune a segmentation before a slow perturbation run: too few segments give a coarse
    explanation, too many need more samples.

    Examples
    --------
    >>> from skimage import data
    >>> from superexplain.segmentation import segment, segment_stats
    >>> stats = segment_stats(segment(data.coffee(), "grid", n_segments=12))
    >>> stats.n_segments, stats.min_size > 0
    (12, True)
    """
    sizes = segment_sizes(labels)
    return SegmentStats(int(sizes.size), float(sizes.mean()), int(sizes.min()), int(sizes.max()))


def segment_means(values: Any, labels: Any) -> np.ndarray:
    """The mean of an (H, W) map over each segment, ``(K,)`` float64; of an (H, W, C) image, ``(K, C)``.

    This is how a pixel heatmap (e.g. Grad-CAM) becomes one number per superpixel, so that it can
    be shown and compared the way LIME's segment weights are; on an image it gives each
    superpixel's mean colour (LIME's default replacement for hidden superpixels).

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.segmentation import segment_means
    >>> segment_means(np.array([[1.0, 3.0], [5.0, 5.0]]), np.array([[0, 0], [1, 1]])).tolist()
    [2.0, 5.0]
    """
    label_image = _labels(labels)
    array = np.asarray(values, dtype=np.float64)
    if array.shape[:2] != label_image.shape or array.ndim not in (2, 3):
        raise ValueError(f"values must have the labels' shape {label_image.shape} (optionally with a channel "
                         f"axis); got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError("values contains NaN or infinite entries")
    flat = label_image.ravel()
    counts = np.bincount(flat)
    if array.ndim == 2:
        return np.bincount(flat, weights=array.ravel()) / counts
    pixels = array.reshape(flat.size, -1)
    return np.stack([np.bincount(flat, weights=pixels[:, c]) for c in range(pixels.shape[1])], axis=1) / counts[:, None]
