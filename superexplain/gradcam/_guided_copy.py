"""A private copy of a Keras model whose ReLU gradients are rectified, for guided backpropagation."""
from __future__ import annotations

from typing import Any

__all__ = ["guided_copy", "sync_weights", "unsupported_nonlinearities"]


def _relu_bounds(layer_or_fn: Any) -> tuple[bool, float | None]:
    """Whether an activation (function or layer) is a plain ReLU family member, and its upper clip.

    Only ReLUs with threshold 0 and no negative slope are rectified: their derivative is the
    indicator of ``0 < z < max_value``, which guided backpropagation multiplies by ``[grad > 0]``.
    """
    import keras

    if isinstance(layer_or_fn, keras.layers.ReLU):
        config = layer_or_fn.get_config()
        if float(config.get("negative_slope", 0.0) or 0.0) != 0.0 or float(config.get("threshold", 0.0) or 0.0) != 0.0:
            return False, None
        max_value = config.get("max_value")
        return True, None if max_value is None else float(max_value)
    name = getattr(layer_or_fn, "__name__", "")
    if name == "relu":
        return True, None
    if name == "relu6":
        return True, 6.0
    return False, None


#: Activations that are piecewise linear with no rectification to guide: left as they are.
_PASS_THROUGH = ("linear", "identity")


def _nonlinearity(layer: Any) -> str | None:
    """The name of a nonlinearity in ``layer`` that guided backpropagation cannot rectify, else None."""
    import keras

    if isinstance(layer, keras.layers.ReLU):
        return None if _relu_bounds(layer)[0] else "leaky or thresholded ReLU"
    for kind in ("LeakyReLU", "PReLU", "ELU"):
        if isinstance(layer, getattr(keras.layers, kind)):
            return kind
    if isinstance(layer, keras.layers.Softmax):
        return "softmax"
    activation = getattr(layer, "activation", None)
    if activation is None or not callable(activation):
        return None
    name = getattr(activation, "__name__", type(activation).__name__)
    if name in _PASS_THROUGH or _relu_bounds(activation)[0]:
        return None
    return name


def unsupported_nonlinearities(model: Any) -> list[tuple[str, str]]:
    """``(layer path, activation)`` for each non-ReLU nonlinearity the model's score passes through.

    The output layer's own softmax/sigmoid is not counted: guided backpropagation explains the
    logit before it.
    """
    from ..models.graph import model_graph, traceable

    if not traceable(model):
        return []
    graph = model_graph(model)
    output_layer = graph.producer(graph.outputs[0])
    found = []
    for call in graph.calls:
        if traceable(call.layer) or (output_layer is not None and call.layer is output_layer.layer):
            continue
        kind = _nonlinearity(call.layer)
        if kind is not None:
            found.append((call.name, kind))
    return found


def _guided_relu(forward: Any, max_value: float | None):
    """Wrap ``forward`` (a ReLU) so that its backward pass lets only positive gradients through."""
    import tensorflow as tf

    @tf.custom_gradient
    def guided(z):
        output = forward(z)  # the original op: forward values stay bit-identical to the user's model

        def backward(upstream):
            open_units = z > 0
            if max_value is not None:
                open_units = tf.logical_and(open_units, z < max_value)
            keep = tf.logical_and(open_units, upstream > 0)
            return tf.where(keep, upstream, tf.zeros_like(upstream))

        return output, backward

    return guided


def _make_guided_layer_class():
    import keras

    class GuidedReLU(keras.layers.Layer):
        """Applies the wrapped ReLU in the forward pass; rectifies gradients in the backward pass."""

        def __init__(self, forward, max_value=None, **kwargs):
            super().__init__(**kwargs)
            self._guided = _guided_relu(forward, max_value)

        def call(self, inputs):
            return self._guided(inputs)

        def compute_output_shape(self, input_shape):
            return input_shape

    return GuidedReLU


def guided_copy(model: Any) -> tuple[Any, int]:
    """A copy of ``model`` whose ReLU units pass only positive gradients back (Springenberg et al.).

    Raises ValueError for a model whose score also passes through other nonlinearities (swish,
    GELU, sigmoid gates, leaky ReLU, ...; see :func:`unsupported_nonlinearities`).

    The copy has its own variables (:func:`sync_weights` copies the user's values in); the user's
    model is never changed. ReLU activations inside layers (``Conv2D(..., activation="relu")``),
    ``Activation("relu"/"relu6")`` layers and ``ReLU`` layers (with ``max_value``) are rectified,
    in nested models too. Returns ``(copy, number of rectified ReLUs)``.

    Examples
    --------
    >>> import keras
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu")])
    >>> copy, count = guided_copy(model)
    >>> count
    1
    """
    import keras

    unsupported = unsupported_nonlinearities(model)
    if unsupported:
        kinds = sorted({kind for _, kind in unsupported})
        examples = ", ".join(f"{name!r} ({kind})" for name, kind in unsupported[:3])
        raise ValueError(
            f"guided backpropagation rectifies ReLU units only, and this model's score also passes through "
            f"{', '.join(kinds)} ({len(unsupported)} layers, e.g. {examples}); a guided map of such a model "
            "mixes rectified and unrectified units and means nothing. Families affected include EfficientNet "
            "(swish, sigmoid gates), MobileNetV3 (hard swish) and ConvNeXt (GELU). Use saliency, "
            "integrated_gradients or smoothgrad instead")
    guided_layer = _make_guided_layer_class()
    count = 0

    def clone_layer(layer):
        nonlocal count
        is_relu, max_value = _relu_bounds(layer)
        if is_relu:
            count += 1
            forward = layer.__class__.from_config(layer.get_config())  # no tie to the user's layer
            return guided_layer(forward.call, max_value, name=layer.name)
        clone = layer.__class__.from_config(layer.get_config())
        activation = getattr(clone, "activation", None)
        if activation is not None:
            is_relu, max_value = _relu_bounds(activation)
            if is_relu:
                count += 1
                clone.activation = _guided_relu(activation, max_value)
        return clone

    try:
        copy = keras.models.clone_model(model, clone_function=clone_layer, recursive=True)
    except Exception as exc:  # a subclassed model or a layer without a working get_config
        raise ValueError(
            "guided backpropagation needs a Functional or Sequential Keras model that "
            f"keras.models.clone_model can copy; cloning {type(model).__name__} {model.name!r} failed with "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    sync_weights(model, copy)
    return copy, count


def sync_weights(model: Any, copy: Any) -> None:
    """Copy the current values of ``model``'s variables into ``copy`` (same architecture).

    Called before every guided run, so that weights changed after the copy was made (for example
    by a model-randomisation sanity check) are seen.
    """
    sources, targets = model.weights, copy.weights
    if len(sources) != len(targets) or any(tuple(s.shape) != tuple(t.shape) for s, t in zip(sources, targets)):
        raise ValueError(
            f"the guided copy of {model.name!r} does not match the model's variables "
            f"({len(targets)} vs {len(sources)}); guided backpropagation cannot use it"
        )
    for source, target in zip(sources, targets):
        target.assign(source)
