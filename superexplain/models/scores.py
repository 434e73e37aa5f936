"""What comes back from a model call: one output picked among several, and the checks every batch's scores pass."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["pick_output", "check_scores"]


def pick_output(scores: Any, selected: Any = None) -> Any:
    """A plain callable's scores: its output, or the ``selected`` (``output=``) entry of a dict/list/tuple of outputs.

    Examples
    --------
    >>> pick_output({"age": 1, "class": 2}, "class")
    2
    """
    if isinstance(scores, Mapping):
        names = list(scores)
    elif isinstance(scores, (list, tuple)):
        names = list(range(len(scores)))
    else:
        if selected not in (None, 0):
            raise ValueError(f"output={selected!r} was given but the model returns a single array")
        return scores
    if selected is None:
        raise ValueError(f"the model returns several outputs ({', '.join(map(repr, names))}); pick the one "
                         "holding the class scores with output= (an index or a key)")
    if selected not in names:
        raise ValueError(f"output={selected!r} is not one of the model's outputs ({', '.join(map(repr, names))})")
    return scores[selected]


def check_scores(scores: Any, rows: int, batch_index: int = 0) -> np.ndarray:
    """A model's scores for a batch of ``rows`` images as an (N, classes) array, checked.

    A vector becomes one column; the shape must be (``rows``, classes), the values numeric and
    finite. Errors name the batch by ``batch_index``.

    Examples
    --------
    >>> check_scores(np.array([0.5, 1.0]), 2).shape
    (2, 1)
    """
    if hasattr(scores, "numpy") and not isinstance(scores, np.ndarray):  # a tf.Tensor and friends
        scores = scores.numpy()
    scores = np.asarray(scores)
    if scores.ndim == 1:
        scores = scores[:, None]
    if scores.ndim != 2 or scores.shape[0] != rows:
        raise ValueError(
            f"the model must return scores of shape (N, classes) = ({rows}, classes) for a batch "
            f"of {rows} images; it returned shape {scores.shape} (batch {batch_index})"
        )
    if scores.dtype.kind not in "fiub":
        raise TypeError(f"the model must return numeric scores; it returned dtype {scores.dtype}")
    if not np.all(np.isfinite(scores)):
        raise ValueError(f"the model returned NaN or infinite scores on batch {batch_index}")
    return scores
