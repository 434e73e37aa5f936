"""`segment(image, method=...)`: superpixels from scikit-image (or a grid, or a user callable) as int32 labels 0..K-1."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .._validation import check_image, check_int, check_segments, describe

__all__ = ["segment", "display_image", "SEGMENTATION_METHODS"]

SEGMENTATION_METHODS = ("slic", "quickshift", "felzenszwalb", "watershed", "grid")


def display_image(image: Any, name: str = "image") -> np.ndarray:
    """A float RGB copy of ``image`` in [0, 1] for segmentation and display.

    Works for grayscale, RGB and RGBA (alpha dropped), uint8, floats in [0, 1] or [0, 255], and
    model-preprocessed ranges (e.g. [-1, 1] or mean-subtracted), which are min-max rescaled.
    The caller's array is never modified.
    """
    array = check_image(image, name)
    if array.shape[2] == 4:
        array = array[:, :, :3]
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    if array.dtype == np.uint8:
        return array.astype(np.float64) / 255.0
    array = array.astype(np.float64)
    low, high = float(array.min()), float(array.max())
    if low >= 0.0 and high <= 1.0:
        return array
    if low >= 0.0 and high <= 255.0:  # a 0..255 image stored as float or int
        return array / 255.0
    if high == low:
        return np.zeros_like(array)
    return (array - low) / (high - low)


def _grid(shape: tuple[int, int], n_segments: int) -> np.ndarray:
    """A regular grid of about ``n_segments`` cells shaped like the image."""
    height, width = shape
    rows = max(1, int(round(np.sqrt(n_segments * height / width))))
    cols = max(1, int(round(n_segments / rows)))
    rows, cols = min(rows, height), min(cols, width)
    row_index = (np.arange(height) * rows) // height
    col_index = (np.arange(width) * cols) // width
    return (row_index[:, None] * cols + col_index[None, :]).astype(np.int32)


def segment(image: Any, method: str | Callable = "slic", **options: Any) -> np.ndarray:
    """Split an image into superpixels: (H, W) int32 labels ``0..K-1``, contiguous, deterministic.

    Parameters
    ----------
    image : array_like
        (H, W) or (H, W, C) with C in {1, 3, 4}, any dtype and value range; segmentation runs on a
        display-normalised copy (see :func:`display_image`).
    method : {"slic", "quickshift", "felzenszwalb", "watershed", "grid"} or callable
        ``"slic"`` (default): scikit-image's SLIC with ``n_segments=50``, ``compactness=10``,
        ``sigma=1``, ``start_label=0`` and any other of its keyword arguments.
        ``"quickshift"``: ``kernel_size=4, max_dist=200, ratio=0.2`` (lime's defaults).
        ``"felzenszwalb"``: ``scale=100, sigma=0.5, min_size=50``.
        ``"watershed"``: compact watershed on the Sobel gradient, ``markers=50``,
        ``compactness=0.001``.
        ``"grid"``: a regular grid of about ``n_segments`` cells (a segmentation-free baseline).
        A callable ``image -> labels`` is called on the display-normalised copy.
    **options
        Passed to the scikit-image function (or the callable).

    Returns
    -------
    ndarray, shape (H, W), int32

    Examples
    --------
    >>> from skimage import data
    >>> from superexplain.segmentation import segment
    >>> labels = segment(data.chelsea(), n_segments=30)
    >>> labels.shape, labels.dtype, int(labels.min()), int(labels.max()) + 1 == len(set(labels.ravel()))
    ((300, 451), dtype('int32'), 0, True)
    """
    rgb = display_image(image)
    shape = rgb.shape[:2]
    if callable(method):
        labels = method(rgb, **options)
        return check_segments(labels, shape, name="segmentation callable's result")
    if not isinstance(method, str) or method not in SEGMENTATION_METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, SEGMENTATION_METHODS))} or a callable; "
                         f"got {describe(method)}")
    from skimage import segmentation as skseg

    if method == "grid":
        n_segments = check_int(options.pop("n_segments", 50), "n_segments", 1)
        if options:
            raise TypeError(f"grid segmentation takes only n_segments; got {sorted(options)}")
        return _grid(shape, n_segments)
    if method == "slic":
        params = {"n_segments": 50, "compactness": 10.0, "sigma": 1.0, "start_label": 0}
        params.update(options)
        check_int(params["n_segments"], "n_segments", 1)
        labels = skseg.slic(rgb, channel_axis=-1, **params)
    elif method == "quickshift":
        params = {"kernel_size": 4, "max_dist": 200, "ratio": 0.2, "rng": 0}
        params.update(options)
        labels = skseg.quickshift(rgb, channel_axis=-1, **params)
    elif method == "felzenszwalb":
        params = {"scale": 100, "sigma": 0.5, "min_size": 50}
        params.update(options)
        labels = skseg.felzenszwalb(rgb, channel_axis=-1, **params)
    else:  # watershed
        from skimage.color import rgb2gray
        from skimage.filters import sobel

        params = {"markers": 50, "compactness": 0.001}
        params.update(options)
        labels = skseg.watershed(sobel(rgb2gray(rgb)), **params)
    return check_segments(labels, shape)
