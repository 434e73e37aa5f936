"""Integrated-gradients paths: baseline specifications and quadrature rules."""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .._validation import check_choice, check_float, check_int, describe

__all__ = ["RULES", "integration_points", "baselines_for"]

RULES = ("riemann_left", "riemann_right", "riemann_middle", "trapezoid")


def integration_points(steps: int, rule: str = "riemann_middle") -> tuple[np.ndarray, np.ndarray]:
    """Points ``alpha`` in [0, 1] and weights of a quadrature rule for integrated gradients.

    ``riemann_left``/``riemann_right``/``riemann_middle`` use ``steps`` points with weight
    ``1/steps``; ``trapezoid`` uses ``steps + 1`` points (both ends with half weight).

    Examples
    --------
    >>> alphas, weights = integration_points(4, "riemann_middle")
    >>> alphas.tolist(), float(weights.sum())
    ([0.125, 0.375, 0.625, 0.875], 1.0)
    """
    steps = check_int(steps, "steps", 1)
    check_choice(rule, "rule", RULES)
    if rule == "trapezoid":
        alphas = np.arange(steps + 1, dtype=np.float64) / steps
        weights = np.full(steps + 1, 1.0 / steps)
        weights[[0, -1]] /= 2.0
        return alphas, weights
    offset = {"riemann_left": 0.0, "riemann_right": 1.0, "riemann_middle": 0.5}[rule]
    return (np.arange(steps, dtype=np.float64) + offset) / steps, np.full(steps, 1.0 / steps)


def _one_baseline(spec: Any, images: np.ndarray, blur_sigma: float, name: str) -> tuple[np.ndarray, Any]:
    """One baseline specification -> (N, H, W, C) float32 and its description for ``params``."""
    n, height, width, channels = images.shape
    if spec is None or (isinstance(spec, str) and spec in ("zeros", "black")):
        return np.zeros_like(images), "zeros"
    if isinstance(spec, str):
        if spec != "blur":
            raise ValueError(f"{name} must be 'zeros', 'blur', a number, a colour, an image or a list of these; "
                             f"got {spec!r}")
        from .._blur import gaussian_blur

        return gaussian_blur(images, blur_sigma), "blur"
    if isinstance(spec, numbers.Real) and not isinstance(spec, (bool, np.bool_)):
        value = check_float(spec, name)
        return np.full_like(images, value), value
    if isinstance(spec, (tuple, list)) and len(spec) == channels and all(
            isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in spec):
        colour = [check_float(v, f"{name}[{i}]") for i, v in enumerate(spec)]
        return np.broadcast_to(np.asarray(colour, np.float32), images.shape).copy(), colour
    if hasattr(spec, "numpy") and not isinstance(spec, np.ndarray):
        spec = spec.numpy()
    if not isinstance(spec, np.ndarray) or spec.dtype.kind not in "uif":
        raise TypeError(f"{name} must be 'zeros', 'blur', a number, a colour, an image or a list of these; "
                        f"got {describe(spec)}")
    array = spec.astype(np.float32)
    if array.ndim == 2 and channels == 1:
        array = array[:, :, None]
    if array.ndim == 1 and array.shape[0] == channels:
        return np.broadcast_to(array, images.shape).copy(), array.tolist()
    if array.shape == (height, width, channels):
        described = "image"
        array = np.broadcast_to(array, images.shape).copy()
    elif array.shape == images.shape:
        described = "per_image"
    else:
        raise ValueError(
            f"{name} must be a colour of {channels} values, an image of shape {(height, width, channels)} or one "
            f"image per input {images.shape}; got an array of shape {spec.shape}"
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return array, described


def baselines_for(baseline: Any, images: np.ndarray, blur_sigma: float) -> tuple[np.ndarray, Any]:
    """The baseline option -> (N, n_baselines, H, W, C) float32 and its description.

    A list of baselines (averaged) is a list whose entries are not all numbers, or whose length
    is not the image's channel count; a list of C numbers is a colour.
    """
    blur_sigma = check_float(blur_sigma, "blur_sigma", 0.0, strict=True)
    channels = images.shape[-1]
    is_colour = isinstance(baseline, (tuple, list)) and len(baseline) == channels and all(
        isinstance(v, numbers.Real) for v in baseline)
    if isinstance(baseline, (tuple, list)) and not is_colour:
        if len(baseline) == 0:
            raise ValueError("baseline is an empty list; give at least one baseline")
        parsed = [_one_baseline(spec, images, blur_sigma, f"baseline[{i}]") for i, spec in enumerate(baseline)]
        return np.stack([array for array, _ in parsed], axis=1), [described for _, described in parsed]
    array, described = _one_baseline(baseline, images, blur_sigma, "baseline")
    return array[:, None], described
