"""Score functions as targets: explain a region of a segmentation map, or the similarity of an embedding.

A target is usually a class (an index, a name or a rank; :mod:`superexplain.models.targets`).
A **score target** is instead a function of the model's whole output, ``outputs -> (batch,)``
scores, written with ``keras.ops`` so that it runs on TensorFlow tensors (the gradient methods
differentiate it inside a compiled function) and on numpy arrays (the perturbation methods call it
on the model's outputs for their masked images). Give one as ``target=`` to
:func:`superexplain.explain` (or ``targets=`` to a method):

- :class:`Region` -- a semantic-segmentation model's summed score of one class inside a mask;
- :class:`Similarity` -- an embedding model's cosine similarity to a reference embedding;
- any callable ``outputs -> (batch,)``, wrapped as a :class:`ScoreTarget`.

What the function receives follows the method's ``score`` option, as for classes: with
``score="logit"`` the model's output before its final softmax/sigmoid where the model ends in one
(the gradient methods' default), else the model's output (the perturbation methods' default
``score="probability"``). A binary model's single sigmoid unit is handed over as it is, (N, 1).
The Explanation records ``target=0`` (the score target is the one "class" explained),
``target_name`` = the target's :attr:`~ScoreTarget.name` and ``params["score_target"]`` = its
:meth:`~ScoreTarget.describe`. ``top_labels`` has no meaning for a score target and is refused.

Compiled functions are cached per model and per target's :attr:`~ScoreTarget.cache_key`: equal
Regions and Similarities (same class and mask, same embedding) share one; a plain function is
traced once per model, so it must not depend on Python state that changes later.
"""
from __future__ import annotations

import hashlib
from typing import Any, Callable

import numpy as np

from ._validation import check_int, describe

__all__ = ["ScoreTarget", "Region", "Similarity", "as_score_target", "is_score_target"]


class ScoreTarget:
    """A score function ``outputs -> (batch,)`` explained in place of a class.

    Parameters
    ----------
    function : callable, optional
        ``outputs -> scores (batch,)``, written with ``keras.ops`` (it must run on TensorFlow
        tensors for gradient methods, numpy arrays for perturbation methods). Subclasses define
        :meth:`score` instead.
    name : str, optional
        What the Explanation calls the target (``target_name``); default the function's ``__name__``.

    Examples
    --------
    >>> import numpy as np
    >>> from keras import ops
    >>> def first_channel_mean(outputs):
    ...     return ops.mean(outputs[..., 0], axis=(1, 2))
    >>> target = ScoreTarget(first_channel_mean)
    >>> target.name, target.numpy_scores(np.ones((2, 4, 4, 3), np.float32)).tolist()
    ('first_channel_mean', [1.0, 1.0])
    """

    def __init__(self, function: Callable | None = None, name: str | None = None) -> None:
        if function is not None and not callable(function):
            raise TypeError(f"function must be a callable outputs -> scores (batch,); got {describe(function)}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a str; got {describe(name)}")
        self._function = function
        if name is None:
            name = type(self).__name__ if function is None else getattr(function, "__name__", type(function).__name__)
        self.name = str(name)

    def score(self, outputs: Any) -> Any:
        """The scores (batch,) of a batch of model outputs (a tensor or an array)."""
        if self._function is None:
            raise NotImplementedError("a ScoreTarget needs a function, or a subclass defining score()")
        return self._function(outputs)

    def check_output_shape(self, shape: tuple) -> None:
        """Raise ValueError where the model's output ``shape`` (batch first, None where free) does not fit."""

    def __call__(self, outputs: Any) -> Any:
        self.check_output_shape(tuple(outputs.shape))
        values = self.score(outputs)
        shape = tuple(getattr(values, "shape", np.shape(values)))
        if not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)):
            raise ValueError(f"the score target {self.name!r} must return one score per image, shape (N,); "
                             f"it returned shape {shape} for outputs of shape {tuple(outputs.shape)}")
        return values

    def numpy_scores(self, outputs: Any) -> np.ndarray:
        """The scores of numpy outputs as a float64 array (batch,): what the perturbation methods use."""
        import keras

        outputs = np.asarray(outputs)
        values = self(outputs)
        values = np.asarray(keras.ops.convert_to_numpy(values) if not isinstance(values, np.ndarray) else values)
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        if values.shape != (outputs.shape[0],):
            raise ValueError(f"the score target {self.name!r} must return one score per image, shape "
                             f"({outputs.shape[0]},); it returned shape {values.shape}")
        return values.astype(np.float64)

    @property
    def cache_key(self) -> Any:
        """What compiled functions are cached under: equal keys compute the same scores."""
        return (type(self), self._function)

    def describe(self) -> dict:
        """A JSON-like record of the target, for ``Explanation.params["score_target"]``."""
        return {"type": type(self).__name__, "name": self.name}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()[:16]


