"""Masked images: hidden superpixels take a hide image's pixels, copied exactly by a bitwise select."""
from __future__ import annotations

from typing import Any

import numpy as np

from .._memory import aligned_empty
from .._validation import describe

__all__ = ["SegmentMasker", "blend"]


def _select_bits(differ: np.ndarray, hide_bits: np.ndarray, select: np.ndarray, index: np.ndarray,
                 shape: tuple[int, ...], out: np.ndarray | None = None) -> np.ndarray:
    """Exact per-value choice between two float32 images, driven by rows of 0/-1 selectors.

    ``differ`` is ``image ^ hide`` and ``hide_bits`` the hide image, both as flat int32 bit
    patterns of length H*W*C; ``select`` has shape (b, L), 0 (hide) or -1 (keep, every bit set);
    ``index`` (H*W*C,) says which of the L selectors drives each value. The result,
    ``hide ^ (differ & selector)``, is ``image`` where kept and ``hide`` elsewhere, bit for bit.

    Everything runs on flat, contiguous rows: a select broadcast over a trailing channel axis of
    3 runs numpy's inner loop 3 values at a time and measured 3x slower. ``out``, if given, is a
    C-contiguous float32 array of shape (b,) + ``shape`` to write into.
    """
    if out is None:
        result = aligned_empty((select.shape[0],) + tuple(shape), np.float32)
    else:
        if out.dtype != np.float32 or out.shape != (select.shape[0],) + tuple(shape) or not out.flags.c_contiguous:
            raise ValueError(f"out must be a C-contiguous float32 array of shape {(select.shape[0],) + tuple(shape)}; "
                             f"got {describe(out)}")
        result = out
    out = result.reshape(select.shape[0], index.size).view(np.int32)
    # mode="wrap" skips the bounds check that makes np.take with out= buffer its result; the
    # callers guarantee index < L
    np.take(select, index, axis=1, out=out, mode="wrap")
    out &= differ
    out ^= hide_bits
    return result


def _bit_planes(image: np.ndarray, hide: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(image ^ hide, hide)`` as flat int32 bit patterns, ``hide`` broadcast to the image's shape."""
    image = np.ascontiguousarray(image, dtype=np.float32)
    hide = np.ascontiguousarray(np.broadcast_to(np.asarray(hide, dtype=np.float32), image.shape))
    hide_bits = hide.view(np.int32).ravel()
    return image.view(np.int32).ravel() ^ hide_bits, hide_bits


def _selectors(keep: np.ndarray) -> np.ndarray:
    """Boolean rows -> int32 0 (False) or -1 (True, every bit set)."""
    return np.negative(np.ascontiguousarray(keep, dtype=bool).view(np.int8), dtype=np.int32)


def blend(image: np.ndarray, hide: np.ndarray, keep: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Images keeping ``image`` where ``keep`` is 1 and ``hide`` where it is 0 (soft in between).

    ``keep`` has shape (b, H, W); boolean masks copy pixels exactly, float masks blend
    ``image * keep + hide * (1 - keep)`` (float32 ``image``). Returns (b, H, W, C) float32,
    written into ``out`` (a C-contiguous float32 array of that shape) where given, as
    :class:`SegmentMasker` does: a batch loop then reuses one array instead of allocating a
    batch (and, for float masks, two batch-sized temporaries) per call. The values are the same
    bits either way.

    Examples
    --------
    >>> import numpy as np
    >>> image, hide = np.ones((1, 2, 1), np.float32), np.zeros((1, 2, 1), np.float32)
    >>> out = np.empty((2, 1, 2, 1), np.float32)
    >>> blend(image, hide, np.array([[[0.25, 1.0]], [[0.0, 0.5]]], np.float32), out=out)[..., 0].tolist()
    [[[0.25, 1.0]], [[0.0, 0.5]]]
    """
    shape = (len(keep),) + tuple(np.shape(image))
    if out is not None and (not isinstance(out, np.ndarray) or out.dtype != np.float32 or out.shape != shape
                            or not out.flags.c_contiguous):
        raise ValueError(f"out must be a C-contiguous float32 array of shape {shape}; got {describe(out)}")
    if keep.dtype == bool:
        # a bitwise select on the float32 bit patterns: copies each pixel exactly, and measured
        # several times faster than copyto-where or np.where, which matters on a CPU where the
        # model already takes every core
        height, width, channels = np.shape(image)
        differ, hide_bits = _bit_planes(image, hide)
        pixels = np.repeat(np.arange(height * width, dtype=np.intp), channels)
        return _select_bits(differ, hide_bits, _selectors(keep.reshape(len(keep), -1)), pixels, np.shape(image),
                            out)
    keep = keep[..., None].astype(np.float32, copy=False)
    if out is None:
        out = image * keep
        out += hide * (1.0 - keep)
        return out
    # one image at a time: the same element-wise operations as above, so the same bits, with
    # temporaries of one image rather than of the batch
    for row, weights in zip(out, keep):
        np.multiply(image, weights, out=row)
        row += hide * (1.0 - weights)
    return out


class SegmentMasker:
    """Builds masked images from segment masks: hidden segments take the ``hide`` image's pixels.

    Parameters
    ----------
    image, hide : ndarray, shape (H, W, C), float32
        ``hide`` may also be anything that broadcasts to the image (a colour, a number).
    segments : ndarray, shape (H, W), int labels 0..K-1

    Notes
    -----
    The bit planes of ``image`` and ``hide`` and each value's segment are prepared once, so a
    batch of masks costs one gather of its (b, K) selectors and two bitwise passes; 1000 masks
    of a 64x64 RGB image took about 16 ms on a 2-core CI machine (the select broadcast over
    channels this replaced took 24-44 ms).

    Examples
    --------
    >>> import numpy as np
    >>> masker = SegmentMasker(np.ones((2, 2, 1), np.float32), np.array([[0, 1], [1, 1]]),
    ...                        np.zeros((2, 2, 1), np.float32))
    >>> masker(np.array([[True, False]]))[0, :, :, 0]
    array([[1., 0.],
           [0., 0.]], dtype=float32)
    """

    def __init__(self, image: np.ndarray, segments: np.ndarray, hide: np.ndarray) -> None:
        self.image = np.asarray(image, dtype=np.float32)
        self.hide = np.asarray(hide, dtype=np.float32)
        self.segments = np.asarray(segments, dtype=np.intp)
        self.n_segments = int(self.segments.max()) + 1 if self.segments.size else 0
        self._differ, self._hide_bits = _bit_planes(self.image, self.hide)
        # each value's segment, channels innermost: (H*W*C,)
        self._value_segments = np.repeat(self.segments.ravel(), self.image.shape[-1])

    def __call__(self, masks: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """The masked images, (b, H, W, C) float32; written into ``out`` (C-contiguous float32 of
        that shape) where given, else into a new array."""
        masks = np.asarray(masks, dtype=bool)
        if masks.ndim != 2 or masks.shape[1] < self.n_segments:
            raise ValueError(f"masks must have shape (b, {self.n_segments}), one column per segment; "
                             f"got shape {masks.shape}")
        return _select_bits(self._differ, self._hide_bits, _selectors(masks), self._value_segments,
                            self.image.shape, out)
