"""Checks of images, batches and segment label arrays, against what a model takes."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .scalars import describe

__all__ = ["check_image", "check_images", "shape_of", "check_segments"]


def _as_numeric_array(value: Any, name: str) -> np.ndarray:
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a numeric array; got {describe(value)}")
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):  # tf.Tensor and friends
        value = value.numpy()
    try:
        array = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} must be a numeric array; got {describe(value)} ({exc})") from None
    if array.dtype == bool:
        array = array.astype(np.uint8)
    if array.dtype.kind not in "uif":
        raise TypeError(f"{name} must be a numeric array (uint8 or float); got dtype {array.dtype}")
    return array


def _check_finite(array: np.ndarray, name: str) -> None:
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s); every pixel must be finite")


def check_image(image: Any, name: str = "image", channels: Sequence[int] = (1, 3, 4)) -> np.ndarray:
    """Validate one image and return it as a new (H, W, C) array (dtype kept).

    Accepts (H, W) grayscale and (H, W, C) with C in ``channels``.
    """
    array = _as_numeric_array(image, name)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3:
        raise ValueError(f"{name} must have shape (H, W) or (H, W, C); got shape {array.shape}")
    if array.shape[0] < 1 or array.shape[1] < 1:
        raise ValueError(f"{name} must not be empty; got shape {array.shape}")
    if array.shape[2] not in channels:
        raise ValueError(f"{name} must have {' or '.join(map(str, channels))} channels; got shape {array.shape}")
    _check_finite(array, name)
    return np.array(array, copy=True)


def shape_of(value: Any) -> tuple:
    """The shape of what the user passed (an array, a tensor, a nested list), for error messages."""
    shape = getattr(value, "shape", None)
    if shape is not None:
        try:
            return tuple(None if d is None else int(d) for d in shape)
        except (TypeError, ValueError):
            pass
    try:
        return tuple(np.shape(value))
    except Exception:  # ragged lists: no shape to report
        return ()


def _channel_words(channels: Sequence[int]) -> str:
    """``1 channel``, ``3 channels``, ``1 or 3 or 4 channels``."""
    return " or ".join(map(str, channels)) + (" channel" if tuple(channels) == (1,) else " channels")


def _rank3_is_single(shape: tuple, allowed: tuple, known: bool, batch: bool | None, name: str) -> bool:
    """Whether a rank-3 array is one (H, W, C) image (True) or a batch of (N, H, W) grayscale images (False)."""
    first, last = shape[0], shape[-1]
    # (C, H, W) as PyTorch lays images out: a channel count first, a long axis last
    channels_first = first in allowed and first != 1 and last > 4
    move = f"np.moveaxis({name if name.isidentifier() else 'image'}, 0, -1)"
    takes = _channel_words(allowed) + (" for this model" if known else "")
    if batch is True:
        if 1 not in allowed:
            raise ValueError(f"{name} of shape {shape}, read as a batch (batch=True, or a list of images), holds "
                             f"{first} grayscale images (N, H, W), but {name} must have {takes}; give a batch "
                             "as (N, H, W, C)")
        return False
    if last in allowed:
        return True
    if batch is False:
        hint = f"; it looks like one channels-first image (C, H, W): move its channels last with {move}" \
            if channels_first else ""
        raise ValueError(f"{name} must have {takes} (one image of shape (H, W, C)); got shape {shape}{hint}")
    if channels_first:
        if 1 in allowed:  # a batch of grayscale images reads it just as well: do not guess
            raise ValueError(
                f"{name} of shape {shape} is ambiguous: one channels-first image (C, H, W) or a batch of {first} "
                f"grayscale images (N, H, W)? For one image, move its channels last with {move}; for a batch, "
                f"pass batch=True or give it the shape {shape + (1,)}")
        raise ValueError(f"{name} of shape {shape} looks like one channels-first image (C, H, W), but images "
                         f"must be channels-last (H, W, C) with {takes}; move its channels last with {move}")
    if 1 in allowed and 0 < last <= 4:
        # a short last axis is a channel axis (gray + alpha, RGB, RGBA), not the width of N images
        raise ValueError(
            f"{name} of shape {shape} looks like one image with {last} channels, but {name} must have {takes}; "
            f"convert the image, or pass batch=True if it is a batch of {first} grayscale images of "
            f"{shape[1]}x{last} pixels")
    if 1 in allowed:
        return False
    raise ValueError(f"{name} must have {takes} (one image (H, W, C) or a batch (N, H, W, C)); got shape {shape}")


def _check_integer_input(array: np.ndarray, name: str, dtype: Any) -> None:
    """Values that the model's integer input dtype holds exactly: whole numbers within its range."""
    try:
        dtype = np.dtype(dtype)
    except TypeError:  # a TensorFlow-only dtype (bfloat16, ...): nothing numpy can check
        return
    if dtype.kind not in "iu" or array.size == 0:
        return
    info = np.iinfo(dtype)
    low, high = array.min(), array.max()
    if array.dtype.kind == "f":
        fractional = array != np.round(array)
        if np.any(fractional):
            example = array[fractional].flat[0]
            raise ValueError(
                f"{name} holds fractional values (e.g. {example:g}), but the model takes {dtype} input, which "
                f"would cut them to whole numbers; give whole numbers in {info.min}..{info.max} (images scaled to "
                "[0, 1] must be multiplied by 255 and rounded first)")
    if low < info.min or high > info.max:
        raise ValueError(f"{name} holds values in [{low:g}, {high:g}], but the model takes {dtype} input "
                         f"({info.min}..{info.max}); values outside that range would wrap around")


