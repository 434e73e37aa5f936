"""`as_predictor`: a Keras model, a model file or a callable as a `Predictor`; a Predictor again with other settings."""
from __future__ import annotations

from typing import Any, cast

from .._validation import check_int
from .adapter import Predictor
from .targets import normalise_class_names

__all__ = ["as_predictor"]


def as_predictor(model: Any, class_names: Any = None, batch_size: int | None = None, output: Any = None) -> Predictor:
    """Wrap a Keras model, a model path, or a callable ``images -> scores`` as a :class:`Predictor`.

    A :class:`Predictor` passes through unchanged unless new class names or a batch size are given.

    Parameters
    ----------
    model : keras.Model, str, path or callable
    class_names : list or dict, optional
    batch_size : int, optional
        Images per model call (default 64).
    output : int or str, optional
        For a model with several outputs (a list or a dict of them): the index or name of the
        one holding the class scores. Required there, and refused with the list of outputs when missing.

    Notes
    -----
    What is explained, by the model's head: a softmax or several sigmoid units: each class's
    logit (gradient methods) or probability (perturbation methods); **one sigmoid unit** (a
    binary classifier): two classes, 0 = ``"positive"`` (the logit z, or p) and 1 =
    ``"negative"`` (-z, or 1 - p); **one linear unit** (a regression): the output itself, class 0.
    Another output, such as a segmentation model's (N, H, W, classes), is accepted here and explained
    through a score target only (``target=superexplain.targets.Region(class_index, mask)``; see
    :mod:`superexplain.targets`); a class target is refused for it.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.models import as_predictor
    >>> predictor = as_predictor(lambda x: x.sum(axis=(1, 2)), class_names=["r", "g", "b"])
    >>> predictor.predict(np.ones((1, 2, 2, 3)))
    array([[4., 4., 4.]], dtype=float32)
    """
    if isinstance(model, Predictor):
        if output is not None and output != model.selected_output:
            raise ValueError(f"output={output!r} differs from the Predictor's own output={model.selected_output!r}; "
                             "wrap the model again with as_predictor(model, output=...)")
        if class_names is None and batch_size is None:
            return model
        clone = object.__new__(type(model))  # a score target's view stays one
        clone.__dict__.update(model.__dict__)
        if class_names is not None:
            clone.class_names = cast("list[str]", normalise_class_names(class_names))  # names given: a list
            if clone._num_classes is not None and len(clone.class_names) != clone._num_classes:
                raise ValueError(
                    f"class_names has {len(clone.class_names)} names but the model outputs {clone._num_classes} classes"
                )
        if batch_size is not None:
            clone.batch_size = check_int(batch_size, "batch_size", 1)
        return clone
    return Predictor(model, class_names=class_names, batch_size=batch_size, output=output)
