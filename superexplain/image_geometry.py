"""Image geometry between a photo and the model's input: maps explained at the model's size, drawn at the photo's.

Image files reach a model through a plain resize to its input size (:func:`superexplain.image_files.read_image`,
bilinear, no crop and no letterbox), so a map over the model's input goes back over the photo through the
inverse plain resize: bilinear for values, nearest for superpixel labels. Nothing here changes a number
the library computed; it only resamples maps for drawing.
"""
from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["resize_map", "resize_labels", "to_photo"]


def resize_map(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A float map (H, W) resized (bilinear) to ``size`` = (height, width); float32 out.

    Examples
    --------
    >>> resize_map(np.ones((2, 2)), (3, 5)).shape
    (3, 5)
    >>> float(resize_map(np.full((4, 4), 0.25), (8, 2)).max())
    0.25
    """
    from PIL import Image

    values = np.asarray(values, dtype=np.float32)
    if values.shape == tuple(size):
        return values.copy()
    resized = Image.fromarray(values, mode="F").resize((int(size[1]), int(size[0])), Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.float32)


def resize_labels(labels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Integer labels (H, W) resized (nearest) to ``size`` = (height, width): no label is invented.

    Examples
    --------
    >>> resize_labels(np.array([[0, 1]]), (2, 4)).tolist()
    [[0, 0, 1, 1], [0, 0, 1, 1]]
    """
    labels = np.asarray(labels)
    height, width = labels.shape
    rows = np.minimum((np.arange(size[0]) + 0.5) * height / size[0], height - 1).astype(int)
    cols = np.minimum((np.arange(size[1]) + 0.5) * width / size[1], width - 1).astype(int)
    return labels[rows[:, None], cols[None, :]]


def to_photo(explanation, photo: np.ndarray):
    """The explanation drawn over ``photo`` (H, W, C) at the photo's own size and aspect, for plots.

    The explanation was computed on the photo resized to the model's input; its heatmap and
    attribution go back through the inverse resize (bilinear) and its superpixels through nearest
    neighbours, so the weights still belong to the same segments. The feature map keeps its own
    resolution (plots upsample it from the heatmap's geometry anyway).

    Examples
    --------
    >>> from superexplain import Explanation
    >>> heatmap = np.zeros((4, 4)); heatmap[:, 2:] = 1.0                  # the right half is hot
    >>> e = Explanation(image=np.zeros((4, 4, 3)), method="demo", target=0, heatmap=heatmap)
    >>> wide = to_photo(e, np.zeros((6, 12, 3)))
    >>> wide.image.shape, wide.heatmap.shape, float(wide.heatmap[:, 9:].min()), float(wide.heatmap[:, :3].max())
    ((6, 12, 3), (6, 12), 1.0, 0.0)
    """
    size = tuple(photo.shape[:2])
    if size == tuple(explanation.image.shape[:2]):
        return dataclasses.replace(explanation, image=photo)
    changes = {"image": photo, "heatmap": resize_map(explanation.heatmap, size)}
    if explanation.segments is not None:
        changes["segments"] = resize_labels(explanation.segments, size).astype(explanation.segments.dtype)
    if explanation.attribution is not None:
        attribution = explanation.attribution  # (H, W, C)
        changes["attribution"] = np.stack([resize_map(attribution[..., c], size)
                                           for c in range(attribution.shape[2])], axis=-1)
    return dataclasses.replace(explanation, **changes)
