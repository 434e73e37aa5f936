"""Faithfulness checks: Bhatt's faithfulness correlation, AIX360's monotonicity, Nguyen's monotonicity correlation."""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .._progress import progress
from .._validation import check_int, describe, seeded_rng
from ..models import as_predictor
from ._features import attribution_density, feature_attributions, feature_labels, score_masks, \
    substrate_image
from ._inputs import resolve_items, resolve_target
from .agreement import _rank_correlation
from .score_results import ScoreResult
from .sensitivity import sensitivity_n

__all__ = ["faithfulness_correlation", "monotonicity", "monotonicity_correlation"]


def _subset_sizes(subset_size: Any):
    """``subset_size`` (a fraction in (0, 1] or a count) -> a callable feature count -> [n]."""
    if isinstance(subset_size, (bool, np.bool_)) or not isinstance(subset_size, numbers.Real):
        raise TypeError(f"subset_size must be a fraction in (0, 1] or an int count; got {describe(subset_size)}")
    if isinstance(subset_size, numbers.Integral):
        count = int(subset_size)
        if count < 1:
            raise ValueError(f"subset_size must be >= 1 feature; got {count}")
    elif not 0.0 < float(subset_size) <= 1.0:
        raise ValueError(f"subset_size must be a fraction in (0, 1] or an int count; got {subset_size!r}")

    def sizes(num_features: int) -> list[int]:
        if isinstance(subset_size, numbers.Integral):
            if int(subset_size) > num_features:
                raise ValueError(f"subset_size must be at most the number of features ({num_features}); "
                                 f"got {subset_size}")
            return [int(subset_size)]
        return [max(1, int(round(float(subset_size) * num_features)))]
    return sizes


def faithfulness_correlation(model: Any, image: Any, explanation: Any = None, *, subset_size: Any = 0.2,
                             num_subsets: int = 100, features: str = "segments", baseline: Any = 0.0,
                             target: Any = None, segments: Any = None, score: str = "logit",
                             random_state: Any = None, batch_size: int | None = None,
                             verbose: int | bool = 0) -> ScoreResult:
    """Faithfulness correlation: do the attributions of random subsets predict the output drops?

    Bhatt et al. (arXiv 2005.00631, Section 4.1): over ``num_subsets`` random subsets S of a fixed
    size, the Pearson correlation between ``sum_{i in S} a_i`` and ``f(x) - f(x with S set to the
    baseline)``, per image. It is Sensitivity-n (Ancona et al., arXiv 1711.06104) at a single n,
    computed by :func:`~superexplain.metrics.sensitivity_n`: several methods on one image share
    the same subsets.

    Parameters
    ----------
    model, image, explanation, features, baseline, target, segments, score, batch_size, verbose
        As for :func:`~superexplain.metrics.sensitivity_n` (one image, a batch, a dict of
        methods or a dataset; pixels or superpixels).
    subset_size : float or int
        The features removed per subset: a fraction in (0, 1] of the smallest feature count
        among the images (default 0.2, xplique's setting), or a count.
    num_subsets : int
        Random subsets per image (at least 2; Quantus's default is 100).
    random_state : int, Generator or None
        Seed for the subsets; recorded in ``params["seed"]``.

    Returns
    -------
    ScoreResult
        ``name="faithfulness_correlation"``, one correlation per image and method, higher is
        better; NaN where the sums or the drops are constant. ``params["subset_size"]`` is n.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.metrics import faithfulness_correlation
    >>> w = np.random.default_rng(1).normal(size=(8, 8, 1))
    >>> linear = lambda x: (x * w).sum(axis=(1, 2))
    >>> image = np.random.default_rng(2).random((8, 8, 1))
    >>> result = faithfulness_correlation(linear, image, (w * image)[:, :, 0], features="pixels",
    ...                                   num_subsets=20, random_state=0)
    >>> round(result.score, 6), result.params["subset_size"]
    (1.0, 13)
    """
    sensitivity = sensitivity_n(model, image, explanation, ns=_subset_sizes(subset_size), num_subsets=num_subsets,
                                features=features, baseline=baseline, target=target, segments=segments,
                                score=score, random_state=random_state, batch_size=batch_size, verbose=verbose)
    params = dict(sensitivity.params, subset_size=int(sensitivity.ns[0]),
                  num_features=sensitivity.num_features)
    values = {name: correlations[:, 0] for name, correlations in sensitivity.per_method.items()}
    return ScoreResult("faithfulness_correlation", values, higher_is_better=True, params=params)


