"""What replaces a hidden superpixel: per-segment mean colour, a blurred copy, a constant colour or an image."""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .._blur import gaussian_blur
from .._validation import describe
from ..segmentation import segment_means

__all__ = ["hide_image", "describe_hide"]


def hide_image(image: np.ndarray, segments: np.ndarray | None, hide_color: Any = "mean",
               name: str = "hide_color") -> np.ndarray:
    """The (H, W, C) float32 image whose pixels replace the hidden ones.

    Parameters
    ----------
    image : ndarray, shape (H, W, C)
        The image being explained, in the model's input space.
    segments : ndarray, shape (H, W), or None
        Superpixel labels; needed for ``"mean"`` (without them ``"mean"`` is the image's mean colour).
    hide_color : "mean", "blur", number, sequence of C numbers, or array of shape (H, W[, C])
        ``"mean"``: each superpixel's own mean colour (lime's default, ``hide_color=None`` there).
        ``"blur"``: a Gaussian-blurred copy, sigma = max(H, W) / 20 pixels.
        A number or one value per channel: that colour everywhere (in the model's input space).
        An image-shaped array: used as is.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.arange(8, dtype=np.float32).reshape(2, 2, 2)
    >>> hide_image(image, np.array([[0, 0], [1, 1]]), "mean")[:, :, 0]
    array([[1., 1.],
           [5., 5.]], dtype=float32)
    >>> hide_image(image, None, (0.5, 1))[0, 0]
    array([0.5, 1. ], dtype=float32)
    """
    height, width, channels = image.shape
    if isinstance(hide_color, str):
        if hide_color == "mean":
            if segments is None:
                return np.broadcast_to(image.mean(axis=(0, 1), dtype=np.float64), image.shape).astype(np.float32)
            return segment_means(image, segments)[segments].astype(np.float32)
        if hide_color == "blur":
            return gaussian_blur(image, max(height, width) / 20.0)
        raise ValueError(f"{name} must be 'mean', 'blur', a number, one value per channel or an image-shaped "
                         f"array; got {hide_color!r}")
    if isinstance(hide_color, (bool, np.bool_)) or hide_color is None:
        raise TypeError(f"{name} must be 'mean', 'blur', a number, one value per channel or an image-shaped "
                        f"array; got {describe(hide_color)}")
    if isinstance(hide_color, numbers.Real):
        value = np.full(image.shape, float(hide_color), dtype=np.float32)
    else:
        try:
            array = np.asarray(hide_color, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be 'mean', 'blur', a number, one value per channel or an image-shaped "
                            f"array; got {describe(hide_color)}") from None
        if array.ndim == 1:
            if array.shape[0] not in (1, channels):
                raise ValueError(f"{name} must have one value per channel ({channels}) for this image; "
                                 f"got {array.shape[0]} values {tuple(array.tolist())}")
            value = np.broadcast_to(array, image.shape).astype(np.float32)
        elif array.shape in ((height, width), (height, width, channels), (height, width, 1)):
            value = np.broadcast_to(array.reshape(height, width, -1), image.shape).astype(np.float32)
        else:
            raise ValueError(f"{name} as an array must have the image's shape {image.shape} "
                             f"(or (H, W)); got shape {array.shape}")
    if not np.all(np.isfinite(value)):
        raise ValueError(f"{name} must be finite; got NaN or infinite values")
    return value


def describe_hide(hide_color: Any) -> Any:
    """A JSON-like record of ``hide_color`` for ``params`` (arrays are recorded as ``"array"``)."""
    if isinstance(hide_color, str):
        return hide_color
    if isinstance(hide_color, numbers.Real):
        return float(hide_color)
    array = np.asarray(hide_color)
    return [float(v) for v in array] if array.ndim == 1 else "array"