def check_images(images: Any, name: str = "images", channels: Sequence[int] | None = None,
                 batch: bool | None = None, dtype: Any = None) -> tuple[np.ndarray, bool]:
    """Validate one image or a batch; return ``(batch (N, H, W, C) float32 copy, was_single)``.

    Parameters
    ----------
    images : array_like
        One image (H, W) / (H, W, C), a batch (N, H, W) / (N, H, W, C), or a list of equally
        shaped images (always a batch).
    name : str
        The argument's name in error messages.
    channels : sequence of int, optional
        The channel counts the model takes (one, where its input spec says). None: unknown, any
        of 1, 3 or 4.
    batch : bool, optional
        Whether ``images`` is a batch; None decides from the shape (see Notes). Needed only for a
        rank-3 array that reads as both.
    dtype : str, optional
        The model's input dtype. An integer dtype (``uint8``) takes whole numbers in its range
        only: anything else would be changed by the cast, so it is refused.

    Returns
    -------
    batch : ndarray
        A float32 (N, H, W, C) copy: nothing the caller passed is changed.
    single : bool
        Whether one image was given (the caller then returns one result, not a list).

    Notes
    -----
    A rank-2 array is one grayscale image and a rank-4 array a batch. A rank-3 array is one
    (H, W, C) image when its last axis is a channel count the model takes (``channels``), and
    otherwise a batch of (N, H, W) grayscale images, where the model takes one channel, except
    that:

    - a short last axis (2 to 4) the model does not take, with a model taking one channel, looks
      like a colour image given to a grayscale model: refused, unless ``batch=True``;
    - a channel count first and a long last axis, (3, 224, 224), looks like a channels-first
      image: refused with the ``np.moveaxis`` that fixes it; and where it also reads as a batch
      of grayscale images (the channels are unknown, as for a plain callable), ``batch=True``
      must say so.
    """
    from_list = isinstance(images, (list, tuple))
    if from_list:
        if len(images) == 0:
            raise ValueError(f"{name} is an empty batch; give at least one image")
        shapes = {np.shape(item) for item in images}
        if len(shapes) != 1:
            raise ValueError(f"{name}: all images in a batch must have the same shape; got shapes {sorted(shapes)}")
        # a list of image arrays is a batch, whatever their shape; a nested list of numbers is one array
        from_list = all(hasattr(item, "shape") and len(item.shape) in (2, 3) for item in images)
    array = _as_numeric_array(images, name)
    given = tuple(array.shape)
    known = channels is not None
    allowed = tuple(int(c) for c in channels) if channels is not None else (1, 3, 4)
    if batch is not None:
        if not isinstance(batch, (bool, np.bool_)):
            raise TypeError(f"batch must be None, True or False; got {describe(batch)}")
        batch = bool(batch)
    if from_list:
        if batch is False:
            raise ValueError(f"{name} is a list of {len(images)} images, a batch, but batch=False was given")
        batch = True
    if array.ndim == 2:
        if batch:
            raise ValueError(f"{name} of shape {given} is one (H, W) grayscale image, but batch=True was given; "
                             "give a batch as (N, H, W) or (N, H, W, C)")
        single, array = True, array[None, :, :, None]
    elif array.ndim == 3:
        single = _rank3_is_single(given, allowed, known, batch, name)
        array = array[None] if single else array[..., None]
    elif array.ndim == 4:
        if batch is False:
            raise ValueError(f"{name} of shape {given} is a batch (N, H, W, C), but batch=False was given; "
                             "give one image as (H, W) or (H, W, C)")
        single = False
    else:
        raise ValueError(
            f"{name} must be one image (H, W) / (H, W, C) or a batch (N, H, W, C); got shape {given}"
        )
    if array.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch (shape {given}); give at least one image")
    if array.shape[1] < 1 or array.shape[2] < 1:
        raise ValueError(f"{name} has an empty spatial size; got shape {given}")
    if array.shape[-1] not in allowed:
        raise ValueError(f"{name} must have {_channel_words(allowed)}" + (" for this model" if known else "")
                         + f"; got shape {given}")
    _check_finite(array, name)
    if dtype is not None:
        _check_integer_input(array, name, dtype)
    return np.array(array, dtype=np.float32, copy=True), single


def check_segments(segments: Any, image_shape: tuple[int, ...], name: str = "segments") -> np.ndarray:
    """Validate a label image for an image of ``image_shape`` and relabel it to 0..K-1 (int32).

    The relabelling keeps the order of the original labels, so contiguous labels stay unchanged.
    """
    if isinstance(segments, (str, bytes)) or segments is None:
        raise TypeError(f"{name} must be an integer array of shape (H, W); got {describe(segments)}")
    array = np.asarray(segments)
    if array.dtype.kind not in "iub":
        if array.dtype.kind == "f" and np.all(np.isfinite(array)) and np.all(array == np.round(array)):
            array = array.astype(np.int64)
        else:
            raise TypeError(f"{name} must hold integer labels; got dtype {array.dtype}")
    if array.ndim != 2 or tuple(array.shape) != tuple(image_shape[:2]):
        raise ValueError(f"{name} must have shape {tuple(image_shape[:2])} (the image's H, W); got {array.shape}")
    _, labels = np.unique(array, return_inverse=True)
    return labels.reshape(array.shape).astype(np.int32)
