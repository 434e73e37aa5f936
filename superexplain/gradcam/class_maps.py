"""Class-map layers: as many channels as classes, reaching the output only through parameter-free layers.

Grad-CAM at such a layer equals the class map itself (the gradient of a global-average-pooled
channel is the same at every pixel), which may or may not be where the evidence is (issue: the
FER mini-Xception's last convolution points at the forehead while occlusion finds the mouth).
"""
from __future__ import annotations

import warnings
import weakref
from collections.abc import Sequence

__all__ = ["class_map_layers", "warn_if_class_map"]

#: Models already warned about their automatic class-map layer (each is warned once).
_WARNED: weakref.WeakSet = weakref.WeakSet()


def class_map_layers(model, layers: Sequence, num_classes: int | None = None) -> set[str]:
    """Names of the resolved ``layers`` that are class maps of ``model``: their channel count equals the number of
    classes (default: the output's last axis) and every layer after them that the output depends on has no weights.

    Examples
    --------
    >>> import keras
    >>> from superexplain.gradcam import resolve_layer
    >>> inputs = keras.Input((8, 8, 3))
    >>> features = keras.layers.Conv2D(6, 3, name="features")(inputs)
    >>> classes = keras.layers.Conv2D(2, 1, name="class_map")(features)
    >>> outputs = keras.layers.Softmax()(keras.layers.GlobalAveragePooling2D()(classes))
    >>> model = keras.Model(inputs, outputs)
    >>> sorted(class_map_layers(model, [resolve_layer(model, "features"), resolve_layer(model, "class_map")]))
    ['class_map']
    """
    from ..models.graph import model_graph, traceable

    if not traceable(model):
        return set()
    graph = model_graph(model)
    if num_classes is None:
        num_classes = tuple(graph.outputs[0].shape)[-1]
    calls = [call for call in graph.feeding(0) if not traceable(call.layer)]
    found = set()
    for layer in layers:
        if layer.output_shape[-1] != num_classes:
            continue
        position = max((i for i, call in enumerate(calls) if tuple(call.path) == tuple(layer.path)), default=None)
        if position is not None and not any(call.layer.weights for call in calls[position + 1:]):
            found.add(layer.name)
    return found


def warn_if_class_map(model, resolved) -> None:
    """Warn (once per model) when the automatically chosen layer is a class map, pointing to ``layer="best"``."""
    if not resolved.automatic or model in _WARNED or not class_map_layers(model, [resolved]):
        return
    _WARNED.add(model)
    warnings.warn(
        f"the automatic layer {resolved.name!r} is a class map (one channel per class, then only pooling and "
        "activations): a CAM there is the class map itself, which can point away from the evidence. "
        'Compare layers with layer="best" or superexplain.gradcam.rank_layers(model, images)',
        UserWarning, stacklevel=4)
