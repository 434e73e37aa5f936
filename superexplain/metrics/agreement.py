"""Similarity of two explanations: Spearman, top-k overlap, SSIM and HOG, per pixel and per superpixel."""
from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_float, check_segments, describe
from ..explanation import Explanation
from ._features import attribution_density, feature_attributions
from .map_results import AgreementResult

__all__ = ["agreement", "similarity", "SIMILARITIES"]

#: The similarity measures of Adebayo et al. (arXiv 1810.03292), by name.
SIMILARITIES = ("spearman_abs", "spearman", "ssim", "hog")


def _rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import rankdata

    a, b = np.ravel(a), np.ravel(b)
    constant_a, constant_b = np.ptp(a) == 0, np.ptp(b) == 0
    # A constant map ranks nothing: two of them agree fully, one against a real ranking shares nothing.
    if constant_a or constant_b:
        return 1.0 if constant_a and constant_b else 0.0
    ra, rb = rankdata(a), rankdata(b)
    ra -= ra.mean()
    rb -= rb.mean()
    return float(np.clip((ra * rb).sum() / np.sqrt((ra * ra).sum() * (rb * rb).sum()), -1.0, 1.0))


def _minmax(a: np.ndarray) -> np.ndarray:
    span = np.ptp(a)
    return np.zeros_like(a, dtype=np.float64) if span == 0 else (a - a.min()) / span


def _ssim(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    a, b = _minmax(a.astype(np.float64)), _minmax(b.astype(np.float64))
    side = min(a.shape)
    if side >= 11:  # Adebayo et al.: Gaussian-weighted SSIM (sigma 1.5, an 11-pixel window)
        return float(structural_similarity(a, b, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                           use_sample_covariance=False))
    window = side if side % 2 else side - 1
    if window < 3:
        raise ValueError(f"SSIM needs maps of at least 3x3 pixels; got {a.shape}")
    return float(structural_similarity(a, b, data_range=1.0, win_size=window))


def _hog(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.feature import hog

    cell = 16 if min(a.shape) >= 48 else max(2, min(a.shape) // 3)  # Adebayo: 16x16 cells
    options = {"pixels_per_cell": (cell, cell), "cells_per_block": (1, 1), "feature_vector": True}
    return _rank_correlation(hog(_minmax(a), **options), hog(_minmax(b), **options))


def similarity(a: Any, b: Any, measure: str = "spearman_abs") -> float:
    """One similarity between two (H, W) maps (or Explanations' heatmaps).

    ``"spearman_abs"``: Spearman rank correlation of the absolute values; ``"spearman"``: of the
    signed values; ``"ssim"``: SSIM of the min-max normalised maps; ``"hog"``: Spearman of their
    HOG features -- the four measures of Adebayo et al. (arXiv 1810.03292). A constant map has no
    ranking: against a non-constant map its rank correlations are 0, against another constant map 1.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.metrics.agreement import similarity
    >>> a = np.random.default_rng(0).normal(size=(16, 16))
    >>> similarity(a, -a, "spearman"), similarity(a, -a, "spearman_abs")
    (-1.0, 1.0)
    """
    a = _heat(a, "a")
    b = _heat(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"the two maps must have the same shape; got {a.shape} and {b.shape}")
    if measure == "spearman_abs":
        return _rank_correlation(np.abs(a), np.abs(b))
    if measure == "spearman":
        return _rank_correlation(a, b)
    if measure == "ssim":
        return _ssim(a, b)
    if measure == "hog":
        return _hog(a, b)
    raise ValueError(f"measure must be one of {', '.join(map(repr, SIMILARITIES))}; got {measure!r}")


def _heat(value: Any, name: str) -> np.ndarray:
    if isinstance(value, Explanation):
        return value.heatmap.astype(np.float64)
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be an Explanation or an (H, W) map; got {describe(value)}")
    array = np.asarray(value, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name} must be an (H, W) map; got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def _top_k_overlap(a: np.ndarray, b: np.ndarray, fraction: float) -> float:
    k = max(1, int(np.ceil(fraction * a.size)))
    top_a = np.argsort(-a.ravel(), kind="stable")[:k]
    top_b = np.argsort(-b.ravel(), kind="stable")[:k]
    return float(np.intersect1d(top_a, top_b).size / k)


def _measures(a: np.ndarray, b: np.ndarray, fraction: float, spatial: bool = True) -> dict:
    out = {"spearman": _rank_correlation(a, b), "spearman_abs": _rank_correlation(np.abs(a), np.abs(b)),
           "topk": _top_k_overlap(a, b, fraction)}
    if spatial:
        out["ssim"] = _ssim(a, b)
    return out


def agreement(expl_a: Any, expl_b: Any, segments: Any = None, top_fraction: float = 0.1) -> AgreementResult:
    """Do two explanations of the same image agree? Rank, top-k and structural similarity.

    At pixel level the two heatmaps are compared directly. Per superpixel, each explanation's
    attribution is summed over every segment (a perturbation explanation contributes its own
    weights) and the segment values are compared; their SSIM is taken on the maps painted with
    the per-segment values. This is the comparison behind "do gradient and perturbation agree?".

    Parameters
    ----------
    expl_a, expl_b : Explanation or (H, W) map
    segments : (H, W) int array, optional
        Superpixels for the per-segment comparison. Default: the segments of ``expl_a`` or
        ``expl_b`` (perturbation explanations carry them), else SLIC on the explanation's image;
        no per-segment comparison for two raw maps without ``segments``.
    top_fraction : float
        The top-k overlap uses k = ceil(top_fraction x features) (pixels or segments).

    Returns
    -------
    AgreementResult
        ``.pixel`` and ``.segment`` dicts with ``spearman``, ``spearman_abs``, ``topk``, ``ssim``.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.metrics import agreement
    >>> a = np.random.default_rng(0).normal(size=(12, 12))
    >>> result = agreement(a, 2 * a + 1, segments=np.arange(144).reshape(12, 12) // 12)
    >>> result.pixel["spearman"], result.segment["topk"]
    (1.0, 1.0)
    """
    fraction = check_float(top_fraction, "top_fraction", 0.0, 1.0, strict=True)
    a, b = _heat(expl_a, "expl_a"), _heat(expl_b, "expl_b")
    if a.shape != b.shape:
        raise ValueError(f"expl_a and expl_b must be maps of the same image size; got {a.shape} and {b.shape}")
    pixel = _measures(a, b, fraction)
    labels = None
    if segments is not None:
        labels = check_segments(segments, a.shape, "segments")
    else:
        for item in (expl_a, expl_b):
            if isinstance(item, Explanation) and item.segments is not None:
                labels = item.segments
                break
        else:
            image = next((e.image for e in (expl_a, expl_b) if isinstance(e, Explanation)), None)
            if image is not None:
                from ..segmentation import segment

                labels = segment(image)
    segment_level = None
    if labels is not None:
        values_a = feature_attributions(attribution_density(expl_a, a.shape, "expl_a"), labels)
        values_b = feature_attributions(attribution_density(expl_b, b.shape, "expl_b"), labels)
        segment_level = _measures(values_a, values_b, fraction, spatial=False)
        segment_level["ssim"] = _ssim(values_a[labels], values_b[labels])
    names = tuple(e.method if isinstance(e, Explanation) else "map" for e in (expl_a, expl_b))
    return AgreementResult(pixel=pixel, segment=segment_level, names=names, params={"top_fraction": fraction})
