"""The random-logit test (Sixt et al., arXiv 1912.09818): does the map change when another class is explained?"""
from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_choice, seeded_rng
from ..metrics.agreement import SIMILARITIES
from ..metrics.agreement import similarity as map_similarity
from ..metrics.score_results import ScoreResult
from ._methods import explainer, image_targets, method_label

__all__ = ["random_logit"]


def random_logit(model: Any, images: Any, method: Any = "gradcam", *, similarity: str = "ssim", targets: Any = None,
                 random_state: Any = None, verbose: int | bool = 0, **method_options: Any) -> ScoreResult:
    """Similarity between the explanation of an image's class and that of a random other class.

    Sixt, Granz and Landgraf (arXiv 1912.09818, ICML 2020) show that several modified
    back-propagation methods produce nearly the same map whatever logit is explained: they
    explain the image, not the decision. Per image, the explanation of its predicted (or given)
    class is compared with the explanation of a class drawn uniformly among the OTHER classes.
    A class-sensitive method scores low; a method that ignores the class scores high (the
    ``"edge"`` control scores exactly 1). Lower is better.

    Parameters
    ----------
    model : keras.Model, path, callable or Predictor
        The model explained; it must have at least two classes.
    images : array_like
        One image (H, W, C) or a batch (N, H, W, C).
    method : str or callable
        A method name of :func:`superexplain.explain`, the control ``"edge"`` or a callable
        ``(model, images, targets=..., **options) -> list of Explanations or (H, W) maps``.
    similarity : {"ssim", "spearman_abs", "spearman", "hog"}
        How the two maps are compared (:func:`superexplain.metrics.similarity`); SSIM of the
        min-max normalised maps by default, as Sixt et al. (and Quantus's RandomLogit) use.
    targets : int, str or list, optional
        The class explained per image (default: its top class).
    random_state : int, Generator or None
        Seeds the random classes and the method (a seeded method uses the same seed for both
        explanations of an image); recorded in ``params["seed"]``.
    verbose : int or bool
        The method's progress bar.
    **method_options
        Passed to the method.

    Returns
    -------
    ScoreResult
        ``name="random_logit"``, ``values={method: (n_images,)}``, ``higher_is_better=False``;
        ``params["targets"]`` and ``params["random_classes"]`` hold the two classes of each image.

    Notes
    -----
    With ``rng = numpy.random.default_rng(seed)``: ``rng.integers(0, 2**31 - 1)`` seeds the method,
    then ``rng.integers(0, num_classes - 1, size=n_images)`` picks each image's other class k,
    taken as k + 1 where k >= the image's target (so the classes other than the target are
    equally likely). Both explanations of every image come from one explanation call.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.sanity import random_logit
    >>> images = np.random.default_rng(0).random((2, 16, 16, 3))
    >>> result = random_logit(lambda x: x.mean(axis=(1, 2)), images, "edge", random_state=0)
    >>> result.values["edge"].tolist(), result.higher_is_better
    ([1.0, 1.0], False)
    """
    from ..models import as_predictor

    predictor = as_predictor(model)
    batch, _ = predictor.check_images(images, "images")
    measure = check_choice(similarity, "similarity", SIMILARITIES)
    run = explainer(method)
    rng, seed = seeded_rng(random_state)
    method_seed = int(rng.integers(0, 2**31 - 1))
    target_list = image_targets(predictor, batch, targets)
    num_classes = predictor.num_classes
    if num_classes is None or num_classes < 2:
        raise ValueError(f"model must have at least two classes for the random-logit test; it has {num_classes}")
    others = rng.integers(0, num_classes - 1, size=len(batch))
    others = others + (others >= target_list)
    maps = run(predictor, np.concatenate([batch, batch]), np.concatenate([target_list, others]), method_seed,
               dict(method_options), verbose=verbose)
    if len(maps) != 2 * len(batch):
        raise ValueError(f"method {method_label(method)!r} must return one map per image; got {len(maps)} maps for "
                         f"{2 * len(batch)} images")
    values = [map_similarity(maps[i], maps[len(batch) + i], measure) for i in range(len(batch))]
    params = {"method": method_label(method), "similarity": measure, "seed": seed, "method_seed": method_seed,
              "targets": [int(t) for t in target_list], "random_classes": [int(k) for k in others]}
    return ScoreResult("random_logit", {params["method"]: np.array(values)}, higher_is_better=False, params=params)
