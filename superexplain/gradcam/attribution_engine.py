"""The engine of the pixel-attribution methods: :func:`run_attribution`, the driver every method module calls.

Saliency, gradient x input, integrated gradients, SmoothGrad, VarGrad and guided backpropagation
are option sets of :func:`run_attribution`: it checks the options, resolves the targets, has
:func:`superexplain.gradcam.input_gradients.accumulate_attributions` sum the gradients, and builds
the Explanations. The method modules hold only their documented entry points.
"""
from __future__ import annotations

import warnings
from typing import Any, cast

import numpy as np

from .._validation import check_choice, check_int, describe, image_random_states, resolve_seed
from ..explanation import Explanation
from ..models.score_targets import use_score_target
from ._baselines import baselines_for, integration_points
from .input_gradients import accumulate_attributions, input_gradient_function

__all__ = ["run_attribution", "COMMON_PARAMETERS_DOC", "COMPLETENESS_TOLERANCE", "PIXELS_PER_CALL"]

#: the relative completeness gap of integrated gradients above which a warning is raised
COMPLETENESS_TOLERANCE = 0.05
#: default cap on pixels per compiled gradient call: a backward pass keeps every activation, and on
#: CPUs large batches of large images run slower per image (MobileNetV2 at 224: 64 rows ~1.8x slower
#: per row than 8); 2**19 pixels gives 8 images of 224 x 224 and leaves 64x64 images at 64 rows
PIXELS_PER_CALL = 2**19


