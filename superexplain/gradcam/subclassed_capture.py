"""A layer's output captured during a subclassed Keras model's own call: the recorder, the probe and the model view.

A subclassed ``keras.Model`` (one that defines ``call()``) has no graph to replay, but every layer
it calls goes through ``Layer.__call__``, which runs ``self.call``. :func:`capturing` shadows that
method with an instance attribute that calls the original and records its output, then removes the
attribute again (also when the model raises): the recorded tensor is the very tensor the rest of
the model goes on with, so a ``tf.GradientTape`` around the model call differentiates the scores
with respect to it. The CAM graphs are ``tf.function``\\ s: the recorder is in place only while a
function is traced, and the traced graph, run afterwards, never touches the model again.

Not thread-safe: two threads tracing functions of the *same model instance* at once (the first CAM
call of a layer, or a layer resolution's probe) would interleave their recorders. Calls of an
already traced function may run concurrently.
"""
from __future__ import annotations

import contextlib
import functools
from typing import Iterator

import numpy as np

from ..models.tracing import compile_function

__all__ = ["capturing", "build_input_shape", "probe_sublayers", "CapturedModel", "prepare_subclassed",
           "SUBCLASSED_METHODS"]

#: The methods that run on a subclassed model (with ``layer=``); Ablation-CAM, feature factorization and
#: FullGrad cut the model in two, which needs a Functional or Sequential model.
SUBCLASSED_METHODS = ("gradcam", "gradcam++", "layercam", "hirescam", "gradcam_elementwise", "xgradcam", "eigencam",
                      "eigengradcam", "scorecam")
_NOTHING = object()


def _recorder(call, record: list):
    @functools.wraps(call)
    def recorded(*args, **kwargs):
        outputs = call(*args, **kwargs)
        record.append(outputs)
        return outputs

    return recorded


@contextlib.contextmanager
def capturing(layers) -> Iterator[dict[int, list]]:
    """While open, every call of a layer of ``layers`` appends its output to ``records[id(layer)]``.

    The layer's ``call`` is shadowed by an instance attribute (set past Keras' attribute tracking)
    that runs the original; on exit, error or not, the attribute is removed again (or the
    instance's own earlier ``call`` put back), so the layer is exactly as it was. Not thread-safe: see
    the module's notes.

    Examples
    --------
    >>> import keras, numpy as np
    >>> dense = keras.layers.Dense(2)
    >>> with capturing([dense]) as records:
    ...     outputs = dense(np.ones((1, 3), "float32"))
    >>> len(records[id(dense)]), records[id(dense)][0] is outputs, "call" in vars(dense)
    (1, True, False)
    """
    records: dict[int, list] = {}
    shadowed = []
    try:
        for layer in layers:
            if id(layer) in records:
                continue
            records[id(layer)] = []
            previous = vars(layer).get("call", _NOTHING)
            object.__setattr__(layer, "call", _recorder(layer.call, records[id(layer)]))
            shadowed.append((layer, previous))
        yield records
    finally:
        for layer, previous in reversed(shadowed):
            if previous is _NOTHING:
                object.__delattr__(layer, "call")
            else:
                object.__setattr__(layer, "call", previous)


def build_input_shape(model) -> tuple:
    """``(H, W, C)`` the subclassed ``model`` was built on (``model.get_build_config()``; None where free).

    Raises a ValueError for a model never built, or built on something else than image batches.

    Examples
    --------
    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.layers.Dense(2)])
    >>> model.build((None, 5, 5, 3))
    >>> build_input_shape(model)
    (5, 5, 3)
    """
    config = model.get_build_config() if model.built else None
    shape = (config or {}).get("input_shape")
    if shape is None or len(shape) != 4 or not all(d is None or isinstance(d, (int, np.integer)) for d in shape):
        raise ValueError(
            f"the subclassed model {type(model).__name__} has not been built on image batches (N, H, W, C) "
            f"(its build config: {config!r}), so its layers' outputs are unknown. Call it once on a batch, "
            "model(images), or build it: model.build((None, H, W, C))")
    return tuple(None if d is None else int(d) for d in shape[1:])


