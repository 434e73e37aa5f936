"""Complexity of an explanation, model-free: the Gini sparseness and the entropy of its attributions."""
from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, Callable

import numpy as np

from .._validation import describe
from ..explanation import Explanation
from ._features import attribution_density, feature_attributions, feature_labels
from ._inputs import resolve_items
from .score_results import ScoreResult

__all__ = ["sparseness", "complexity"]


def _placeholder_image(explanation: Any) -> tuple[Any, bool]:
    """The Explanations' own images, or for raw maps a zero image of their size (only its shape is read)."""
    sample, count = explanation, None
    if isinstance(explanation, Mapping) and explanation:
        sample = next(iter(explanation.values()))
    if isinstance(sample, (list, tuple)) and sample:
        sample, count = sample[0], len(sample)
    if isinstance(sample, Explanation):
        column = next(iter(explanation.values())) if isinstance(explanation, Mapping) else [explanation]
        column = column if isinstance(column, (list, tuple)) else [column]
        return (column[0].image if count is None else np.stack([e.image for e in column])), False
    if not isinstance(sample, np.ndarray) or sample.ndim < 2:
        return None, False
    image = np.zeros(sample.shape[:2] + (1,), dtype=np.float32)
    return (image if count is None else np.repeat(image[None], count, axis=0)), True


def _per_feature(explanation: Any, features: str, segments: Any, image: Any) -> tuple[dict, bool, list]:
    """{method: [|attribution| per feature, one array per image]}, single-image flag, feature counts."""
    placeholder = False
    if isinstance(explanation, (list, tuple, Mapping)) and not explanation:
        raise ValueError("explanation is empty; give at least one explanation")
    own_images = isinstance(explanation, (list, tuple)) and all(isinstance(e, Explanation) for e in explanation)
    if image is None and explanation is not None and not isinstance(explanation, Explanation) and not own_images:
        image, placeholder = _placeholder_image(explanation)
        if image is None:
            raise TypeError("explanation must be an Explanation, an (H, W) map, or a list or dict of them; "
                            f"got {describe(explanation)}")
    items, single, names = resolve_items(image, explanation, several_methods=True)
    out: dict[str, list] = {name: [] for name in names}
    counts = []
    for i, item in enumerate(items):
        if set(item.maps) != set(names):
            raise ValueError(f"image {i} has explanations {sorted(item.maps)}, expected {sorted(names)}")
        item_segments = segments if segments is not None else item.explanation_segments()
        if features == "segments" and item_segments is None and placeholder:
            raise ValueError("features='segments' needs segments= (or image=, to compute SLIC superpixels) "
                             "when the explanations are raw maps")
        labels = feature_labels(features, item.image, item_segments)
        counts.append(int(labels.max()) + 1)
        for name in names:
            density = attribution_density(item.maps[name], item.image.shape[:2], f"explanation {name!r}")
            out[name].append(np.abs(feature_attributions(density, labels)))
    return out, single, counts


def _score(name: str, statistic: Callable, explanation: Any, features: str, segments: Any, image: Any,
           higher_is_better: bool) -> ScoreResult:
    per_method, single, counts = _per_feature(explanation, features, segments, image)
    values = {}
    for method, magnitudes in per_method.items():
        row = []
        for i, magnitude in enumerate(magnitudes):
            total = magnitude.sum()
            if magnitude.size < 2 or not total > 0:
                what = "is all zero" if magnitude.size >= 2 else "has a single feature"
                warnings.warn(f"{name}: the explanation {method!r} of image {i} {what}; its {name} is NaN",
                              RuntimeWarning, stacklevel=3)
                row.append(np.nan)
            else:
                row.append(statistic(magnitude / total))
        values[method] = np.array(row)
    params = {"features": features, "num_features": counts[0] if single else counts}
    return ScoreResult(name, values, higher_is_better=higher_is_better, params=params)


def _gini(share: np.ndarray) -> float:
    n = share.size
    ranks = np.arange(1, n + 1)
    usual = float(((2 * ranks - n - 1) * np.sort(share)).sum() / n)  # Hurley & Rickard's Gini, in [0, (n-1)/n]
    return usual * n / (n - 1)


def _entropy(share: np.ndarray) -> float:
    nonzero = share[share > 0]  # 0 log 0 = 0
    return float(-(nonzero * np.log(nonzero)).sum())


def sparseness(explanation: Any, *, features: str = "pixels", segments: Any = None,
               image: Any = None) -> ScoreResult:
    """Sparseness: the Gini index of the absolute attributions (1 = one feature holds everything).

    Chalasani et al. (arXiv 1810.06583) measure how concentrated an explanation is with the Gini
    index of \\|a\\| (as Quantus's ``Sparseness`` does). With the shares p_(1) <= ... <= p_(n) of
    ``|a_i| / sum |a|`` sorted ascending, the usual index is ``sum_k (2k - n - 1) p_(k) / n``, which
    reaches only (n - 1) / n for a one-hot map; it is multiplied here by n / (n - 1), so that a
    one-hot map scores exactly 1 and a constant map exactly 0 whatever n.

    Parameters
    ----------
    explanation : Explanation, (H, W) map, list or dict
        One explanation; a list (one per image); a dict ``{method: explanation or list}``; or, with
        ``image`` a dataset (``.pairs()`` or a directory of Explanation files), None.
    features : {"pixels", "segments"}
        Score the pixel map, or the attribution summed over each superpixel (the explanation's own
        segments, else ``segments``, else SLIC on ``image``).
    segments : (H, W) int array, optional
    image : array_like or dataset, optional
        Needed only for SLIC superpixels or a dataset; raw maps are otherwise scored alone.

    Returns
    -------
    ScoreResult
        ``name="sparseness"``, higher is sparser; NaN (with a RuntimeWarning) for an all-zero map.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.metrics import sparseness
    >>> one_hot = np.zeros((4, 4)); one_hot[1, 2] = 5.0
    >>> sparseness({"one-hot": one_hot, "flat": np.ones((4, 4))}).scores
    {'one-hot': 1.0, 'flat': 0.0}
    """
    return _score("sparseness", _gini, explanation, features, segments, image, higher_is_better=True)


def complexity(explanation: Any, *, features: str = "pixels", segments: Any = None,
               image: Any = None) -> ScoreResult:
    """Complexity: the entropy (in nats) of each feature's fractional contribution, lower is simpler.

    Bhatt et al. (arXiv 2005.00631, Section 4.3) define the fractional contribution of feature i as
    ``p_i = |a_i| / sum_j |a_j|`` and the complexity as its entropy ``-sum_i p_i log p_i``: 0 for a
    one-hot map, ``log(n)`` (recorded in ``params["max"]``) for a constant one.

    Parameters
    ----------
    explanation : Explanation, (H, W) map, list or dict
        As for :func:`sparseness`.
    features : {"pixels", "segments"}
    segments : (H, W) int array, optional
    image : array_like or dataset, optional

    Returns
    -------
    ScoreResult
        ``name="complexity"``, ``higher_is_better=False``; NaN (with a RuntimeWarning) for an
        all-zero map. ``params["max"]`` is log(n), per image when the feature counts differ.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.metrics import complexity
    >>> result = complexity(np.ones((4, 4)))
    >>> bool(np.isclose(result.score, np.log(16))), bool(np.isclose(result.params["max"], np.log(16)))
    (True, True)
    """
    result = _score("complexity", _entropy, explanation, features, segments, image, higher_is_better=False)
    counts = np.atleast_1d(result.params["num_features"])
    result.params["max"] = float(np.log(counts[0])) if np.all(counts == counts[0]) else np.log(counts).tolist()
    return result