def _prepared(model: Any, image: Any, explanation: Any, features: str, segments: Any, score: str,
              batch_size: int | None):
    """The predictor, items, method names, the images, their scores and each item's feature labels."""
    predictor = as_predictor(model)
    items, _, names = resolve_items(image, explanation, several_methods=True, predictor=predictor)
    output, score_kind = predictor.output_for(score)
    images, _ = predictor.check_images(np.stack([item.image for item in items]), "image")
    image_scores = predictor.predict(images, output=output, batch_size=batch_size, validate=False)
    labels = []
    for i, item in enumerate(items):
        if set(item.maps) != set(names):
            raise ValueError(f"image {i} has explanations {sorted(item.maps)}, expected {sorted(names)}")
        labels.append(feature_labels(features, item.image, segments if segments is not None
                                     else item.explanation_segments()))
    return predictor, items, names, output, score_kind, images, image_scores, labels


def _attributions(item, names, image, labels) -> dict:
    return {name: feature_attributions(attribution_density(item.maps[name], image.shape[:2],
                                                           f"explanation {name!r}"), labels) for name in names}


def monotonicity(model: Any, image: Any, explanation: Any = None, *, features: str = "segments",
                 baseline: Any = 0.0, target: Any = None, segments: Any = None, score: str = "probability",
                 random_state: Any = None, batch_size: int | None = None,
                 verbose: int | bool = 0) -> ScoreResult:
    """Monotonicity: does the score rise as features are added back in order of increasing attribution?

    Arya et al. (arXiv 1909.03012; AIX360's ``monotonicity_metric``): starting from the baseline
    image, the features are restored one at a time, in order of increasing (signed) attribution,
    and the target's score is recorded after each addition. AIX360 returns whether the n recorded
    scores never decrease; here the value is the fraction of the n - 1 consecutive steps where
    the score does not decrease (by more than 1e-6 times the largest score, float32 round-off),
    so 1 means monotone. Ties in the attributions keep the features' label order.

    Parameters
    ----------
    model, image, explanation, features, baseline, target, segments, batch_size, verbose
        As for :func:`~superexplain.metrics.sensitivity_n`. With ``features="pixels"`` there is
        one model call per pixel: use superpixels for real images.
    score : {"probability", "logit"}
        The model's output (AIX360 uses ``predict_proba``; default) or pre-softmax logits.
    random_state : int, Generator or None
        Unused (the check is deterministic); accepted for a uniform signature.

    Returns
    -------
    ScoreResult
        ``name="monotonicity"``, higher is better, NaN for fewer than two features.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.metrics import monotonicity
    >>> w = np.random.default_rng(1).random((4, 4, 1))      # positive weights
    >>> linear = lambda x: (x * w).sum(axis=(1, 2))
    >>> image = np.random.default_rng(2).random((4, 4, 1))
    >>> monotonicity(linear, image, (w * image)[:, :, 0], features="pixels").score
    1.0
    """
    seeded_rng(random_state)  # validated only: nothing is drawn
    predictor, items, names, output, score_kind, images, image_scores, labels = _prepared(
        model, image, explanation, features, segments, score, batch_size)
    values = {name: np.full(len(items), np.nan) for name in names}
    with progress(len(items) * len(names), "monotonicity", verbose) as bar:
        for i, item in enumerate(items):
            target_index = resolve_target(predictor, item, target, image_scores[i])
            substrate = substrate_image(baseline, images[i])
            count = int(labels[i].max()) + 1
            for name, attribution in _attributions(item, names, images[i], labels[i]).items():
                if count >= 2:
                    position = np.argsort(np.argsort(attribution, kind="stable"))  # 0 = least attributed
                    # row k keeps the k + 1 least attributed features: the image after the (k+1)-th addition
                    keep = np.arange(count)[:, None] >= position[None, :]
                    scores = score_masks(predictor, images[i], labels[i], keep, substrate, target_index, output,
                                         batch_size)
                    tolerance = 1e-6 * max(1.0, float(np.abs(scores).max()))
                    values[name][i] = float(np.mean(np.diff(scores) >= -tolerance))
                bar.update(1)
    params = {"features": features, "score_kind": score_kind,
              "baseline": baseline if isinstance(baseline, (int, float, str)) else "array"}
    return ScoreResult("monotonicity", values, higher_is_better=True, params=params)


