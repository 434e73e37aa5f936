"""Sensitivity-n (Ancona et al., arXiv 1711.06104): do summed attributions of random subsets predict output drops?"""
from __future__ import annotations

from typing import Any

import numpy as np

from .._progress import progress
from .._validation import check_int, describe, seeded_rng
from ..models import as_predictor
from ._features import attribution_density, feature_attributions, feature_labels, score_masks, \
    substrate_image
from ._inputs import resolve_items, resolve_target
from .results import SensitivityResult

__all__ = ["sensitivity_n", "default_ns"]


def default_ns(num_features: int, points: int = 16) -> np.ndarray:
    """The default subset sizes: a rounded log-spaced grid from 1 to 80% of the features, unique.

    Examples
    --------
    >>> from superexplain.metrics.sensitivity import default_ns
    >>> default_ns(50).tolist()
    [1, 2, 3, 4, 6, 7, 9, 12, 15, 19, 24, 31, 40]
    """
    top = max(1, int(round(0.8 * num_features)))
    return np.unique(np.round(np.geomspace(1, top, points)).astype(int))


def _check_ns(ns: Any, num_features: int) -> np.ndarray:
    if ns is None:
        return default_ns(num_features)
    if callable(ns):  # sizes that depend on the feature count (faithfulness_correlation's fraction)
        ns = ns(num_features)
    values = np.atleast_1d(np.asarray(ns))
    if values.size == 0 or values.dtype.kind not in "iu" and not (
            values.dtype.kind == "f" and np.all(values == np.round(values))):
        raise TypeError(f"ns must be a sequence of ints (subset sizes); got {describe(ns)}")
    values = values.astype(int)
    if values.min() < 1 or values.max() > num_features:
        raise ValueError(f"ns must lie in 1..{num_features} (the number of features); got {values.tolist()}")
    return np.unique(values)


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    denominator = np.sqrt((a * a).sum() * (b * b).sum())
    # A constant attribution sum or a constant output has no linear relation to measure.
    if denominator <= 1e-12 * max(1.0, np.abs(a).max() * np.abs(b).max() * a.size):
        return float("nan")
    return float((a * b).sum() / denominator)


