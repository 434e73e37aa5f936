"""Saliency (Simonyan et al. 2013) and gradient x input (Shrikumar et al. 2016): one input gradient per target."""
from __future__ import annotations

from typing import Any

from ..explanation import Explanation
from .attribution_engine import COMMON_PARAMETERS_DOC, run_attribution

__all__ = ["run_saliency", "run_gradient_input"]


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
    return run_attribution("saliency", predictor, images, targets=targets, top_labels=top_labels,
                           random_state=random_state, verbose=verbose, score=score, batch_size=batch_size,
                           absolute=absolute, reduce=reduce, base="saliency")


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
    return run_attribution("gradient_input", predictor, images, targets=targets, top_labels=top_labels,
                           random_state=random_state, verbose=verbose, score=score, batch_size=batch_size,
                           absolute=absolute, reduce=reduce, base="gradient_input", baseline=baseline,
                           blur_sigma=blur_sigma)


if run_saliency.__doc__:  # None under python -OO, which strips docstrings
    run_saliency.__doc__ %= COMMON_PARAMETERS_DOC
if run_gradient_input.__doc__:
    run_gradient_input.__doc__ %= COMMON_PARAMETERS_DOC
