"""Max- and average-sensitivity (Yeh et al., arXiv 1901.09392): does the explanation move when the input barely does?"""
from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_choice, check_float, check_int, describe, seeded_rng
from ..metrics.score_results import ScoreResult
from ._methods import explainer, image_targets, method_label

__all__ = ["max_sensitivity", "avg_sensitivity", "sensitivities", "NORMS"]

#: Norms of a map difference: Frobenius (root of the summed squares), sum of absolute values, largest absolute value.
NORMS = ("fro", "l1", "inf")


def _norms(maps: np.ndarray, norm: str) -> np.ndarray:
    """The norm of each (H, W) map of ``maps`` (..., H, W)."""
    flat = np.abs(maps.reshape(maps.shape[:-2] + (-1,)))
    if norm == "fro":
        return np.sqrt(np.sum(flat * flat, axis=-1))
    if norm == "l1":
        return np.sum(flat, axis=-1)
    return np.max(flat, axis=-1)


def _check_clip(clip: Any, batch: np.ndarray) -> tuple[float, float] | None:
    if clip is None:
        return None
    if isinstance(clip, (str, bytes)) or not hasattr(clip, "__len__") or len(clip) != 2:
        raise TypeError(f"clip must be None or a pair (low, high) of numbers; got {describe(clip)}")
    low, high = check_float(clip[0], "clip[0]"), check_float(clip[1], "clip[1]")
    if not low < high:
        raise ValueError(f"clip must be a pair (low, high) with low < high; got {describe(clip)}")
    if batch.min() < low or batch.max() > high:
        raise ValueError(f"images hold values in [{batch.min():g}, {batch.max():g}], outside clip=({low:g}, {high:g})")
    return low, high


