"""Planted-shapes images: textured backgrounds with one object whose shape is the class, and its true mask."""
from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np

from .._validation import check_int, check_random_state, describe

__all__ = ["CLASS_NAMES", "Shapes", "make_shapes", "texture_names"]

#: The classes of :func:`make_shapes`, in label order.
CLASS_NAMES = ("circle", "square", "triangle", "cross")

_TEXTURES = ("brick", "grass", "gravel", "camera", "moon")


class Shapes(NamedTuple):
    """What :func:`make_shapes` returns."""

    images: np.ndarray  #: (n, size, size, 3) float32 in [0, 1]
    labels: np.ndarray  #: (n,) int64 class index into CLASS_NAMES
    masks: np.ndarray  #: (n, size, size) bool, True on the planted object


def texture_names() -> tuple[str, ...]:
    """Names of the scikit-image sample images used as backgrounds (all ship with scikit-image)."""
    return _TEXTURES


@lru_cache(maxsize=None)
def _texture(name: str) -> np.ndarray:
    import skimage.data

    image = getattr(skimage.data, name)()
    return (image.astype(np.float32) / 255.0) if image.dtype == np.uint8 else image.astype(np.float32)


def _polygon(kind: str, radius: float, angle: float) -> np.ndarray:
    """Vertices (row, col) of a shape of the given circumradius, rotated by ``angle``, centred at 0."""
    if kind == "square":
        base = np.array([[-1, -1], [-1, 1], [1, 1], [1, -1]], dtype=float) * radius / np.sqrt(2)
    elif kind == "triangle":
        t = np.deg2rad([90.0, 210.0, 330.0])
        base = np.stack([-np.sin(t), np.cos(t)], axis=1) * radius
    elif kind == "cross":
        arm = radius / np.sqrt(1 + 0.35**2)  # keep the arm tips on the circumcircle
        w = 0.35 * arm
        base = np.array([[-arm, -w], [-arm, w], [-w, w], [-w, arm], [w, arm], [w, w], [arm, w], [arm, -w],
                         [w, -w], [w, -arm], [-w, -arm], [-w, -w]], dtype=float)
    else:  # pragma: no cover - guarded by the caller
        raise ValueError(kind)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return base @ rotation.T


def _object_mask(kind: str, size: int, centre: tuple[float, float], radius: float, angle: float) -> np.ndarray:
    from skimage.draw import disk, polygon

    mask = np.zeros((size, size), dtype=bool)
    if kind == "circle":
        rows, cols = disk(centre, radius * 0.85, shape=mask.shape)  # similar area to the polygons
    else:
        vertices = _polygon(kind, radius, angle) + np.asarray(centre)
        rows, cols = polygon(vertices[:, 0], vertices[:, 1], shape=mask.shape)
    mask[rows, cols] = True
    return mask


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    texture = _texture(_TEXTURES[rng.integers(len(_TEXTURES))])
    scale = rng.uniform(1.0, 3.0)  # crop a window larger than the image and shrink it: varied grain
    window = int(min(min(texture.shape[:2]) - 1, round(size * scale)))
    top = rng.integers(0, texture.shape[0] - window)
    left = rng.integers(0, texture.shape[1] - window)
    crop = texture[top:top + window, left:left + window]
    from skimage.transform import resize

    gray = resize(crop, (size, size), anti_aliasing=True, preserve_range=True).astype(np.float32)
    contrast = rng.uniform(0.3, 0.8)
    gray = (gray - gray.mean()) * contrast + rng.uniform(0.3, 0.7)
    tint = rng.uniform(0.5, 1.2, size=3).astype(np.float32)
    return gray[:, :, None] * tint[None, None, :]


def make_shapes(n: int, size: int = 64, seed: int | np.random.Generator | None = 0,
                min_radius: float | None = None, max_radius: float | None = None) -> Shapes:
    """Images of textured backgrounds with one planted object whose shape is the class.

    Each image shows a crop of a scikit-image texture (brick, grass, gravel, camera, moon),
    contrast-reduced and tinted, with one filled object -- a circle, square, triangle or cross
    (:data:`CLASS_NAMES`) -- of random size, position, rotation and colour. Because the label
    depends only on the object, the region a correct explanation must point at is known: it is
    returned as a mask.

    Parameters
    ----------
    n : int
        Number of images.
    size : int
        Height and width in pixels (at least 24).
    seed : int, Generator or None
        Seed for a ``numpy.random.Generator``; the same seed gives the same images.
    min_radius, max_radius : float, optional
        Object circumradius range in pixels (default ``size/8`` to ``size/4``).

    Returns
    -------
    Shapes
        ``images`` (n, size, size, 3) float32 in [0, 1], ``labels`` (n,) int64 and ``masks``
        (n, size, size) bool.

    Examples
    --------
    >>> from superexplain.datasets import make_shapes, CLASS_NAMES
    >>> data = make_shapes(4, size=32, seed=1)
    >>> data.images.shape, data.masks.shape, data.labels.shape
    ((4, 32, 32, 3), (4, 32, 32), (4,))
    >>> bool(all(data.masks[i].any() for i in range(4)))
    True
    """
    n = check_int(n, "n", 1)
    size = check_int(size, "size", 24)
    rng = check_random_state(seed, "seed")
    lo = size / 8 if min_radius is None else float(min_radius)
    hi = size / 4 if max_radius is None else float(max_radius)
    if not 2 <= lo <= hi <= size / 2 - 1:
        raise ValueError(f"need 2 <= min_radius <= max_radius <= size/2 - 1; got {describe((lo, hi))}")
    images = np.empty((n, size, size, 3), dtype=np.float32)
    masks = np.empty((n, size, size), dtype=bool)
    labels = rng.integers(0, len(CLASS_NAMES), size=n)
    for i in range(n):
        background = _background(rng, size)
        radius = rng.uniform(lo, hi)
        centre = (rng.uniform(radius + 1, size - radius - 1), rng.uniform(radius + 1, size - radius - 1))
        mask = _object_mask(CLASS_NAMES[labels[i]], size, centre, radius, rng.uniform(0, 2 * np.pi))
        # Object colour: far enough from the background's mean brightness to be visible.
        base = float(background.mean())
        level = rng.uniform(0.0, max(base - 0.25, 0.05)) if base > 0.5 else rng.uniform(min(base + 0.25, 0.95), 1.0)
        colour = np.clip(level * rng.uniform(0.6, 1.4, size=3), 0.0, 1.0).astype(np.float32)
        image = np.where(mask[:, :, None], colour[None, None, :], background)
        image = image + rng.normal(0.0, 0.02, size=image.shape).astype(np.float32)
        images[i] = np.clip(image, 0.0, 1.0)
        masks[i] = mask
    return Shapes(images, labels.astype(np.int64), masks)
