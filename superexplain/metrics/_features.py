"""Feature spaces for the metrics: pixels or superpixels, per-feature attributions, masked batches scored in bulk."""
from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_choice, check_int, check_segments, describe
from ..explanation import Explanation

__all__ = [
    "attribution_density",
    "feature_labels",
    "feature_attributions",
    "substrate_image",
    "score_masks",
]


def attribution_density(explanation: Any, shape: tuple[int, int], name: str = "explanation") -> np.ndarray:
    """A float64 (H, W) map whose sum over any pixel set is the attribution of that set.

    A perturbation explanation (segments and weights) gives each pixel ``weight / segment size``,
    so that summing over a superpixel returns the method's own weight; any other explanation or a
    raw (H, W) map is taken as a per-pixel attribution.
    """
    if isinstance(explanation, Explanation):
        if explanation.segments is not None and explanation.weights is not None:
            segments = explanation.segments
            sizes = np.bincount(segments.ravel(), minlength=explanation.weights.size).astype(np.float64)
            density = explanation.weights[segments] / np.maximum(sizes[segments], 1.0)
        else:
            density = explanation.heatmap.astype(np.float64)
    else:
        if isinstance(explanation, (str, bytes)) or explanation is None:
            raise TypeError(f"{name} must be an Explanation or an (H, W) map; got {describe(explanation)}")
        density = np.asarray(explanation, dtype=np.float64)
        if density.ndim == 3 and density.shape[2] in (1, 3, 4):
            density = density.sum(axis=2)  # per-channel attribution: a pixel's attribution is its channel sum
    if density.shape != tuple(shape):
        raise ValueError(
            f"{name} must be a map of the image's size {tuple(shape)}; got a map of shape {density.shape} "
            "(was it computed on a different image size?)"
        )
    if not np.all(np.isfinite(density)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return density


def feature_labels(features: str, image: np.ndarray, segments: Any = None) -> np.ndarray:
    """(H, W) int32 labels 0..K-1: one per pixel for ``"pixels"``, superpixels for ``"segments"``.

    For ``"segments"`` the given ``segments`` are used, else SLIC (50 segments) on the image.
    """
    check_choice(features, "features", ("segments", "pixels"))
    height, width = image.shape[:2]
    if features == "pixels":
        return np.arange(height * width, dtype=np.int32).reshape(height, width)
    if segments is None:
        from ..segmentation import segment

        return segment(image)
    return check_segments(segments, image.shape, "segments")


def feature_attributions(density: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The attribution of each feature: the density summed over its pixels, shape (K,)."""
    return np.bincount(labels.ravel(), weights=density.ravel(), minlength=int(labels.max()) + 1)


def substrate_image(value: Any, image: np.ndarray, name: str = "baseline") -> np.ndarray:
    """What removed pixels become: a number, a colour (C,), an image (H, W, C) or ``"blur"``."""
    if isinstance(value, str):
        if value != "blur":
            raise ValueError(f"{name} must be a number, a colour, an image-shaped array or 'blur'; got {value!r}")
        return blurred(image)
    if value is None or isinstance(value, bytes):
        raise TypeError(f"{name} must be a number, a colour, an image-shaped array or 'blur'; got {describe(value)}")
    array = np.asarray(value, dtype=np.float32)
    if array.ndim == 0 or (array.ndim == 1 and array.shape[0] == image.shape[2]) or array.shape == image.shape:
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{name} must be finite; got {describe(value)}")
        return np.broadcast_to(array, image.shape).astype(np.float32)
    raise ValueError(
        f"{name} must be a number, a colour of {image.shape[2]} channel(s) or an image of shape {image.shape}; "
        f"got {describe(value)}"
    )


def blurred(image: np.ndarray, sigma: float = 5.0, size: int = 11) -> np.ndarray:
    """RISE's insertion substrate: a Gaussian blur (kernel ``size``, ``sigma``) of each channel."""
    from .._blur import gaussian_blur

    # truncate = radius / sigma gives exactly a (2*radius+1)-wide kernel, as RISE's 11x11 / sigma 5.
    return gaussian_blur(image, sigma, mode="reflect", truncate=(size // 2) / sigma)


def score_masks(predictor, image: np.ndarray, labels: np.ndarray, keep: np.ndarray, substrate: np.ndarray,
                target: int, output: str, batch_size: int | None = None) -> np.ndarray:
    """The target's score for every keep-mask: (M,) for ``keep`` of shape (M, K) bool.

    Kept features show the image, the others the substrate. The masked images are built and
    scored by the perturbation engine, ``batch_size`` at a time (default: the predictor's), so
    memory stays bounded whatever M is.
    """
    from ..perturbation.masking import SegmentMasker
    from ..perturbation.engine import score_masks as score_engine_masks

    # the user's batch_size is a memory bound (a 224x224 model's batch of 256 takes gigabytes): never raised
    size = predictor.batch_size if batch_size is None else check_int(batch_size, "batch_size", 1)
    if keep.shape[0] == 0:
        return np.empty(0, dtype=np.float64)
    scores = score_engine_masks(predictor, SegmentMasker(image, labels, substrate), keep, size, output, verbose=0,
                                desc="metric")
    return scores[:, target].astype(np.float64)
