"""The compiled CAM graph: one tf.function per (model, layer, score kind) giving activations, scores and gradients."""
from __future__ import annotations

import weakref
from typing import Any

from .layers import ResolvedLayer, graph_of

__all__ = ["CamGraph", "cam_graph"]


def _inference_call(operation):
    """Call ``operation`` in inference mode, the way a Functional model passes ``training`` on."""
    accepted = getattr(operation, "_call_context_args", None)

    def call(*args, **kwargs):
        if accepted is None or "training" in accepted:
            try:
                return operation(*args, training=False, **kwargs)
            except TypeError:
                if accepted is not None:
                    raise
        return operation(*args, **kwargs)

    return call


def logit_path(model) -> tuple[list, str]:
    """The chain of output layers (into nested models) ending at the one that applies the final activation.

    Returns ``(path, activation)``; ``path`` is empty when the output is already a logit/linear
    score or when the activation cannot be split off.
    """
    import keras

    from ..models._keras import _activation_name, _output_layer

    path = []
    current = model
    while True:
        layer = _output_layer(current)
        if layer is None:
            return [], "unknown"
        path.append(layer)
        if isinstance(layer, keras.Model) and graph_of(layer) is not None:
            current = layer
            continue
        break
    activation = _activation_name(path[-1]) or "unknown"
    splittable = isinstance(path[-1], (keras.layers.Dense, keras.layers.Activation, keras.layers.Softmax))
    if activation in ("softmax", "sigmoid") and splittable:
        return path, activation
    return [], activation


def _pre_activation(layer, args):
    """The output layer's scores before its softmax/sigmoid, computed from its own inputs and weights."""
    import keras
    from keras import ops

    features = args[0]
    if isinstance(layer, keras.layers.Dense):
        scores = ops.matmul(features, layer.kernel)
        return scores + layer.bias if layer.use_bias else scores
    return features  # an Activation/Softmax layer: its input is the logit


def run_exposing(model, inputs, capture: list, logits: list, store: dict):
    """Run ``model`` on ``inputs``, storing the output of the layer at the end of ``capture``.

    ``capture`` and ``logits`` are chains of layers into nested models; along ``logits`` the last
    layer's activation is skipped, so the returned scores are pre-softmax. Nothing about the model
    is changed: its own graph is replayed with the same layers and variables.
    """
    graph = graph_of(model)

    def operation_fn(operation):
        on_capture = bool(capture) and operation is capture[0]
        on_logits = bool(logits) and operation is logits[0]
        base = _inference_call(operation)
        if not (on_capture or on_logits):
            return base

        def call(*args, **kwargs):
            deeper_capture = capture[1:] if on_capture else []
            deeper_logits = logits[1:] if on_logits else []
            if deeper_capture or deeper_logits:
                outputs = run_exposing(operation, args[0], deeper_capture, deeper_logits, store)
            elif on_logits:
                outputs = _pre_activation(operation, args)
            else:
                outputs = base(*args, **kwargs)
            if on_capture and not deeper_capture:
                store["activations"] = outputs
            return outputs

        return call

    try:
        flat_inputs = graph._standardize_inputs(inputs)
    except (AttributeError, TypeError, ValueError):
        flat_inputs = [inputs]
    outputs = graph._run_through_graph(flat_inputs, operation_fn=operation_fn)
    if isinstance(outputs, (list, tuple)):
        outputs = outputs[0]
    return outputs


class CamGraph:
    """Compiled functions for one (model, layer, score kind).

    ``forward(x) -> (activations, scores)`` and ``gradients(x, targets) -> (activations, scores,
    gradients, resolved_targets)`` where ``targets`` is an int32 (N, K) array of class indices, a
    negative entry ``-r`` meaning "the image's r-th best class". ``gradients`` has shape
    (N, K, h, w, c): one backward pass for K = 1, one vectorised Jacobian for K > 1.
    """

    def __init__(self, model, resolved: ResolvedLayer, logits: list, input_shape: tuple) -> None:
        import tensorflow as tf

        # a weak reference: the cache entry lives in a WeakKeyDictionary keyed by this very model
        self._model = weakref.ref(model)
        self.resolved = resolved
        self.logits = list(logits)
        height, width, channels = input_shape
        dtype = model.inputs[0].dtype if getattr(model, "inputs", None) else tf.float32
        image_spec = tf.TensorSpec([None, height, width, channels], dtype)
        target_spec = tf.TensorSpec([None, None], tf.int32)
        signature = [image_spec, target_spec]
        # a None batch dimension: one trace serves every batch size
        self.forward = tf.function(self._forward, input_signature=[image_spec], autograph=False)
        self._single = tf.function(lambda x, t: self._gradients(x, t, False), input_signature=signature, autograph=False)
        self._multi = tf.function(lambda x, t: self._gradients(x, t, True), input_signature=signature, autograph=False)

    def _run(self, x):
        """Activations and scores in the model's own dtype (a float16 model stays float16 here)."""
        store: dict[str, Any] = {}
        scores = run_exposing(self._model(), x, self.resolved.path, self.logits, store)
        if "activations" not in store:
            raise ValueError(f"layer {self.resolved.name!r} was not reached when running the model")
        return store["activations"], scores

    def _forward(self, x):
        import tensorflow as tf

        activations, scores = self._run(x)
        return tf.cast(activations, tf.float32), tf.cast(scores, tf.float32)

    def _gradients(self, x, targets, several: bool):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(x)
            activations, scores = self._run(x)
            scores = tf.cast(scores, tf.float32)
            num_classes = tf.shape(scores)[1]
            order = tf.math.top_k(scores, k=num_classes).indices  # ties: lower index first
            ranked = tf.gather(order, tf.maximum(-targets - 1, 0), batch_dims=1)
            resolved = tf.where(targets < 0, ranked, targets)
            selected = tf.gather(scores, resolved, batch_dims=1)
            total = tf.reduce_sum(selected)  # images are independent in inference mode
        if several:
            gradients = tape.batch_jacobian(selected, activations)
        else:
            gradients = tape.gradient(total, activations)
            gradients = None if gradients is None else gradients[:, None]
        if gradients is None:
            raise ValueError(
                f"the model's score does not depend differentiably on layer {self.resolved.name!r}: "
                "no gradient flows from the output back to it (a non-differentiable step such as argmax "
                "or rounding?). Use a perturbation method (lime, kernelshap, occlusion, rise) instead"
            )
        return tf.cast(activations, tf.float32), scores, tf.cast(gradients, tf.float32), resolved

    def gradients(self, x, targets):
        several = targets.shape[1] > 1
        return (self._multi if several else self._single)(x, targets)


def cam_graph(predictor, resolved: ResolvedLayer, score: str) -> tuple[CamGraph, str]:
    """The cached :class:`CamGraph` for ``predictor``'s model, the layer and the score; and the score kind."""
    from ..models import _keras

    _, kind = predictor.score_function(score)  # raises the TypeError for plain callables
    model = predictor.keras_model
    path, activation = logit_path(model)
    logits = path if (score == "logit" and kind == "logit" and activation in ("softmax", "sigmoid")) else []
    key = ("cam-graph", tuple(id(layer) for layer in resolved.path), resolved.name, kind)
    graph = _keras.compiled(model, key, lambda: CamGraph(model, resolved, logits, predictor.input_shape))
    return graph, kind
