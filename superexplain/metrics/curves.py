"""RISE's deletion and insertion curves (Petsiuk et al., arXiv 1806.07421) and their normalised areas."""
from __future__ import annotations

from typing import Any

import numpy as np

from .._progress import progress
from .._validation import check_choice, check_float, check_int, seeded_rng
from ..models import as_predictor
from ._features import attribution_density, blurred, feature_attributions, feature_labels, \
    score_masks, substrate_image
from ._inputs import resolve_items, resolve_target
from .results import CurveResult

#: numpy's trapezoid rule: ``trapezoid`` from numpy 2.0, ``trapz`` before (TensorFlow < 2.18 needs numpy < 2)
_trapezoid = getattr(np, "trapezoid", None) or getattr(np, "trapz")  # numpy 2's stubs have no trapz

__all__ = ["deletion", "insertion", "relevance_order"]


def relevance_order(attributions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Feature indices by decreasing attribution; ties in random order.

    Random tie-breaking keeps flat regions of a map (the zeros of a ReLU'd Grad-CAM) from being
    removed in raster order, which would favour whatever lies at the top of the image.
    """
    return np.lexsort((rng.random(attributions.size), -attributions))


def _curve(kind: str, model: Any, image: Any, explanation: Any, step: Any, substrate: Any, features: str,
           target: Any, segments: Any, score: str, random_state: Any, batch_size: int | None,
           verbose: int | bool, blur_sigma: float = 5.0, blur_size: int = 11) -> CurveResult:
    predictor = as_predictor(model)
    items, single, names = resolve_items(image, explanation, several_methods=False, predictor=predictor)
    rng, seed = seeded_rng(random_state)
    output, score_kind = predictor.output_for(score)
    check_choice(features, "features", ("segments", "pixels"))
    images, _ = predictor.check_images(np.stack([item.image for item in items]), "image")
    image_scores = predictor.predict(images, output=output, batch_size=batch_size, validate=False)
    fractions, curves, aucs, steps_used = [], [], [], []
    with progress(len(items), kind, verbose) as bar:
        for i, item in enumerate(items):
            (name, explained), = item.maps.items()
            item_segments = segments if segments is not None else item.explanation_segments()
            labels = feature_labels(features, images[i], item_segments)
            count = int(labels.max()) + 1
            item_step = int(np.ceil(count / 64)) if step is None else check_int(step, "step", 1, count)
            target_index = resolve_target(predictor, item, target, image_scores[i])
            density = attribution_density(explained, images[i].shape[:2])
            order = relevance_order(feature_attributions(density, labels), rng)
            changed = np.minimum(np.arange(0, count + item_step, item_step), count)
            changed = np.unique(changed)
            rank = np.empty(count, dtype=np.int64)
            rank[order] = np.arange(count)
            first_k = rank[None, :] < changed[:, None]  # (steps, K): the top-k features of each step
            if kind == "deletion":
                base = substrate_image(substrate, images[i])
                keep = ~first_k
            else:
                base = (blurred(images[i], blur_sigma, blur_size) if isinstance(substrate, str) and substrate == "blur"
                        else substrate_image(substrate, images[i], "substrate"))
                keep = first_k
            values = score_masks(predictor, images[i], labels, keep, base, target_index, output, batch_size)
            x = changed / count
            fractions.append(x)
            curves.append(values)
            aucs.append(float(_trapezoid(values, x)))
            steps_used.append(item_step)
            bar.update()
    params = {"features": features, "score_kind": score_kind, "seed": seed,
              "step": steps_used[0] if single else steps_used,
              "substrate": substrate if isinstance(substrate, (int, float, str)) else "array"}
    if kind == "insertion" and isinstance(substrate, str):
        params.update(blur_sigma=blur_sigma, blur_size=blur_size)
    return CurveResult(kind=kind, fractions=fractions, scores=curves, aucs=np.asarray(aucs),
                       method=names[0], params=params)


def deletion(model: Any, image: Any, explanation: Any = None, step: int | None = None, baseline: Any = 0.0,
             features: str = "pixels", target: Any = None, *, segments: Any = None, score: str = "probability",
             random_state: Any = None, batch_size: int | None = None, verbose: int | bool = 0) -> CurveResult:
    """RISE's deletion curve: remove features by decreasing attribution; a low area is better.

    Features (pixels, all channels, or superpixels) are set to ``baseline`` ``step`` at a time,
    in order of decreasing attribution, and the target's score is recorded after each step,
    starting from the intact image; the area under the curve over x in [0, 1] (trapezoid) is the
    metric. A good explanation makes the score fall fast.

    Parameters
    ----------
    model : keras.Model, path, callable or Predictor
    image : array_like, dataset or None
        One image, a batch, None (use the Explanation's image), or a dataset with ``.pairs()`` /
        a directory of Explanation files (then ``.aucs`` holds one area per image).
    explanation : Explanation, (H, W) map, or a list (one per image)
    step : int, optional
        Features changed per step (default: ceil(features / 64), at most 65 points; RISE used 224
        pixels per step on 224x224 images).
    baseline : float, colour, image or "blur"
        What removed pixels become (RISE: 0 in the network's normalised space).
    features : {"pixels", "segments"}
    target : int or str, optional
        Default: the explanation's target, else the model's top class.
    segments : (H, W) int array, optional
        Superpixels for ``features="segments"`` (default: the explanation's own, else SLIC).
    score : {"probability", "logit"}
        RISE scores the probability (the model's output); "logit" uses pre-softmax scores.
    random_state : int, Generator or None
        Breaks ties in the attribution order.
    batch_size : int, optional
        Images per model call, at most (default: the predictor's, 64 unless set there): the
        bound on memory, which a large model's batches need.
    verbose : int or bool
        Progress bar over images.

    Returns
    -------
    CurveResult
        ``.fractions``, ``.scores``, ``.aucs``, ``.auc``, ``.interval`` and ``.plot()``.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.metrics import deletion
    >>> kept = lambda x: ((x != 0).mean(axis=(1, 2, 3)) ** 2)[:, None]
    >>> result = deletion(kept, np.ones((10, 10, 1)), np.zeros((10, 10)), step=10, target=0, random_state=0)
    >>> round(result.auc, 6) == round(1 / 3 + 1 / 600, 6)   # trapezoid of (1 - x)^2 on 10 intervals
    True
    """
    return _curve("deletion", model, image, explanation, step, baseline, features, target, segments, score,
                  random_state, batch_size, verbose)


def insertion(model: Any, image: Any, explanation: Any = None, step: int | None = None, substrate: Any = "blur",
              features: str = "pixels", target: Any = None, *, segments: Any = None, score: str = "probability",
              blur_sigma: float = 5.0, blur_size: int = 11, random_state: Any = None,
              batch_size: int | None = None, verbose: int | bool = 0) -> CurveResult:
    """RISE's insertion curve: reveal features by decreasing attribution on a blurred copy; a high area is better.

    Starts from ``substrate`` (RISE: a Gaussian blur of the image, kernel 11, sigma 5) and copies
    the original features back ``step`` at a time, most relevant first, recording the target's
    score after each step; the metric is the trapezoid area over x in [0, 1].

    Parameters
    ----------
    model, image, explanation, step, features, target, segments, score, random_state
        As in :func:`deletion`.
    substrate : "blur", float, colour or image
        The starting image.
    blur_sigma, blur_size : float, int
        The Gaussian blur's sigma and kernel width (``mode="reflect"`` at the borders, where
        RISE's convolution pads with zeros).

    Returns
    -------
    CurveResult

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.metrics import insertion
    >>> shown = lambda x: (x == 1).mean(axis=(1, 2, 3))[:, None]   # fraction of original pixels
    >>> result = insertion(shown, np.ones((8, 8, 1)), np.zeros((8, 8)), step=4, substrate=0.0, target=0,
    ...                    random_state=0)
    >>> round(result.auc, 6)
    0.5
    """
    check_float(blur_sigma, "blur_sigma", 0.0, strict=True)
    blur_size = check_int(blur_size, "blur_size", 1)
    return _curve("insertion", model, image, explanation, step, substrate, features, target, segments, score,
                  random_state, batch_size, verbose, blur_sigma=float(blur_sigma), blur_size=blur_size)