def monotonicity_correlation(model: Any, image: Any, explanation: Any = None, *, features: str = "segments",
                             baseline: Any = "uniform", num_draws: int = 20, target: Any = None,
                             segments: Any = None, score: str = "probability", random_state: Any = None,
                             batch_size: int | None = None, verbose: int | bool = 0) -> ScoreResult:
    """Monotonicity correlation: are features with larger \\|attribution\\| the ones whose perturbation matters more?

    Nguyen & Martinez (arXiv 2007.07584, Section 3.2): the Spearman correlation between each
    feature's ``|a_i|`` and the expected squared change of the target's score when that feature
    alone is replaced by random values, ``e_i = mean_d (f(x with feature i from draw d) - f(x))^2``.
    With ``baseline="uniform"`` (the paper's) each of ``num_draws`` draws fills every pixel and
    channel with a value uniform in [min, max] of the image; with a fixed baseline (a number, a
    colour, an image or ``"blur"``) there is one draw and e_i is the squared drop of removing
    feature i alone (occlusion), whatever ``num_draws``. Every method on one image shares the draws.

    Parameters
    ----------
    model, image, explanation, features, target, segments, batch_size, verbose
        As for :func:`~superexplain.metrics.sensitivity_n`.
    baseline : "uniform", float, colour, image or "blur"
    num_draws : int
        Random draws per feature for ``baseline="uniform"`` (one model call per feature and draw).
    score : {"probability", "logit"}
    random_state : int, Generator or None
        Seed for the draws; recorded in ``params["seed"]``.

    Returns
    -------
    ScoreResult
        ``name="monotonicity_correlation"``, higher is better (1: the ranking of |a| is the
        ranking of the effects); NaN where either ranking is constant.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.metrics import monotonicity_correlation
    >>> w = np.random.default_rng(1).normal(size=(4, 4, 1))
    >>> linear = lambda x: (x * w).sum(axis=(1, 2))
    >>> image = np.random.default_rng(2).random((4, 4, 1))
    >>> monotonicity_correlation(linear, image, (w * image)[:, :, 0], features="pixels", baseline=0.0).score
    1.0
    """
    num_draws = check_int(num_draws, "num_draws", 1)
    rng, seed = seeded_rng(random_state)
    uniform = isinstance(baseline, str) and baseline == "uniform"
    predictor, items, names, output, score_kind, images, image_scores, labels = _prepared(
        model, image, explanation, features, segments, score, batch_size)
    draws = num_draws if uniform else 1
    values = {name: np.full(len(items), np.nan) for name in names}
    with progress(len(items) * draws, "monotonicity correlation", verbose) as bar:
        for i, item in enumerate(items):
            target_index = resolve_target(predictor, item, target, image_scores[i])
            count = int(labels[i].max()) + 1
            keep = ~np.eye(count, dtype=bool)  # row i: every feature but i shows the image
            squared = np.zeros(count)
            for _ in range(draws):
                substrate = (rng.uniform(images[i].min(), images[i].max(), images[i].shape).astype(np.float32)
                             if uniform else substrate_image(baseline, images[i]))
                scores = score_masks(predictor, images[i], labels[i], keep, substrate, target_index, output,
                                     batch_size)
                squared += (scores - float(image_scores[i, target_index])) ** 2
                bar.update(1)
            effects = squared / draws
            for name, attribution in _attributions(item, names, images[i], labels[i]).items():
                magnitude = np.abs(attribution)
                if count >= 2 and np.ptp(magnitude) > 0 and np.ptp(effects) > 0:
                    values[name][i] = _rank_correlation(magnitude, effects)
    params = {"features": features, "score_kind": score_kind, "seed": seed, "num_draws": draws,
              "baseline": baseline if isinstance(baseline, (int, float, str)) else "array"}
    return ScoreResult("monotonicity_correlation", values, higher_is_better=True, params=params)
