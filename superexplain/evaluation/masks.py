"""The masks `evaluate` localises against: a boolean array, or a directory of mask images matched by name."""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from .._validation import describe

__all__ = ["check_masks", "is_mask_directory"]


def is_mask_directory(masks: Any) -> bool:
    return isinstance(masks, (str, os.PathLike))


def _from_directory(folder: str, ids: list[str], shape: tuple) -> np.ndarray:
    """One mask per image: the file of ``folder`` with the image file's name (any extension), non-zero = object."""
    from ..image_files import find_images, read_image

    if not os.path.isdir(folder):
        raise ValueError(f"masks must be an array (N, H, W) or a directory of mask images; {folder!r} is not a "
                         "directory")
    by_name: dict[str, str] = {}
    for path in find_images([folder])[0]:
        name = os.path.splitext(os.path.basename(path))[0]
        if name in by_name:
            raise ValueError(f"masks: the directory {folder!r} holds two masks named {name!r} "
                             f"({os.path.basename(by_name[name])}, {os.path.basename(path)})")
        by_name[name] = path
    out = np.zeros((len(ids),) + tuple(shape), dtype=bool)
    for i, key in enumerate(ids):
        name = os.path.splitext(os.path.basename(str(key)))[0]
        if name not in by_name:
            raise ValueError(f"masks: no mask named {name}.* in {folder!r} for image {key!r}; every image needs "
                             "a mask file of the same name")
        mask = read_image(by_name[name], channels=1)[..., 0] > 0
        if mask.shape != tuple(shape):  # resized as the image was, but nearest: a mask stays a mask
            from PIL import Image

            picture = Image.fromarray(mask.astype(np.uint8) * 255)
            picture = picture.resize((shape[1], shape[0]), Image.Resampling.NEAREST)
            mask = np.asarray(picture) > 0
        out[i] = mask
    return out


def check_masks(masks: Any, count: int, shape: tuple, ids: list[str] | None = None) -> np.ndarray | None:
    """``masks`` as a new (count, H, W) bool array; a directory is read with the images' ``ids`` (file names).

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.evaluation.masks import check_masks
    >>> check_masks(np.ones((2, 4, 4), int), 2, (4, 4)).dtype
    dtype('bool')
    """
    if masks is None:
        return None
    if is_mask_directory(masks):
        if ids is None:
            raise ValueError("masks given as a directory need the images' file names: give images as files too")
        return _from_directory(os.fspath(masks), ids, shape)
    array = np.asarray(masks)
    if array.dtype.kind not in "biu" or (array.dtype.kind != "b" and not np.all(np.isin(array, (0, 1)))):
        raise TypeError(f"masks must be a boolean (or 0/1) array (N, H, W) or a directory; got {describe(masks)}")
    if array.shape != (count,) + tuple(shape):
        raise ValueError(f"masks must have shape {(count,) + tuple(shape)} (one mask per image, the images' size); "
                         f"got shape {array.shape}")
    return array.astype(bool)  # a copy: the caller's array is never touched
