"""Integrated gradients (Sundararajan et al. 2017): input gradients along a path from a baseline, and the
quadrature rules of that path."""
from __future__ import annotations

from typing import Any

from ..explanation import Explanation
from ._baselines import RULES, integration_points
from .attribution_engine import COMMON_PARAMETERS_DOC, run_attribution

__all__ = ["run_integrated_gradients", "integration_points", "RULES"]


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
    return run_attribution("integrated_gradients", predictor, images, targets=targets, top_labels=top_labels,
                           random_state=random_state, verbose=verbose, score=score, batch_size=batch_size,
                           absolute=absolute, reduce=reduce, base="integrated_gradients", steps=steps, rule=rule,
                           baseline=baseline, blur_sigma=blur_sigma)


if run_integrated_gradients.__doc__:  # None under python -OO, which strips docstrings
    run_integrated_gradients.__doc__ %= COMMON_PARAMETERS_DOC