def probe_sublayers(model, layers, input_shape: tuple) -> dict[int, tuple[int, tuple]]:
    """``{id(layer): (calls, output shape)}`` for ``layers`` in one forward pass of ``model`` on (None, *input_shape).

    The model is traced, not run (no numbers are computed): shapes are static, None where the
    input leaves them free; a call with several outputs has shape ``()``. Cached per model and shape.

    Examples
    --------
    >>> import keras
    >>> dense = keras.layers.Dense(2)
    >>> model = keras.Sequential([dense, dense])      # one layer called twice
    >>> model.build((None, 2))
    >>> probe_sublayers(model, [dense], (2,))[id(dense)]
    (2, (None, 2))
    """
    import tensorflow as tf

    from ..models.cache import compiled

    layers = list(layers)

    def probe():
        report: dict[int, tuple[int, tuple]] = {}

        def run(x):
            with capturing(layers) as records:
                model(x, training=False)
            for layer in layers:
                outputs = records[id(layer)]
                shape = getattr(outputs[-1], "shape", None) if outputs else None
                report[id(layer)] = (len(outputs), () if shape is None else tuple(shape))

        spec = tf.TensorSpec((None,) + tuple(input_shape), tf.float32)
        compile_function(run, autograph=False).get_concrete_function(spec)
        return report

    key = ("subclassed-probe", tuple(input_shape), tuple(id(layer) for layer in layers))
    return compiled(model, key, probe)


def _called_twice(name: str, calls: int) -> ValueError:
    return ValueError(
        f"layer {name!r} is called {calls} times in one forward pass of the model, so it has no single output to "
        "map; name a layer that the model's call() uses once (a layer object reused in call() is one layer)")


class CapturedModel:
    """``captured(x, training=False) -> (activations, outputs)``: the subclassed model's own call with the layer's
    output recorded; what :class:`~superexplain.gradcam.cam_graph.CamGraph` runs in place of the Functional
    sub-model it builds for a traceable model.

    Examples
    --------
    >>> import keras, numpy as np
    >>> conv = keras.layers.Conv2D(2, 3)
    >>> captured = CapturedModel(keras.Sequential([conv, keras.layers.Flatten()]), conv, "conv")
    >>> activations, outputs = captured(np.zeros((1, 5, 5, 1), "float32"))
    >>> tuple(activations.shape), tuple(outputs.shape)
    ((1, 3, 3, 2), (1, 18))
    """

    def __init__(self, model, layer, name: str) -> None:
        self.model = model
        self.layer = layer
        self.name = name

    def __call__(self, x, training: bool = False):
        with capturing([self.layer]) as records:
            outputs = self.model(x, training=training)
        recorded = records[id(self.layer)]
        if len(recorded) != 1:
            if not recorded:
                raise ValueError(f"layer {self.name!r} was not called when the model ran")
            raise _called_twice(self.name, len(recorded))
        if not hasattr(outputs, "shape"):
            raise ValueError(f"the model returned {type(outputs).__name__}; CAM methods on a subclassed model need "
                             "one tensor of scores (N, classes)")
        return recorded[0], outputs


def prepare_subclassed(predictor, resolved, tag: str) -> None:
    """Before a compiled CAM object is built for a subclassed model's layer: refuse the objects that cut the
    model in two (``tag`` other than ``"cam-graph"``), and learn the class count with one call on a zero image
    (a subclassed model does not declare its output shape).

    Examples
    --------
    >>> prepare_subclassed(None, None, "cam-head")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: Ablation-CAM, feature factorization and FullGrad cut the model in two ... perturbation method
    """
    if tag != "cam-graph":
        raise TypeError(
            "Ablation-CAM, feature factorization and FullGrad cut the model in two at a layer, which needs a "
            f"Functional or Sequential model; on a subclassed model use {', '.join(SUBCLASSED_METHODS)} (with "
            "layer=), or a perturbation method")
    if predictor.num_classes is not None:
        return
    height, width, channels = resolved.input_shape
    if height is None or width is None or channels is None:
        raise ValueError(
            f"the subclassed model was built on images of free size {resolved.input_shape}, so its number of "
            "classes is unknown before a call; build it on one size, model.build((None, H, W, C))")
    predictor.score_batch(np.zeros((1, height, width, channels), np.float32))