def _check_bool(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {describe(value)}")
    return bool(value)


def _heatmap(attribution: np.ndarray, absolute: bool, reduce: str) -> np.ndarray:
    values = np.abs(attribution) if absolute else attribution
    return values.max(axis=-1) if reduce == "max" else values.sum(axis=-1)


def run_attribution(method: str, predictor, images, *, targets, top_labels, random_state, verbose, score,
                    batch_size, absolute, reduce, base: str, steps: int = 50, rule: str = "riemann_middle",
                    baseline: Any = None, blur_sigma: float = 5.0, noise_level: float | None = None,
                    num_samples: int = 1, variance: bool = False) -> list[Explanation]:
    """Explanations of ``method`` (its name in ``Explanation.method`` and the progress bar): the ``base``
    attribution (saliency, gradient_input, integrated_gradients or guided_backprop), averaged over
    ``num_samples`` noisy copies when ``noise_level`` is given (its variance with ``variance=True``).

    The method modules' run functions document the options; this checks them, records ``params``,
    and warns where integrated gradients miss completeness by more than ``COMPLETENESS_TOLERANCE``.

    Examples
    --------
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> from superexplain.models import as_predictor
    >>> e = run_attribution("saliency", as_predictor(load_demo_model()), make_shapes(1, seed=0).images,
    ...                     targets=None, top_labels=None, random_state=0, verbose=0, score="logit",
    ...                     batch_size=None, absolute=True, reduce="max", base="saliency")[0]
    >>> e.method, e.heatmap.shape
    ('saliency', (64, 64))
    """
    check_choice(score, "score", ["logit", "probability"])
    check_choice(reduce, "reduce", ["sum", "max"])
    absolute = _check_bool(absolute, "absolute")
    if batch_size is None:  # a power of two: on CPU, MobileNetV2 ran faster per row in calls of 8 than of 10
        cap = max(1, min(predictor.batch_size, PIXELS_PER_CALL // (images.shape[1] * images.shape[2])))
        batch_size = 1 << (cap.bit_length() - 1)
    batch_size = check_int(batch_size, "batch_size", 1)
    if noise_level is None:  # records the seed only
        generators, seeds = None, [resolve_seed(random_state)] * len(images)
    else:  # one Generator per image (one shared stream unless random_state holds one seed per image)
        generators, seeds = image_random_states(random_state, len(images))
    guided = base == "guided_backprop"
    predictor.score_function(score)  # plain callables: the TypeError first
    # a score function as target (superexplain.targets): its view of the model, class 0
    predictor, targets, finish = use_score_target(predictor, targets, top_labels)
    _, kind, guided_relus = input_gradient_function(predictor, score, guided)  # TypeError for callables
    params: dict[str, Any] = {"score_kind": kind, "batch_size": batch_size,
                              "absolute": absolute, "reduce": reduce}
    alphas, alpha_weights, baselines = np.ones(1), np.ones(1), None
    if base == "integrated_gradients":
        alphas, alpha_weights = integration_points(steps, rule)
        params.update(steps=int(steps), rule=rule)
    if base in ("gradient_input", "integrated_gradients"):
        baselines, params["baseline"] = baselines_for(baseline, images, blur_sigma)
        if params["baseline"] == "blur" or (isinstance(params["baseline"], list) and "blur" in params["baseline"]):
            params["blur_sigma"] = float(blur_sigma)
        if base == "gradient_input":  # linear in the baseline: one gradient, the mean baseline
            baselines = baselines.mean(axis=1, keepdims=True, dtype=np.float64).astype(np.float32)
    if guided:
        params["guided_relus"] = guided_relus
        if guided_relus == 0:
            warnings.warn("guided backpropagation found no ReLU to rectify in the model; "
                          "the result equals the plain gradient", stacklevel=4)
    noise_scales = None
    if noise_level is not None:
        if variance and num_samples < 2:
            raise ValueError(f"num_samples must be >= 2 for a variance; got {num_samples}")
        ranges = images.reshape(len(images), -1)
        noise_scales = noise_level * (ranges.max(axis=1) - ranges.min(axis=1))
        params.update(base_method=base, noise_level=float(noise_level), num_samples=int(num_samples))

    scores, _ = predictor.scores(images, score, validate=False, batch_size=batch_size)
    resolved = predictor.resolve_targets(targets, scores, top_labels)
    jobs = [(i, t) for i, row in enumerate(resolved) for t in row]
    mean, var = accumulate_attributions(
        predictor, images, jobs, score=score, guided=guided, alphas=alphas, alpha_weights=alpha_weights,
        baselines=baselines, num_groups=num_samples, noise_scales=noise_scales, rng=generators,
        batch_size=batch_size, verbose=verbose, desc=method)
    attributions = cast(np.ndarray, var) if variance else mean  # variance needs num_samples >= 2: a variance

    gaps: list[float] | None = None
    if method == "integrated_gradients" and baselines is not None:  # integrated gradients have baselines
        flat = baselines.reshape((-1,) + images.shape[1:])
        baseline_scores, _ = predictor.scores(flat, score, validate=False, batch_size=batch_size)
        baseline_scores = baseline_scores.reshape(len(images), baselines.shape[1], -1).astype(np.float64).mean(axis=1)
        gaps = []
    explanations = []
    for j, (i, t) in enumerate(jobs):
        extra: dict[str, Any] = {}
        if gaps is not None:
            delta = float(scores[i, t]) - float(baseline_scores[i, t])
            gap = abs(float(mean[j].sum()) - delta)
            relative = gap / abs(delta) if delta != 0 else (0.0 if gap == 0 else float("inf"))
            gaps.append(relative)
            extra = {"baseline_score": float(baseline_scores[i, t]), "completeness_gap": gap,
                     "completeness_relative_gap": relative}
        explanations.append(Explanation(
            image=images[i], method=method, target=t, target_name=predictor.class_name(t),
            score=float(scores[i, t]), heatmap=_heatmap(attributions[j], absolute, reduce),
            attribution=attributions[j], params={**params, "seed": seeds[i], **extra}))
    if gaps:
        bad = [g for g in gaps if g > COMPLETENESS_TOLERANCE]
        if bad:
            warnings.warn(
                f"integrated gradients: for {len(bad)} of {len(gaps)} explanation(s) the attributions' sum "
                f"misses f(x) - f(baseline) by more than {COMPLETENESS_TOLERANCE:.0%} (worst {max(bad):.1%}); "
                f"increase steps (now {steps}). See params['completeness_relative_gap']",
                stacklevel=4)
    return finish(explanations)


#: The parameters every pixel-attribution method shares, ``%``-formatted into their docstrings.
COMMON_PARAMETERS_DOC = """
    predictor : Predictor
        The model, from :func:`superexplain.models.as_predictor` (a Keras model: gradients are taken).
    images : ndarray, shape (N, H, W, C)
        A validated float32 batch.
    targets, top_labels
        Which classes to explain (see :func:`superexplain.explain`).
    random_state : int, Generator, None or a sequence of int seeds
        Recorded in ``params["seed"]``. The noise of SmoothGrad/VarGrad is drawn from it, and they
        also take one int seed per image: each image then gets the result it gets alone with its seed.
    verbose : int or bool
        Show a progress bar.
    score : {"logit", "probability"}
        Differentiate the pre-softmax logit (default, as for Grad-CAM) or the model's output.
    batch_size : int, optional
        Rows (images x targets x steps x samples) per compiled call; default the predictor's batch
        size, capped at about 2**19 pixels per call and rounded down to a power of two (8 images of
        224 x 224).
"""