def _check_flag(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {describe(value)}")
    return bool(value)


def sensitivities(model: Any, images: Any, method: Any = "gradcam", *, radius: float = 0.02, relative: bool = True,
                  num_samples: int = 10, norm: str = "fro", normalise: bool = True, clip: Any = None,
                  targets: Any = None, random_state: Any = None, batch_size: int | None = None,
                  verbose: int | bool = 0, options: dict | None = None,
                  **method_options: Any) -> tuple[np.ndarray, dict]:
    """Every draw's sensitivity, shape (n_images, num_samples), and the settings: what
    :func:`max_sensitivity` and :func:`avg_sensitivity` reduce (see them for the arguments).

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.sanity.robustness import sensitivities
    >>> values, params = sensitivities(lambda x: x.mean(axis=(1, 2)), np.ones((2, 8, 8, 3)), "edge", radius=0.1,
    ...                                relative=False, num_samples=4, normalise=False, random_state=0)
    >>> values.shape, params["radii"]
    ((2, 4), [0.1, 0.1])
    """
    from ..models import as_predictor

    predictor = as_predictor(model)
    batch, _ = predictor.check_images(images, "images")
    radius = check_float(radius, "radius", 0.0, strict=True)
    relative = _check_flag(relative, "relative")
    normalise = _check_flag(normalise, "normalise")
    num_samples = check_int(num_samples, "num_samples", 1)
    norm = check_choice(norm, "norm", NORMS)
    bounds = _check_clip(clip, batch)
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size", 1)
    if options is not None and not isinstance(options, dict):
        raise TypeError(f"options must be a dict of method options; got {describe(options)}")
    options = {**(options or {}), **method_options}
    run = explainer(method)
    rng, seed = seeded_rng(random_state)
    method_seed = int(rng.integers(0, 2**31 - 1))
    target_list = image_targets(predictor, batch, targets, batch_size)
    if relative:
        spans = np.array([float(np.ptp(image)) for image in batch])
        if np.any(spans == 0):
            raise ValueError(f"images[{int(np.argmax(spans == 0))}] is constant, so a radius relative to its value "
                             "range is 0; pass relative=False and an absolute radius")
        radii = radius * spans
    else:
        radii = np.full(len(batch), radius)
    # The draws, image by image: uniform in the L-infinity ball, added in float64, then cast to the model's float32.
    perturbed = [image.astype(np.float64) + rng.uniform(-r, r, size=(num_samples,) + image.shape)
                 for image, r in zip(batch, radii)]
    perturbed = [(copies if bounds is None else np.clip(copies, *bounds)).astype(np.float32) for copies in perturbed]
    # The originals and every copy of every image in ONE explanation call, each copy for its image's target.
    every_image = np.concatenate([batch] + perturbed)
    every_target = np.concatenate([target_list, np.repeat(target_list, num_samples)])
    if batch_size is not None and method != "edge":
        options["batch_size"] = batch_size
    maps = run(predictor, every_image, every_target, method_seed, options, verbose=verbose)
    if len(maps) != len(every_image) or len({np.shape(m) for m in maps}) != 1 or np.ndim(maps[0]) != 2:
        raise ValueError(f"method {method_label(method)!r} must return one (H, W) map per image; got {len(maps)} "
                         f"maps of shapes {sorted({np.shape(m) for m in maps})} for {len(every_image)} images")
    maps = np.stack(maps)
    original = maps[:len(batch)]
    moved = maps[len(batch):].reshape((len(batch), num_samples) + original.shape[1:])
    values = _norms(moved - original[:, None], norm)
    if normalise:
        scale = _norms(original, norm)
        # an all-zero explanation has no size to compare the change with: undefined (NaN)
        values = np.where(scale[:, None] > 0, values / np.where(scale > 0, scale, 1.0)[:, None], np.nan)
    params = {"method": method_label(method), "radius": radius, "relative": relative,
              "radii": [float(r) for r in radii], "num_samples": num_samples, "norm": norm, "normalise": normalise,
              "clip": bounds, "seed": seed, "method_seed": method_seed, "targets": [int(t) for t in target_list]}
    return values, params


_PARAMETERS = """
    Parameters
    ----------
    model : keras.Model, path, callable or Predictor
        The model explained (a plain callable ``images -> scores`` works with the perturbation
        methods, the ``"edge"`` control and a callable ``method``).
    images : array_like
        One image (H, W, C) or a batch (N, H, W, C), in the model's input space.
    method : str or callable
        A method name of :func:`superexplain.explain`, the control ``"edge"`` (a Sobel map that
        ignores the model: its sensitivity measures the input change alone, the number a method
        is read against) or a callable ``(model, images, targets=..., **options) -> list of
        Explanations or (H, W) maps``.
    radius : float
        Half-width r of the L-infinity ball the perturbations are drawn from: with ``relative``
        (default) a fraction of each image's value range (max - min over its pixels and channels,
        so 0.02 is 2% of it), otherwise an absolute amount in the model's input units.
    relative : bool
        Whether ``radius`` is relative to each image's value range (default True).
    num_samples : int
        Perturbations per image (default 10).
    norm : {"fro", "l1", "inf"}
        The norm of a map difference: Frobenius (default; the paper's), sum or largest absolute value.
    normalise : bool
        Divide by the norm of the unperturbed explanation (default True), so that methods of
        different scales compare; False gives the raw norm of the change, as in the paper.
    clip : (low, high), optional
        Clip every perturbed input to this range, the model's valid input range where it has one
        (e.g. ``(0, 1)``); default None: no clipping. Unclipped noise can leave the range an
        image's display scaling assumes: an image in [0, 1] touching 1 then reads as a 0..255
        image to the ``"edge"`` control, whose map then changes wholesale.
    targets : int, str or list, optional
        The class explained per image (default: its top class), kept for every perturbed copy.
    random_state : int, Generator or None
        Seeds the perturbations and the method; recorded in ``params["seed"]``.
    batch_size : int, optional
        Images per model call, handed to the method (not to ``"edge"``, which calls no model).
    verbose : int or bool
        The method's progress bar.
    options : dict, optional
        Method options whose names this function takes itself, chiefly ``{"num_samples": ...}``
        of LIME, KernelSHAP and SmoothGrad.
    **method_options
        Passed to the method (e.g. ``layer=`` for Grad-CAM).
"""

_NOTES = """
    Notes
    -----
    Per image x with explanation phi(x) of its target, ``num_samples`` perturbations d are drawn
    uniformly in the L-infinity ball of radius r, and each draw gives
    ||phi(x + d) - phi(x)|| / ||phi(x)|| (``normalise=True``; the raw norm otherwise). The inputs
    are clipped only to a given ``clip`` range (no model here declares its input range). All
    perturbed copies of all images are explained in one call, each for its image's target. A seeded method (LIME, RISE,
    SmoothGrad, ...) uses the same seed for every copy, so that the change measured is the
    input's, not its sampler's. An all-zero explanation of x gives NaN with ``normalise``. The
    n_images x (num_samples + 1) inputs and maps are held in memory together.

    The draws are reproducible from the seed: ``rng = numpy.random.default_rng(seed)`` draws
    ``rng.integers(0, 2**31 - 1)`` (the method's seed, ``params["method_seed"]``), then for each
    image in order ``rng.uniform(-r, r, size=(num_samples, H, W, C))``, added to the image in
    float64, clipped to ``clip`` if given and cast to float32; ``params["radii"]`` holds each
    image's r.

    References
    ----------
    Yeh, Hsieh, Suggala, Inouye, Ravikumar, "On the (In)fidelity and Sensitivity of
    Explanations", NeurIPS 2019, arXiv 1901.09392 (max-sensitivity).
    Bhatt, Weller, Moura, "Evaluating and Aggregating Feature-based Model Explanations", IJCAI
    2020, arXiv 2005.00631 (average sensitivity).
"""


def max_sensitivity(model: Any, images: Any, method: Any = "gradcam", *, radius: float = 0.02,
                    relative: bool = True, num_samples: int = 10, norm: str = "fro", normalise: bool = True,
                    clip: Any = None, targets: Any = None, random_state: Any = None, batch_size: int | None = None,
                    verbose: int | bool = 0, options: dict | None = None, **method_options: Any) -> ScoreResult:
    """Max-sensitivity: the largest relative change of the explanation under small uniform input noise.

    Yeh et al. (arXiv 1901.09392) estimate max over ||d|| <= r of ||phi(x + d) - phi(x)|| by
    Monte Carlo; lower is more robust. Read it against the ``"edge"`` control, whose maps follow
    the input change alone.
%s
    Returns
    -------
    ScoreResult
        ``name="max_sensitivity"``, ``values={method: (n_images,)}``, ``higher_is_better=False``;
        ``params`` holds the settings, each image's radius and target, and the seeds.
%s
    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.sanity import max_sensitivity
    >>> images = np.random.default_rng(0).random((2, 16, 16, 3))
    >>> result = max_sensitivity(lambda x: x.mean(axis=(1, 2)), images, "edge", num_samples=3, random_state=0)
    >>> result.name, result.values["edge"].shape, bool(result.score > 0)
    ('max_sensitivity', (2,), True)
    """
    values, params = sensitivities(model, images, method, radius=radius, relative=relative, num_samples=num_samples,
                                   norm=norm, normalise=normalise, clip=clip, targets=targets,
                                   random_state=random_state, batch_size=batch_size, verbose=verbose,
                                   options=options, **method_options)
    return ScoreResult("max_sensitivity", {params["method"]: np.max(values, axis=1)}, higher_is_better=False,
                       params=params)


def avg_sensitivity(model: Any, images: Any, method: Any = "gradcam", *, radius: float = 0.02,
                    relative: bool = True, num_samples: int = 10, norm: str = "fro", normalise: bool = True,
                    clip: Any = None, targets: Any = None, random_state: Any = None, batch_size: int | None = None,
                    verbose: int | bool = 0, options: dict | None = None, **method_options: Any) -> ScoreResult:
    """Average sensitivity: the mean relative change of the explanation under small uniform input noise.

    The Monte Carlo mean, over d uniform in the ball, of ||phi(x + d) - phi(x)||: the average
    sensitivity of Bhatt et al. (arXiv 2005.00631) next to the maximum of Yeh et al. (arXiv
    1901.09392). On the same draws (same seed) it is never above :func:`max_sensitivity`.
    Lower is more robust.
%s
    Returns
    -------
    ScoreResult
        ``name="avg_sensitivity"``, ``values={method: (n_images,)}``, ``higher_is_better=False``.
%s
    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.sanity import avg_sensitivity, max_sensitivity
    >>> images = np.random.default_rng(0).random((2, 16, 16, 3))
    >>> model = lambda x: x.mean(axis=(1, 2))
    >>> mean = avg_sensitivity(model, images, "edge", num_samples=3, random_state=0).values["edge"]
    >>> bool(np.all(mean <= max_sensitivity(model, images, "edge", num_samples=3, random_state=0).values["edge"]))
    True
    """
    values, params = sensitivities(model, images, method, radius=radius, relative=relative, num_samples=num_samples,
                                   norm=norm, normalise=normalise, clip=clip, targets=targets,
                                   random_state=random_state, batch_size=batch_size, verbose=verbose,
                                   options=options, **method_options)
    return ScoreResult("avg_sensitivity", {params["method"]: np.mean(values, axis=1)}, higher_is_better=False,
                       params=params)


if max_sensitivity.__doc__:  # None under python -OO, which strips docstrings
    max_sensitivity.__doc__ %= (_PARAMETERS, _NOTES)
if avg_sensitivity.__doc__:
    avg_sensitivity.__doc__ %= (_PARAMETERS, _NOTES)
