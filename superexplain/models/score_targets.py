"""Score targets on the adapter: a `Predictor` whose one "class" is a score function of the model's outputs.

:func:`use_score_target` is what every method calls first with the user's ``targets``: a score
target (:mod:`superexplain.targets`) turns the predictor into a :class:`ScoreTargetPredictor`,
whose scores are the target's values as one column (class 0), so that the methods' class
machinery (target resolution, compiled gradients, batched perturbation scores) runs unchanged.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .adapter import Predictor
from .cache import compiled
from .scores import check_scores
from .targets import check_class_output, unwrap_named

__all__ = ["ScoreTargetPredictor", "score_target_view", "use_score_target"]


class ScoreTargetPredictor(Predictor):
    """A :class:`Predictor` seen through a score target: one column, the target's score (class 0).

    Gradient methods differentiate ``target(model outputs)`` (:meth:`score_function`); perturbation
    methods get the model's numpy outputs through the target, as float64 converted to the
    adapter's float32 columns (:meth:`score_batch`). Build one with :func:`score_target_view`.
    """

    def score_function(self, score: str = "logit") -> tuple[Callable, str]:
        import tensorflow as tf

        outputs, kind = super().score_function(score)  # binary is off in the view: the raw output
        # run as written: autograph would try (and, for a lambda inside a call, fail noisily) to convert it
        target = tf.autograph.experimental.do_not_convert(self.score_target)

        def scores(x):
            from keras import ops

            return ops.reshape(target(ops.cast(outputs(x), "float32")), (-1, 1))

        return scores, kind

    def _compiled(self, output: str) -> Callable:
        from . import keras_model as _keras

        model = self.keras_model
        height, width, channels = self.input_shape

        def build():
            # the model's outputs (or logits) without the target: the view's binary is off
            raw, _ = Predictor.score_function(self, "logit" if output == "logits" else "probability")
            return _keras.compile_for_images(raw, model, (height, width, channels))

        return compiled(model, ("predict-raw", output), build)

    def score_batch(self, batch: np.ndarray, output: str = "output", batch_index: int = 0) -> np.ndarray:
        outputs = self.raw_outputs(batch, output, batch_index)
        values = self.score_target.numpy_scores(outputs)
        return check_scores(values, batch.shape[0], batch_index).astype(np.float32)

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}, score_target={self.score_target.name!r})"


def score_target_view(predictor: Predictor, target: Any) -> ScoreTargetPredictor:
    """``predictor`` seen through ``target`` (a ScoreTarget or a plain callable ``outputs -> (batch,)``).

    The model's output shape is checked against the target where the model declares it.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.models import as_predictor
    >>> from superexplain.targets import Similarity
    >>> view = score_target_view(as_predictor(lambda x: x.mean(axis=(1, 2))), Similarity([1.0, 0.0, 0.0]))
    >>> round(float(view.predict(np.ones((1, 2, 2, 3)))[0, 0]), 4), view.class_names
    (0.5774, ['similarity to an embedding (d=3)'])
    """
    from ..targets import as_score_target

    target = as_score_target(target)
    if predictor.output_shape is not None:
        target.check_output_shape(predictor.output_shape)
    view = object.__new__(ScoreTargetPredictor)
    view.__dict__.update(predictor.__dict__)
    view.score_target = target
    view.class_names = [target.name]
    view._num_classes = 1
    view.binary = False  # the target sees the single sigmoid unit as it is
    return view


def use_score_target(predictor: Predictor, targets: Any,
                     top_labels: Any = None) -> tuple[Predictor, Any, Callable[[list], list]]:
    """What a method runs on: ``(predictor, targets, finish)`` for the user's ``targets``.

    A score target gives the :class:`ScoreTargetPredictor` view, ``targets=0`` and a ``finish``
    that records the target in each Explanation's ``params["score_target"]``. Class targets pass
    through unchanged, and ``finish`` returns the explanations as they are; a model whose output is
    not (N, classes) is refused there, with the way out (a score target).

    Examples
    --------
    >>> from superexplain.models import as_predictor
    >>> from superexplain.targets import Similarity
    >>> view, targets, finish = use_score_target(as_predictor(lambda x: x[:, 0, 0]), Similarity([1.0]))
    >>> type(view).__name__, targets
    ('ScoreTargetPredictor', 0)
    """
    from ..targets import is_score_target

    value, name = unwrap_named(targets, "target")
    if not is_score_target(value):
        check_class_output(predictor.output_shape, name)
        return predictor, targets, lambda explanations: explanations
    if top_labels is not None:
        raise ValueError(f"top_labels cannot be used with a score function as {name}: there are no classes to rank; "
                         f"got top_labels={top_labels!r}")
    view = score_target_view(predictor, value)
    record = view.score_target.describe()

    def finish(explanations: list) -> list:
        for explanation in explanations:
            explanation.params = {**explanation.params, "score_target": dict(record)}
        return explanations

    return view, 0, finish
