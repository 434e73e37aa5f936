"""The model adapter: a Keras model, a model file or a plain callable becomes one batched `Predictor`."""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Callable, cast

import numpy as np

from .cache import compiled
from .._validation import check_choice, check_images, check_int, describe
from .scores import check_scores, pick_output
from .targets import check_class_output, normalise_class_names, resolve_targets

__all__ = ["Predictor"]

DEFAULT_BATCH_SIZE = 64
#: Class names of a binary classifier with one sigmoid output, unless the user names them.
BINARY_CLASS_NAMES = ("positive", "negative")


class Predictor:
    """A model seen as ``predict(batch) -> scores``, batched and compiled.

    Build one with :func:`as_predictor`. It validates images against the model's input, runs the
    model in batches through one compiled function (never ``model.predict`` per sample), and for
    Keras models ending in a softmax or sigmoid gives the pre-activation logits too.

    Attributes
    ----------
    keras_model : keras.Model or None
        The wrapped Keras model (None for a plain callable).
    input_shape : tuple
        ``(H, W, C)`` expected by the model, None where free or unknown.
    output_activation : str
        ``"softmax"``, ``"sigmoid"``, ``"linear"`` or ``"unknown"``.
    class_names : list of str or None
    output_shape : tuple or None
        The Keras model's output shape, batch first (None for a callable); another than (N, classes)
        takes a score target (:mod:`superexplain.targets`).
    """

    score_target: Any = None  # a score target's view sets it (superexplain.models.score_targets)

    def __init__(self, model: Any, class_names: Any = None, batch_size: int | None = None,
                 output: Any = None) -> None:
        from . import keras_model as _keras

        self.batch_size = DEFAULT_BATCH_SIZE if batch_size is None else check_int(batch_size, "batch_size", 1)
        if class_names is None:  # models may carry their own names (the bundled demo model does)
            class_names = getattr(model, "class_names", None)
        self.class_names = normalise_class_names(class_names)
        self._logits_note = ""
        self._num_classes: int | None = None
        self.selected_output = output
        self.binary = False
        if isinstance(model, (str, os.PathLike)):
            model = _keras.load_model(model)
        if _keras.is_keras_model(model):
            head = _keras.read_head(model, output)
            self.keras_model = model = head.model
            self.function: Callable | None = None
            self.input_shape = head.input_shape
            self.output_activation, self._logits_fn, self._logits_note = head.activation, head.logits, head.logits_note
            self._num_classes, self.binary, self.output_shape = head.num_classes, head.binary, head.output_shape
            if self.binary and self.class_names is None:
                self.class_names = list(BINARY_CLASS_NAMES)
        elif callable(model):
            self.keras_model = self.output_shape = None
            self.function = model
            self.input_shape = (None, None, None)
            self.output_activation = "unknown"
            self._logits_fn = None
            self._logits_note = "a plain callable: only its own output is available"
        else:
            raise TypeError("model must be a Keras model, a path to a .keras/.h5 file or SavedModel directory, "
                            f"or a callable images -> scores; got {describe(model)}")
        if self.class_names is not None and self._num_classes is not None and len(self.class_names) != self._num_classes:
            raise ValueError(
                f"class_names has {len(self.class_names)} names but the model outputs {self._num_classes} classes"
                + (" (a single sigmoid output counts as two: positive, negative)" if self.binary else "")
            )

    # ------------------------------------------------------------------ description
    @property
    def has_logits(self) -> bool:
        """Whether pre-activation scores can be computed (Keras models with a recognised head)."""
        return self._logits_fn is not None

    @property
    def num_classes(self) -> int | None:
        """Number of classes (None for a callable not yet called)."""
        return self._num_classes

    def class_name(self, index: int) -> str | None:
        return self.class_names[index] if self.class_names is not None and index < len(self.class_names) else None

    def score_kind(self, output: str) -> str:
        """What ``predict(..., output=output)`` returns, in words: logit, probability or output."""
        if output == "logits" and self.output_activation in ("softmax", "sigmoid"):
            return "logit"
        if self.output_activation in ("softmax", "sigmoid"):
            return "probability"
        return "logit" if self.output_activation == "linear" else "output"

    # ------------------------------------------------------------------ validation
    def check_images(self, images: Any, name: str = "images", batch: bool | None = None) -> tuple[np.ndarray, bool]:
        """Validate images against the model's input; returns ``(float32 batch copy, was_single)``.

        Parameters
        ----------
        images : array_like
            One image (H, W) / (H, W, C), a batch (N, H, W) / (N, H, W, C), or a list of images.
        name : str
            The argument's name in error messages.
        batch : bool, optional
            Whether ``images`` is a batch. None decides from the model's input spec: a rank-3
            array is one image when its last axis is the model's channel count (any of 1, 3, 4
            where the model does not say, as for a plain callable), else a batch of grayscale
            images where the model takes one channel. A rank-3 array that reads as both a
            channels-first image and a grayscale batch, (3, 32, 32) to a plain callable, is
            refused until ``batch`` says which; see :func:`superexplain._validation.check_images`.

        Notes
        -----
        A model with an integer input (``keras.Input(..., dtype="uint8")``) takes whole numbers in
        its dtype's range only; other values, which the cast would change (0.9 to 0), are refused.
        """
        from .._validation import shape_of

        height, width, channels = self.input_shape
        dtype = None
        if self.keras_model is not None:
            from .keras_model import input_dtype

            dtype = input_dtype(self.keras_model)
        array, single = check_images(images, name, channels=(channels,) if channels else None, batch=batch,
                                     dtype=dtype)
        if (height is not None and height != array.shape[1]) or (width is not None and width != array.shape[2]):
            raise ValueError(
                f"{name} must be {height}x{width} pixels (the model's input size); got {array.shape[1]}x"
                f"{array.shape[2]} (shape {shape_of(images)})"
            )
        return array, single

    # ------------------------------------------------------------------ prediction
    def _compiled(self, output: str) -> Callable:
        from . import keras_model as _keras

        model = self.keras_model
        height, width, channels = self.input_shape

        def build():
            fn, _ = self.score_function("logit" if output == "logits" else "probability")
            return _keras.compile_for_images(fn, model, (height, width, channels))

        return compiled(model, ("predict", output, self.binary), build)

    def score_batch(self, batch: np.ndarray, output: str = "output", batch_index: int = 0) -> np.ndarray:
        """The model's checked scores (N, classes) for one float32 batch of validated images: one model call
        (errors name the batch by ``batch_index``). :func:`~superexplain.models.batching.predict_in_batches` calls this."""
        if self.keras_model is not None:
            check_class_output(self.output_shape)
        scores = self.raw_outputs(batch, output, batch_index)
        if self.keras_model is None:
            check_class_output(getattr(scores, "shape", None))
        scores = check_scores(scores, batch.shape[0], batch_index)
        if self._num_classes is None:
            self._num_classes = int(scores.shape[1])
            if self.class_names is not None and len(self.class_names) != self._num_classes:
                raise ValueError(
                    f"class_names has {len(self.class_names)} names but the model outputs {self._num_classes} classes"
                )
        elif scores.shape[1] != self._num_classes:
            raise ValueError(f"the model returned {scores.shape[1]} classes, earlier {self._num_classes}")
        return scores.astype(np.float32, copy=False)

    def raw_outputs(self, batch: np.ndarray, output: str = "output", batch_index: int = 0) -> Any:
        """The model's output (of any shape, unchecked) for one float32 batch: one model call."""
        if self.keras_model is not None:
            from . import keras_model as _keras

            return self._compiled(output)(_keras.as_float_input(batch, self.keras_model)).numpy()
        try:
            outputs = cast(Callable, self.function)(batch)  # a plain callable's predictor
        except Exception as exc:
            raise RuntimeError(f"the model raised {type(exc).__name__} on batch {batch_index}: {exc}") from exc
        outputs = pick_output(outputs, self.selected_output)
        return outputs.numpy() if hasattr(outputs, "numpy") and not isinstance(outputs, np.ndarray) else outputs

    def check_output(self, output: Any) -> str:
        """Validate a ``predict`` output choice: ``"output"``, or ``"logits"`` where the model has them."""
        check_choice(output, "output", ("output", "logits"))
        if output == "logits" and not self.has_logits:
            raise ValueError(f"this model's logits are not available: {self._logits_note}")
        return output

    def predict(self, images: Any, output: str = "output", batch_size: int | None = None,
                verbose: int | bool = 0, validate: bool = True) -> np.ndarray:
        """Scores for a batch of images, shape (N, classes), float32.

        Parameters
        ----------
        images : array_like
            One image or a batch; validated against the model's input unless ``validate=False``
            (for callers that built the batch themselves from a validated image).
        output : {"output", "logits"}
            The model's own output, or the scores before its final softmax/sigmoid.
        batch_size : int, optional
            Images per model call (default: the predictor's ``batch_size``).
        verbose : int or bool
            Show a progress bar over batches.

        Examples
        --------
        >>> import numpy as np
        >>> from superexplain.models import as_predictor
        >>> predictor = as_predictor(lambda x: x.mean(axis=(1, 2)))
        >>> predictor.predict(np.ones((2, 4, 4, 3))).shape
        (2, 3)
        """
        self.check_output(output)
        if validate:
            batch, _ = self.check_images(images)
        else:
            batch = np.asarray(images, dtype=np.float32)
        from .batching import predict_in_batches

        return predict_in_batches(self, lambda start, stop: batch[start:stop], batch.shape[0], batch_size=batch_size,
                                  output=output, verbose=verbose, desc="predict")

    def fastest_batch_size(self, images: Any = None, candidates: Sequence[int] = (8, 16, 32, 64, 128, 256),
                           output: str = "output", repeat: int = 2) -> int:
        """The candidate batch size fastest per image (see :func:`superexplain.models.batching.fastest_batch_size`)."""
        from .batching import fastest_batch_size

        return fastest_batch_size(self, images, candidates, output, repeat)

    def output_for(self, score: str) -> tuple[str, str]:
        """``score`` -> the ``predict`` output to ask for ("logits" for ``score="logit"`` where the model has
        pre-softmax logits, else "output") and the kind of score it gives."""
        check_choice(score, "score", ("logit", "probability"))
        output = "logits" if score == "logit" and self.has_logits else "output"
        return output, self.score_kind(output)

    def scores(self, images: Any, score: str = "logit", **kwargs: Any) -> tuple[np.ndarray, str]:
        """Scores in the units a method explains, and their kind (see :meth:`output_for`)."""
        output, kind = self.output_for(score)
        return self.predict(images, output=output, **kwargs), kind

    def score_function(self, score: str = "logit") -> tuple[Callable, str]:
        """A differentiable function ``x (tensor batch) -> scores (tensor)`` and the kind of score.

        For the gradient methods: ``score="logit"`` gives the pre-softmax/sigmoid logits when the
        model ends in one (as the original Grad-CAM does), else the output itself;
        ``score="probability"`` gives the output. Only Keras models are differentiable here.
        """
        if score not in ("logit", "probability"):
            raise ValueError(f"score must be 'logit' or 'probability'; got {score!r}")
        if self.keras_model is None:
            raise TypeError(
                "gradient methods need a Keras model (they differentiate it); got a plain callable. "
                "Use a perturbation method (lime, kernelshap, occlusion, rise), which accepts any callable"
            )
        model = self.keras_model
        if score == "logit" and self.has_logits:
            scores, kind = cast(Callable, self._logits_fn), self.score_kind("logits")
        else:
            scores, kind = (lambda x: model(x, training=False)), self.score_kind("output")
        if not self.binary:
            return scores, kind
        from .keras_model import binary_columns

        column_kind = "logit" if kind == "logit" else "probability"
        return (lambda x: binary_columns(scores(x), column_kind)), kind

    def resolve_targets(self, targets: Any, scores: np.ndarray, top_labels: int | None = None,
                        name: str = "targets") -> list[list[int]]:
        """Turn a target specification into class indices per image.

        ``targets``: None (each image's top class, or its ``top_labels`` best), an int or a class
        name for every image, or a sequence with one entry (int, name, or a list of them) per image.
        ``scores`` are the model's scores for the batch, shape (N, classes). The rules are
        :func:`superexplain.models.targets.resolve_targets`'s. Errors call the argument ``name``, or
        the name a :class:`~superexplain.models.targets.Named` ``targets`` carries.
        """
        if self.score_target is None:
            check_class_output(self.output_shape, name, targets)
        return resolve_targets(targets, scores.shape[1], self.class_names, scores=scores, top_labels=top_labels,
                               name=name)

    def __repr__(self) -> str:
        kind = type(self.keras_model).__name__ if self.keras_model is not None else "callable"
        return (f"Predictor({kind}, input={self.input_shape}, classes={self._num_classes}, "
                f"activation={self.output_activation!r})")