class Region(ScoreTarget):
    """The sum of one class's scores inside a mask, for a segmentation model with outputs (N, H, W, classes).

    With ``score="logit"`` (the gradient methods' default) the scores summed are the logits
    before the model's final softmax/sigmoid, as for classifiers; with ``score="probability"``
    the model's outputs.

    Parameters
    ----------
    class_index : int
        The class (the output's last axis).
    mask : array_like of bool, shape (H, W)
        The pixels of the output map to sum over (booleans, or integers 0/1). It must have the
        size of the model's output map, which may differ from the input image's.

    Examples
    --------
    >>> import numpy as np
    >>> mask = np.zeros((4, 4), bool)
    >>> mask[:2, :2] = True
    >>> region = Region(1, mask)
    >>> outputs = np.arange(32, dtype=np.float32).reshape(1, 4, 4, 2)
    >>> region.name, region.numpy_scores(outputs).tolist()
    ('region of class 1 (4 pixels)', [24.0])
    """

    def __init__(self, class_index: Any, mask: Any) -> None:
        self.class_index = check_int(class_index, "class_index", 0)
        array = np.asarray(mask)
        if array.dtype != bool:
            if array.dtype.kind not in "iu" or not np.isin(array, (0, 1)).all():
                raise TypeError(f"mask must be a boolean array (H, W) (or integers 0/1); got {describe(mask)}"
                                f" of dtype {array.dtype}")
            array = array.astype(bool)
        if array.ndim != 2:
            raise ValueError(f"mask must be 2-D, shape (H, W) of the model's output map; got shape {array.shape}")
        if not array.any():
            raise ValueError("mask selects no pixel; give at least one True")
        self.mask = array.copy()
        self.mask.flags.writeable = False
        super().__init__(None, f"region of class {self.class_index} ({int(array.sum())} pixels)")

    def check_output_shape(self, shape: tuple) -> None:
        if len(shape) != 4:
            raise ValueError(f"Region needs a segmentation model's output of shape (N, H, W, classes); "
                             f"the model's output has shape {shape}")
        height, width, classes = shape[1:]
        if (height is not None and height != self.mask.shape[0]) or (width is not None and width != self.mask.shape[1]):
            raise ValueError(f"mask has shape {self.mask.shape} but the model's output map is {height}x{width} "
                             f"(output shape {shape}); give a mask of the output map's size")
        if classes is not None and self.class_index >= classes:
            raise ValueError(f"class_index={self.class_index} is out of range: the model's output has {classes} "
                             f"classes (0..{classes - 1})")

    def score(self, outputs: Any) -> Any:
        from keras import ops

        values = ops.take(outputs, self.class_index, axis=-1)
        return ops.sum(values * ops.cast(self.mask, values.dtype), axis=(1, 2))

    @property
    def cache_key(self) -> Any:
        return (type(self), self.class_index, self.mask.shape, _digest(self.mask))

    def describe(self) -> dict:
        return {**super().describe(), "class_index": self.class_index, "mask_shape": list(self.mask.shape),
                "mask_pixels": int(self.mask.sum()), "mask_sha256": _digest(self.mask)}


class Similarity(ScoreTarget):
    """The cosine similarity of an embedding model's outputs (N, d) to a reference embedding (d,).

    Parameters
    ----------
    embedding : array_like, shape (d,)
        The reference embedding: finite numbers, not all zero.

    Examples
    --------
    >>> import numpy as np
    >>> target = Similarity([1.0, 0.0])
    >>> target.numpy_scores(np.array([[2.0, 0.0], [1.0, 1.0]], np.float32)).round(4).tolist()
    [1.0, 0.7071]
    """

    def __init__(self, embedding: Any) -> None:
        try:
            array = np.array(embedding, dtype=np.float32)
        except (TypeError, ValueError):
            raise TypeError(f"embedding must be a numeric vector (d,); got {describe(embedding)}") from None
        if array.ndim != 1 or array.size == 0:
            raise ValueError(f"embedding must be a vector of shape (d,); got shape {array.shape}")
        if not np.all(np.isfinite(array)) or not np.any(array):
            raise ValueError("embedding must be finite and not all zero (its direction is compared)")
        self.embedding = array
        self.embedding.flags.writeable = False
        super().__init__(None, f"similarity to an embedding (d={array.size})")

    def check_output_shape(self, shape: tuple) -> None:
        if len(shape) != 2 or (shape[1] is not None and shape[1] != self.embedding.size):
            raise ValueError(f"Similarity needs an embedding model's output of shape (N, {self.embedding.size}) "
                             f"(the embedding's length); the model's output has shape {shape}")

    def score(self, outputs: Any) -> Any:
        from keras import ops

        reference = ops.cast(self.embedding / np.linalg.norm(self.embedding), outputs.dtype)
        norms = ops.maximum(ops.sqrt(ops.sum(outputs * outputs, axis=-1)), 1e-12)
        return ops.sum(outputs * reference, axis=-1) / norms

    @property
    def cache_key(self) -> Any:
        return (type(self), self.embedding.size, _digest(self.embedding))

    def describe(self) -> dict:
        return {**super().describe(), "dimension": int(self.embedding.size),
                "embedding_sha256": _digest(self.embedding)}


def is_score_target(value: Any) -> bool:
    """Whether ``value`` is a score target: a :class:`ScoreTarget` or another callable (not a class name).

    Examples
    --------
    >>> is_score_target(Similarity([1.0])), is_score_target(len), is_score_target(3), is_score_target("cat")
    (True, True, False, False)
    """
    return isinstance(value, ScoreTarget) or (callable(value) and not isinstance(value, (str, type)))


def as_score_target(value: Any, name: str = "target") -> ScoreTarget:
    """``value`` as a :class:`ScoreTarget`: itself, or a plain callable wrapped (named by its ``__name__``).

    Examples
    --------
    >>> as_score_target(lambda outputs: outputs[:, 0]).name
    '<lambda>'
    """
    if isinstance(value, ScoreTarget):
        return value
    if not is_score_target(value):
        raise TypeError(f"{name} must be a score function outputs -> (batch,) or a superexplain.targets."
                        f"ScoreTarget; got {describe(value)}")
    return ScoreTarget(value)
