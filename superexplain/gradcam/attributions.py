"""Pixel gradient attributions: saliency, gradient x input, integrated gradients, SmoothGrad, VarGrad, guided BP."""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .._validation import check_choice, check_float, check_int, describe, resolve_seed
from ..explanation import Explanation
from ._baselines import baselines_for, integration_points
from ._input_gradients import accumulate_attributions, input_gradient_function

__all__ = [
    "run_saliency",
    "run_gradient_input",
    "run_integrated_gradients",
    "run_smoothgrad",
    "run_vargrad",
    "run_guided_backprop",
    "integration_points",
]

BASE_METHODS = ("saliency", "gradient_input", "integrated_gradients", "guided_backprop")
#: the relative completeness gap of integrated gradients above which a warning is raised
COMPLETENESS_TOLERANCE = 0.05
#: default cap on pixels per compiled gradient call: a backward pass keeps every activation, and on
#: CPUs large batches of large images run slower per image (MobileNetV2 at 224: 64 rows ~1.8x slower
#: per row than 8); 2**19 pixels gives 8 images of 224 x 224 and leaves 64x64 images at 64 rows
PIXELS_PER_CALL = 2**19


# ---------------------------------------------------------------------------- options
def _check_bool(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {describe(value)}")
    return bool(value)


def _heatmap(attribution: np.ndarray, absolute: bool, reduce: str) -> np.ndarray:
    values = np.abs(attribution) if absolute else attribution
    return values.max(axis=-1) if reduce == "max" else values.sum(axis=-1)


# ---------------------------------------------------------------------------- the shared run
def _run(method: str, predictor, images, *, targets, top_labels, random_state, verbose, score, batch_size,
         absolute, reduce, base: str, steps: int = 50, rule: str = "riemann_middle", baseline: Any = None,
         blur_sigma: float = 5.0, noise_level: float | None = None, num_samples: int = 1,
         variance: bool = False) -> list[Explanation]:
    check_choice(score, "score", ["logit", "probability"])
    check_choice(reduce, "reduce", ["sum", "max"])
    absolute = _check_bool(absolute, "absolute")
    if batch_size is None:  # a power of two: on CPU, MobileNetV2 ran faster per row in calls of 8 than of 10
        cap = max(1, min(predictor.batch_size, PIXELS_PER_CALL // (images.shape[1] * images.shape[2])))
        batch_size = 1 << (cap.bit_length() - 1)
    batch_size = check_int(batch_size, "batch_size", 1)
    seed = resolve_seed(random_state)
    guided = base == "guided_backprop"
    _, kind, guided_relus = input_gradient_function(predictor, score, guided)  # TypeError for callables
    params: dict[str, Any] = {"score_kind": kind, "seed": seed, "batch_size": batch_size,
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
    noise_scales = rng = None
    if noise_level is not None:
        if variance and num_samples < 2:
            raise ValueError(f"num_samples must be >= 2 for a variance; got {num_samples}")
        rng = np.random.default_rng(seed) if seed is not None else random_state
        ranges = images.reshape(len(images), -1)
        noise_scales = noise_level * (ranges.max(axis=1) - ranges.min(axis=1))
        params.update(base_method=base, noise_level=float(noise_level), num_samples=int(num_samples))

    scores, _ = predictor.scores(images, score, validate=False, batch_size=batch_size)
    resolved = predictor.resolve_targets(targets, scores, top_labels)
    jobs = [(i, t) for i, row in enumerate(resolved) for t in row]
    mean, var = accumulate_attributions(
        predictor, images, jobs, score=score, guided=guided, alphas=alphas, alpha_weights=alpha_weights,
        baselines=baselines, num_groups=num_samples, noise_scales=noise_scales, rng=rng,
        batch_size=batch_size, verbose=verbose, desc=method)
    attributions = var if variance else mean

    gaps = None
    if method == "integrated_gradients":
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
            attribution=attributions[j], params={**params, **extra}))
    if gaps:
        bad = [g for g in gaps if g > COMPLETENESS_TOLERANCE]
        if bad:
            warnings.warn(
                f"integrated gradients: for {len(bad)} of {len(gaps)} explanation(s) the attributions' sum "
                f"misses f(x) - f(baseline) by more than {COMPLETENESS_TOLERANCE:.0%} (worst {max(bad):.1%}); "
                f"increase steps (now {steps}). See params['completeness_relative_gap']",
                stacklevel=4)
    return explanations


# ---------------------------------------------------------------------------- the methods
_COMMON_DOC = """
    predictor : Predictor
        The model, from :func:`superexplain.models.as_predictor` (a Keras model: gradients are taken).
    images : ndarray, shape (N, H, W, C)
        A validated float32 batch.
    targets, top_labels
        Which classes to explain (see :func:`superexplain.explain`).
    random_state : int, Generator or None
        Recorded in ``params["seed"]`` (the noise of SmoothGrad/VarGrad is drawn from it).
    verbose : int or bool
        Show a progress bar.
    score : {"logit", "probability"}
        Differentiate the pre-softmax logit (default, as for Grad-CAM) or the model's output.
    batch_size : int, optional
        Rows (images x targets x steps x samples) per compiled call; default the predictor's batch
        size, capped at about 2**19 pixels per call and rounded down to a power of two (8 images of
        224 x 224).
"""


def run_saliency(predictor, images, *, targets=None, top_labels=None, random_state=None, verbose=1,
                 score: str = "logit", absolute: bool = True, reduce: str = "max",
                 batch_size: int | None = None) -> list[Explanation]:
    """Saliency (Simonyan et al. 2013): the gradient of the target's score with respect to the input.

    ``attribution`` holds the signed gradient (H, W, C); ``heatmap`` is its absolute value's
    maximum over channels by default, as in the paper (``absolute``, ``reduce="max"|"sum"``).

    Parameters
    ----------%s    absolute : bool
        Take absolute values before reducing channels (default True).
    reduce : {"max", "sum"}
        How channels are combined into the heatmap (default ``"max"``).

    Returns
    -------
    list of Explanation

    Examples
    --------
    >>> import superexplain
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> e = superexplain.explain(load_demo_model(), make_shapes(1, seed=0).images[0], method="saliency", verbose=0)
    >>> e.attribution.shape, e.heatmap.shape
    ((64, 64, 3), (64, 64))
    """
    return _run("saliency", predictor, images, targets=targets, top_labels=top_labels, random_state=random_state,
                verbose=verbose, score=score, batch_size=batch_size, absolute=absolute, reduce=reduce,
                base="saliency")


def run_gradient_input(predictor, images, *, targets=None, top_labels=None, random_state=None, verbose=1,
                       score: str = "logit", baseline: Any = None, blur_sigma: float = 5.0,
                       absolute: bool = False, reduce: str = "sum",
                       batch_size: int | None = None) -> list[Explanation]:
    """Gradient x input (Shrikumar et al. 2016): ``grad f(x) * (x - baseline)`` per pixel and channel.

    For ReLU networks this equals epsilon-LRP with epsilon -> 0 (Ancona et al. 2018). The heatmap
    is the signed sum over channels.

    Parameters
    ----------%s    baseline : None, "zeros", "blur", number, colour, image or list
        Reference input (default zeros: plain gradient x input); a list is averaged (see
        :func:`run_integrated_gradients`).
    blur_sigma : float
        Gaussian sigma in pixels for ``baseline="blur"``.
    absolute, reduce
        Heatmap: absolute values first (default False) and ``"sum"`` (default) or ``"max"`` over channels.

    Examples
    --------
    >>> import superexplain
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> e = superexplain.explain(load_demo_model(), make_shapes(1, seed=0).images[0], method="gradient_input",
    ...                          verbose=0)
    >>> e.params["baseline"]
    'zeros'
    """
    return _run("gradient_input", predictor, images, targets=targets, top_labels=top_labels,
                random_state=random_state, verbose=verbose, score=score, batch_size=batch_size, absolute=absolute,
                reduce=reduce, base="gradient_input", baseline=baseline, blur_sigma=blur_sigma)


def run_integrated_gradients(predictor, images, *, targets=None, top_labels=None, random_state=None, verbose=1,
                             score: str = "logit", steps: int = 50, baseline: Any = None,
                             rule: str = "riemann_middle", blur_sigma: float = 5.0, absolute: bool = False,
                             reduce: str = "sum", batch_size: int | None = None) -> list[Explanation]:
    """Integrated gradients (Sundararajan et al. 2017): ``(x - b) * mean of grad f along b -> x``.

    The path integral is approximated with ``steps`` gradient evaluations (``steps + 1`` for the
    trapezoid rule), batched over images, targets and steps together. By completeness the
    attributions sum to ``f(x) - f(b)``; the gap is recorded in ``params["completeness_gap"]`` and
    ``params["completeness_relative_gap"]`` (relative to ``|f(x) - f(b)|``), and a warning is raised
    when the relative gap exceeds 5%%: use more steps.

    Parameters
    ----------%s    steps : int
        Number of integration intervals (default 50, as in Adebayo et al. 2018).
    baseline : None, "zeros", "blur", number, colour, image or list
        The reference ``b``: ``None``/``"zeros"``/``"black"`` (default), a number (every pixel),
        a colour (a list/tuple of C numbers), ``"blur"`` (each image Gaussian-blurred with
        ``blur_sigma``), an image (H, W, C) shared by all inputs, an array (N, H, W, C) with one
        baseline per input, or a list of these, whose attributions are averaged (``f(b)`` is then
        the mean of the baselines' scores).
    rule : {"riemann_middle", "riemann_left", "riemann_right", "trapezoid"}
        Quadrature rule; the midpoint rule (default) is second-order accurate at ``steps`` evaluations.
    blur_sigma : float
        Gaussian sigma in pixels for ``baseline="blur"``.
    absolute, reduce
        Heatmap: absolute values first (default False) and ``"sum"`` (default) or ``"max"`` over channels.

    Examples
    --------
    >>> import superexplain
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> e = superexplain.explain(load_demo_model(), make_shapes(1, seed=0).images[0],
    ...                          method="integrated_gradients", steps=64, verbose=0)
    >>> e.params["completeness_relative_gap"] < 0.05
    True
    """
    return _run("integrated_gradients", predictor, images, targets=targets, top_labels=top_labels,
                random_state=random_state, verbose=verbose, score=score, batch_size=batch_size, absolute=absolute,
                reduce=reduce, base="integrated_gradients", steps=steps, rule=rule, baseline=baseline,
                blur_sigma=blur_sigma)


def _noise_options(noise_level: Any, num_samples: Any, base_method: Any) -> tuple[float, int, str]:
    check_choice(base_method, "base_method", BASE_METHODS)
    return (check_float(noise_level, "noise_level", 0.0), check_int(num_samples, "num_samples", 1), base_method)


def _noisy(method: str, variance: bool, predictor, images, targets, top_labels, random_state, verbose, score,
           noise_level, num_samples, base_method, absolute, reduce, batch_size, options) -> list[Explanation]:
    noise_level, num_samples, base_method = _noise_options(noise_level, num_samples, base_method)
    allowed = {"integrated_gradients": {"steps", "rule", "baseline", "blur_sigma"},
               "gradient_input": {"baseline", "blur_sigma"}}.get(base_method, set())
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise TypeError(f"{method} with base_method={base_method!r} does not take option(s) {unknown}; "
                        f"it takes {sorted(allowed) or 'none'} besides its own")
    if absolute is None:
        absolute = base_method == "saliency"
    if reduce is None:
        reduce = "max" if base_method == "saliency" else "sum"
    return _run(method, predictor, images, targets=targets, top_labels=top_labels, random_state=random_state,
                verbose=verbose, score=score, batch_size=batch_size, absolute=absolute, reduce=reduce,
                base=base_method, noise_level=noise_level, num_samples=num_samples, variance=variance, **options)


def run_smoothgrad(predictor, images, *, targets=None, top_labels=None, random_state=None, verbose=1,
                   score: str = "logit", noise_level: float = 0.15, num_samples: int = 50,
                   base_method: str = "saliency", absolute: bool | None = None, reduce: str | None = None,
                   batch_size: int | None = None, **base_options: Any) -> list[Explanation]:
    """SmoothGrad (Smilkov et al. 2017): the base method's attribution averaged over noisy copies of the input.

    Gaussian noise with standard deviation ``noise_level * (max - min)`` of each image is drawn
    from a seedable numpy Generator (the same seed gives a bit-identical result); each image's
    noise is shared by its targets.

    Parameters
    ----------%s    noise_level : float
        Noise standard deviation as a fraction of the image's value range (default 0.15).
    num_samples : int
        Noisy copies per image (default 50).
    base_method : {"saliency", "gradient_input", "integrated_gradients", "guided_backprop"}
        The attribution averaged (signed per-channel values, then the heatmap).
    absolute, reduce
        Heatmap options; default to the base method's (saliency: absolute max, others: signed sum).
    **base_options
        The base method's options (``steps``, ``rule``, ``baseline``, ``blur_sigma``).

    Examples
    --------
    >>> import superexplain
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> model, image = load_demo_model(), make_shapes(1, seed=0).images[0]
    >>> a = superexplain.explain(model, image, method="smoothgrad", num_samples=8, random_state=1, verbose=0)
    >>> a == superexplain.explain(model, image, method="smoothgrad", num_samples=8, random_state=1, verbose=0)
    True
    """
    return _noisy("smoothgrad", False, predictor, images, targets, top_labels, random_state, verbose, score,
                  noise_level, num_samples, base_method, absolute, reduce, batch_size, base_options)


def run_vargrad(predictor, images, *, targets=None, top_labels=None, random_state=None, verbose=1,
                score: str = "logit", noise_level: float = 0.15, num_samples: int = 50,
                base_method: str = "saliency", absolute: bool | None = None, reduce: str | None = None,
                batch_size: int | None = None, **base_options: Any) -> list[Explanation]:
    """VarGrad (Adebayo et al. 2018): the variance of the base method's attribution over noisy inputs.

    Same noise as :func:`run_smoothgrad`; ``attribution`` is the per-channel population variance
    over the ``num_samples`` noisy copies (>= 2), the heatmap its channel reduction.

    Parameters
    ----------%s    noise_level, num_samples, base_method, absolute, reduce, **base_options
        As for :func:`run_smoothgrad`.

    Examples
    --------
    >>> import superexplain
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> e = superexplain.explain(load_demo_model(), make_shapes(1, seed=0).images[0], method="vargrad",
    ...                          num_samples=8, random_state=0, verbose=0)
    >>> bool((e.attribution >= 0).all())
    True
    """
    return _noisy("vargrad", True, predictor, images, targets, top_labels, random_state, verbose, score,
                  noise_level, num_samples, base_method, absolute, reduce, batch_size, base_options)


def run_guided_backprop(predictor, images, *, targets=None, top_labels=None, random_state=None, verbose=1,
                        score: str = "logit", absolute: bool = False, reduce: str = "sum",
                        batch_size: int | None = None) -> list[Explanation]:
    """Guided backpropagation (Springenberg et al. 2014): gradients through ReLUs that pass only positive values.

    Computed on a private copy of the model (cached per model, weights synced on every call) whose
    ReLU, ReLU6 and ``ReLU(max_value)`` units let a gradient through only where both the unit's
    input and the incoming gradient are positive. The user's model is never changed. Note
    (Adebayo et al. 2018): guided backprop is nearly insensitive to the top layers' weights and
    the labels -- it fails the model-randomisation sanity check.

    Parameters
    ----------%s    absolute, reduce
        Heatmap: absolute values first (default False) and ``"sum"`` (default) or ``"max"`` over channels.

    Examples
    --------
    >>> import superexplain
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> e = superexplain.explain(load_demo_model(), make_shapes(1, seed=0).images[0], method="guided_backprop",
    ...                          verbose=0)
    >>> e.params["guided_relus"]
    4
    """
    return _run("guided_backprop", predictor, images, targets=targets, top_labels=top_labels,
                random_state=random_state, verbose=verbose, score=score, batch_size=batch_size, absolute=absolute,
                reduce=reduce, base="guided_backprop")


for _function in (run_saliency, run_gradient_input, run_integrated_gradients, run_smoothgrad, run_vargrad,
                  run_guided_backprop):
    _function.__doc__ = _function.__doc__ % _COMMON_DOC
del _function
