"""FullGrad's compiled graph: which layers add a bias, and one backward pass giving the input gradient and
every bias layer's pre-activation gradient.

A layer "adds a bias" b when its output before any fused activation is z = (linear map of its input) + b:
convolutions (Conv1D/2D/3D, DepthwiseConv1D/2D, SeparableConv1D/2D, Conv1D/2D/3DTranspose) and Dense
with ``use_bias=True``, and BatchNormalization in inference mode, whose implicit bias is
beta - gamma * moving_mean / sqrt(moving_variance + epsilon). For a layer with a fused activation
(``Conv2D(..., activation="relu")``) z is not a tensor of the Keras graph: it is recomputed from the
layer's input with the public ``keras.ops`` convolutions and the layer's own variables, and
dL/dz = J_act(z)^T dL/d(output) is the activation's vector-Jacobian product.
"""
from __future__ import annotations

from typing import Any, NamedTuple

from .cam_graph import select_targets
from ..models.tracing import compile_function

__all__ = ["BiasLayer", "bias_layers", "layer_bias", "FullGradGraph", "fullgrad_graph"]


def _kinds():
    import keras

    layers = keras.layers
    return {
        "conv": (layers.Conv1D, layers.Conv2D, layers.Conv3D),
        "depthwise": (layers.DepthwiseConv1D, layers.DepthwiseConv2D),
        "separable": (layers.SeparableConv1D, layers.SeparableConv2D),
        "transpose": (layers.Conv1DTranspose, layers.Conv2DTranspose, layers.Conv3DTranspose),
        "dense": (layers.Dense,),
        "batchnorm": (layers.BatchNormalization,),
    }


def _kind(layer) -> str | None:
    for kind, classes in _kinds().items():
        if isinstance(layer, classes):
            return kind
    return None


class BiasLayer(NamedTuple):
    """One call of a layer that adds a bias: its name (``"#2"`` appended for a shared layer's second call),
    the :class:`~superexplain.models.graph.LayerCall`, the kind of layer, the output's channel axis, and
    whether an activation follows the bias inside the layer."""

    name: str
    call: Any
    kind: str
    channel_axis: int
    fused: bool


def _channel_axis(layer, kind: str) -> int:
    if kind == "batchnorm":
        return int(layer.axis)
    if kind == "dense":
        return -1
    return 1 if getattr(layer, "data_format", "channels_last") == "channels_first" else -1


def _has_bias_weight(layer) -> bool:
    return any(getattr(w, "path", getattr(w, "name", "")).split("/")[-1].split(":")[0] in ("bias", "beta")
               for w in layer.weights)


def bias_layers(model) -> tuple[list[BiasLayer], dict[str, str]]:
    """The layer calls of ``model``'s replayed graph that the first output depends on and that add a bias, and
    ``{name: why}`` for the layers with a bias weight that are not covered.

    Examples
    --------
    >>> from superexplain.datasets import load_demo_model
    >>> covered, skipped = bias_layers(load_demo_model())
    >>> [layer.name for layer in covered], skipped
    (['bn1', 'bn2', 'bn3', 'last_conv', 'predictions'], {})
    """
    from ..models.graph import model_graph, traceable

    graph = model_graph(model)
    covered, skipped = [], {}
    seen: dict[str, int] = {}
    for call in graph.feeding(0):
        layer = call.layer
        if traceable(layer):
            continue
        name = call.name
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name = f"{name}#{seen[name]}"
        kind = _kind(layer)
        if kind is None:
            if _has_bias_weight(layer):
                skipped[name] = (f"{type(layer).__name__} has a bias but is not a layer FullGrad covers; its bias "
                                 "is left out of the map and shows in the completeness gap")
            continue
        if kind == "batchnorm" or layer.use_bias:
            fused = kind != "batchnorm" and getattr(layer.activation, "__name__", "") != "linear"
            covered.append(BiasLayer(name, call, kind, _channel_axis(layer, kind), fused))
    return covered, skipped


def layer_bias(layer, kind: str):
    """The bias a layer adds, float32 (c,): its ``bias``, or BatchNormalization's implicit inference-mode bias.

    Examples
    --------
    >>> import keras, numpy as np
    >>> bn = keras.layers.BatchNormalization(epsilon=0.0)
    >>> bn.build((None, 2))
    >>> for variable, value in ((bn.moving_mean, [1.0, 2.0]), (bn.moving_variance, [4.0, 1.0]), (bn.beta, [0.5, 0.0])):
    ...     _ = variable.assign(value)
    >>> np.asarray(layer_bias(bn, "batchnorm")).tolist()        # beta - gamma * mean / sqrt(var)
    [0.0, -2.0]
    """
    from keras import ops

    if kind != "batchnorm":
        return ops.cast(layer.bias, "float32")
    mean = ops.cast(layer.moving_mean, "float32")
    scale = ops.rsqrt(ops.cast(layer.moving_variance, "float32") + layer.epsilon)
    if layer.scale:
        scale = scale * ops.cast(layer.gamma, "float32")
    bias = -mean * scale
    return bias + ops.cast(layer.beta, "float32") if layer.center else bias


