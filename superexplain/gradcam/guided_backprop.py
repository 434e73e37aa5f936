"""Guided backpropagation (Springenberg et al. 2014): input gradients through ReLUs that pass only positive values.

The rectified copy of the model is built by the private ``_guided_copy`` module and used through
:func:`superexplain.gradcam.input_gradients.input_gradient_function`.
"""
from __future__ import annotations

from ..explanation import Explanation
from .attribution_engine import COMMON_PARAMETERS_DOC, run_attribution

__all__ = ["run_guided_backprop"]


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
    return run_attribution("guided_backprop", predictor, images, targets=targets, top_labels=top_labels,
                           random_state=random_state, verbose=verbose, score=score, batch_size=batch_size,
                           absolute=absolute, reduce=reduce, base="guided_backprop")


if run_guided_backprop.__doc__:  # None under python -OO, which strips docstrings
    run_guided_backprop.__doc__ %= COMMON_PARAMETERS_DOC