def sensitivity_n(model: Any, image: Any, explanation: Any = None, ns: Any = None, num_subsets: int = 100,
                  features: str = "segments", baseline: Any = 0.0, target: Any = None, *, segments: Any = None,
                  score: str = "logit", random_state: Any = None, batch_size: int | None = None,
                  verbose: int | bool = 0) -> SensitivityResult:
    """Sensitivity-n: Pearson correlation between summed attributions and output drops of random subsets.

    For every n, ``num_subsets`` subsets of n features are drawn uniformly at random and set to the
    baseline; the correlation between the attributions summed over each subset and the drop of
    the target's score, f(x) - f(x with the subset removed), is computed per image (Ancona et al.,
    arXiv 1711.06104, Section 4). A method that satisfies Sensitivity-n scores 1.

    Parameters
    ----------
    model : keras.Model, path, callable or Predictor
        The model explained (any input :func:`superexplain.models.as_predictor` accepts).
    image : array_like, dataset or None
        One image (H, W, C) or a batch (N, H, W, C); None to use the image stored in the
        Explanation(s); or a dataset -- anything with ``.pairs()`` yielding (image, explanation),
        such as a ``DatasetResult``, or a directory of Explanation files -- evaluated as a batch.
    explanation : Explanation, (H, W) map, list or dict
        One image: an explanation, or a list / dict ``{name: explanation}`` of several methods,
        evaluated on the *same* random subsets. A batch: a list with one explanation per image,
        or a dict ``{name: list}``.
    ns : sequence of int, optional
        Subset sizes, each in 1..number of features, or a callable (smallest feature count ->
        sizes). Default: :func:`default_ns` of the smallest feature count (16 log-spaced values
        from 1 to 80% of the features).
    num_subsets : int
        Random subsets per n (at least 2; the paper averages 1000 samples).
    features : {"segments", "pixels"}
        The features removed: superpixels (the explanation's own segments, else ``segments``, else
        SLIC with 50 segments) -- the fair space to compare LIME and Grad-CAM -- or single pixels
        (all channels). A pixel map is summed over each superpixel; a perturbation explanation's
        weight is spread evenly over its superpixel's pixels.
    baseline : float, colour, image or "blur"
        What removed features become (the paper: 0).
    target : int or str, optional
        The class scored (default: the explanation's target, else the model's top class).
    segments : (H, W) int array, optional
        Superpixels to use for ``features="segments"``.
    score : {"logit", "probability"}
        Pre-softmax logits (the paper's choice; default) or the model's output.
    random_state : int, Generator or None
        Seed for the subsets; recorded in ``params["seed"]``.
    batch_size : int, optional
        Images per model call, at most (default: the predictor's, 64 unless set there).
    verbose : int or bool
        Progress bar over (image, n) pairs.

    Returns
    -------
    SensitivityResult
        ``.ns``, ``.correlations``, ``.mean``, ``.summary()`` and ``.plot()``.

    Notes
    -----
    Correlations are computed per image and averaged afterwards (the paper's curves are per-image
    averages); an n at which the attribution sums or the drops are constant gives NaN.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.metrics import sensitivity_n, random_map
    >>> w = np.random.default_rng(1).normal(size=(16, 16, 1))
    >>> linear = lambda x: (x * w).sum(axis=(1, 2))
    >>> image = np.random.default_rng(2).random((16, 16, 1))
    >>> exact = (w * image)[:, :, 0]           # gradient x input of a linear model
    >>> result = sensitivity_n(linear, image, exact, features="pixels", num_subsets=30, random_state=0)
    >>> bool(np.all(result.correlations > 0.9999))
    True
    """
    predictor = as_predictor(model)
    items, single, names = resolve_items(image, explanation, several_methods=True, predictor=predictor)
    num_subsets = check_int(num_subsets, "num_subsets", 2)
    rng, seed = seeded_rng(random_state)
    output, score_kind = predictor.output_for(score)
    images, _ = predictor.check_images(np.stack([item.image for item in items]), "image")
    image_scores = predictor.predict(images, output=output, batch_size=batch_size, validate=False)
    labels_per_item = []
    for item in items:
        item_segments = segments if segments is not None else item.explanation_segments()
        labels_per_item.append(feature_labels(features, item.image, item_segments))
    counts = [int(labels.max()) + 1 for labels in labels_per_item]
    ns_values = _check_ns(ns, min(counts))
    per_method = {name: np.full((len(items), ns_values.size), np.nan) for name in names}
    with progress(len(items) * ns_values.size, "sensitivity-n", verbose) as bar:
        for i, (item, labels, count) in enumerate(zip(items, labels_per_item, counts)):
            if set(item.maps) != set(names):
                raise ValueError(f"image {i} has explanations {sorted(item.maps)}, expected {sorted(names)}")
            target_index = resolve_target(predictor, item, target, image_scores[i])
            substrate = substrate_image(baseline, images[i])
            attributions = {name: feature_attributions(attribution_density(item.maps[name], images[i].shape[:2],
                                                                           f"explanation {name!r}"), labels)
                            for name in names}
            # All subsets of all n for this image at once: one model pass, shared by every method.
            order = np.argsort(rng.random((ns_values.size * num_subsets, count)), axis=1)
            removed = np.zeros((ns_values.size * num_subsets, count), dtype=bool)
            sizes = np.repeat(ns_values, num_subsets)
            rows = np.repeat(np.arange(removed.shape[0]), sizes)
            columns = order[np.arange(order.shape[1])[None, :] < sizes[:, None]]
            removed[rows, columns] = True
            masked = score_masks(predictor, images[i], labels, ~removed, substrate, target_index, output, batch_size)
            drops = float(image_scores[i, target_index]) - masked
            for name in names:
                sums = removed.astype(np.float64) @ attributions[name]
                for j in range(ns_values.size):
                    block = slice(j * num_subsets, (j + 1) * num_subsets)
                    per_method[name][i, j] = _pearson(sums[block], drops[block])
            bar.update(ns_values.size)
    params = {"features": features, "num_subsets": num_subsets, "score_kind": score_kind, "seed": seed,
              "baseline": baseline if isinstance(baseline, (int, float, str)) else "array"}
    return SensitivityResult(ns=ns_values, per_method=per_method, single_image=single,
                             num_features=counts[0] if single else counts, params=params)