def _pre_activation(layer, kind: str, inputs):
    """z = linear map + bias, recomputed from the layer's input with its own variables (fused activations only)."""
    from keras import ops

    dtype = layer.compute_dtype
    x = ops.cast(inputs, dtype)
    common = {"strides": layer.strides, "padding": layer.padding, "data_format": layer.data_format,
              "dilation_rate": layer.dilation_rate} if kind != "dense" else {}
    if kind == "dense":
        z = ops.matmul(x, ops.cast(layer.kernel, dtype))
    elif kind == "conv":
        z = ops.conv(x, ops.cast(layer.kernel, dtype), **common)
    elif kind == "depthwise":
        z = ops.depthwise_conv(x, ops.cast(layer.kernel, dtype), **common)
    elif kind == "separable":
        z = ops.separable_conv(x, ops.cast(layer.depthwise_kernel, dtype), ops.cast(layer.pointwise_kernel, dtype),
                               **common)
    else:
        z = ops.conv_transpose(x, ops.cast(layer.kernel, dtype), output_padding=layer.output_padding, **common)
    shape = [1] * len(z.shape)
    shape[_channel_axis(layer, kind)] = -1
    return z + ops.reshape(ops.cast(layer.bias, dtype), shape)


class FullGradGraph:
    """One compiled function for one (model, score kind): ``terms(x, targets)`` with one target per row
    (int32 (M,), ``-r`` = the row's r-th best class) returns ``(scores (M,), resolved (M,), input_term
    (M, H, W, C), bias_terms)``: the explained score f(x), the class, grad_x f ⊙ x, and for each layer of
    :attr:`layers` grad_z f ⊙ b in the layer's output shape, all float32, from one backward pass.
    Built and cached by :func:`fullgrad_graph`.
    """

    def __init__(self, model, logits: bool, input_shape: tuple, binary: bool, score_target: Any = None) -> None:
        import tensorflow as tf

        from ..models.graph import model_graph

        graph = model_graph(model)
        self.layers, self.skipped = bias_layers(model)
        self.binary, self.logits, self.score_target = binary, logits, score_target
        pre_activation = graph.logits(0)[1] if logits else None
        scores = graph.outputs[0] if pre_activation is None else pre_activation
        exposed: list = []

        def index(tensor) -> int:  # each tensor exposed once
            for i, known in enumerate(exposed):
                if known is tensor:
                    return i
            exposed.append(tensor)
            return len(exposed) - 1

        # per layer: (output, input or None, pre-activation branch or None) as indices of the exposed tensors
        self._slots = [(index(graph.flat(b.call.output)[0]), index(b.call.inputs) if b.fused else None,
                        None if b.call.pre_activation is None else index(b.call.pre_activation)) for b in self.layers]
        self._score_slot = index(scores)
        self._exposed = graph.submodel(exposed)
        height, width, channels = input_shape
        dtype = model.inputs[0].dtype
        signature = [tf.TensorSpec([None, height, width, channels], dtype), tf.TensorSpec([None], tf.int32)]
        self.terms = compile_function(self._terms, input_signature=signature, autograph=False)

    def _terms(self, x, targets):
        import tensorflow as tf

        from ..models.keras_model import binary_columns

        with tf.GradientTape() as tape:
            tape.watch(x)
            tensors = self._exposed(x, training=False)
            tensors = tensors if isinstance(tensors, (list, tuple)) else [tensors]
            scores = tf.cast(tensors[self._score_slot], tf.float32)
            if self.score_target is not None:  # a score function of the outputs (superexplain.targets): class 0
                scores = tf.reshape(tf.cast(self.score_target(scores), tf.float32), (-1, 1))
            elif self.binary:
                scores = binary_columns(scores, "logit" if self.logits else "probability")
            resolved, selected = select_targets(scores, targets)
            total = tf.reduce_sum(selected)  # rows are independent in inference mode
        sources = [x, *tensors]
        gradients = tape.gradient(total, sources, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        gradients, x_gradient = gradients[1:], gradients[0]
        input_term = tf.cast(x_gradient, tf.float32) * tf.cast(x, tf.float32)
        bias_terms = []
        for layer, (out, inputs, pre) in zip(self.layers, self._slots):
            grad = gradients[out]
            if layer.fused and inputs is not None:  # a fused layer's input is exposed
                z = _pre_activation(layer.call.layer, layer.kind, tensors[inputs])
                with tf.GradientTape() as inner:
                    inner.watch(z)
                    activated = layer.call.layer.activation(z)
                grad = inner.gradient(activated, z, output_gradients=tf.cast(grad, activated.dtype))
            grad = tf.cast(grad, tf.float32)
            if pre is not None:  # the logits branch the score may read instead of the layer's own output
                grad = grad + tf.cast(gradients[pre], tf.float32)
            shape = [1] * len(grad.shape)
            shape[layer.channel_axis] = -1
            bias_terms.append(grad * tf.reshape(layer_bias(layer.call.layer, layer.kind), shape))
        return selected, resolved, input_term, bias_terms


def fullgrad_graph(predictor, score: str) -> tuple[FullGradGraph, str]:
    """The cached :class:`FullGradGraph` of ``predictor``'s model for ``score`` (and its score target, if any),
    and the score kind.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> from superexplain.models import as_predictor
    >>> graph, kind = fullgrad_graph(as_predictor(load_demo_model()), "logit")
    >>> scores, resolved, input_term, bias_terms = graph.terms(make_shapes(1, seed=0).images, np.array([-1], np.int32))
    >>> kind, tuple(input_term.shape), [tuple(t.shape) for t in bias_terms][-2:]
    ('logit', (1, 64, 64, 3), [(1, 8, 8, 64), (1, 4)])
    """
    from ..models.cache import compiled

    _, kind = predictor.score_function(score)  # raises the TypeError for plain callables
    model = predictor.keras_model
    logits = score == "logit" and predictor.has_logits
    target = predictor.score_target  # equal score targets share one graph (see superexplain.targets)
    key = ("fullgrad-graph", kind, None if target is None else target.cache_key)
    return compiled(model, key, lambda: FullGradGraph(model, logits, predictor.input_shape, predictor.binary,
                                                      target)), kind
