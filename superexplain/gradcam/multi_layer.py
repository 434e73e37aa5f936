"""Every candidate layer's CAM from one compiled pass: a sub-model with an output per layer, one backward pass."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..explanation import Explanation
from . import cam_maps
from .cam_common import layer_params
from .cam_graph import CamGraph, select_targets, tf_float32
from .cam_weighted import cam_map
from ..models.tracing import compile_function

__all__ = ["MultiLayerGraph", "cams_at_layers"]

#: Images per compiled call.
MULTI_LAYER_BATCH = 16


class MultiLayerGraph(CamGraph):
    """A :class:`~.cam_graph.CamGraph` for several layers at once: ``gradients(x, targets)`` gives every layer's
    activations and the gradients of the selected score with respect to each, in one pass (K = 1 target)."""

    def __init__(self, model, layers: Sequence, logits: bool, input_shape: tuple, binary: bool) -> None:
        import tensorflow as tf

        from ..models.graph import model_graph

        self.resolved, self.logits, self.binary, self.score_target = layers[0], logits, binary, None
        graph = model_graph(model)
        captured = []
        for layer in layers:
            calls = [call for call in graph.calls if tuple(call.path) == tuple(layer.path)]
            captured.append(graph.flat(calls[-1].output)[0])
        pre_activation = graph.logits(0)[1] if logits else None
        scores = graph.outputs[0] if pre_activation is None else pre_activation
        # one flat output list (Keras 3.3 refuses nested outputs), grouped again as (activations, scores)
        self._flat = graph.submodel([*captured, scores])
        self._exposed = self._grouped
        height, width, channels = input_shape
        dtype = model.inputs[0].dtype if getattr(model, "inputs", None) else tf.float32
        signature = [tf.TensorSpec([None, height, width, channels], dtype), tf.TensorSpec([None, 1], tf.int32)]
        self._all = compile_function(self._every_layer, input_signature=signature, autograph=False)

    def _grouped(self, x, training: bool = False) -> tuple:
        outputs = self._flat(x, training=training)
        return list(outputs[:-1]), outputs[-1]

    def _every_layer(self, x, targets):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(x)
            activations, scores = self._run(x)
            resolved, selected = select_targets(scores, targets)
            total = tf.reduce_sum(selected)
        gradients = tape.gradient(total, list(activations))
        if any(g is None for g in gradients):
            raise ValueError("the explained score does not depend differentiably on every candidate layer; "
                             "give candidates= that lie between the input and the output")
        return ([tf_float32(a) for a in activations], scores, [tf_float32(g)[:, None] for g in gradients], resolved)

    def gradients(self, x, targets):
        return self._all(x, targets)


def cams_at_layers(method: str, predictor, images: np.ndarray, encoded: np.ndarray, layers: Sequence,
                   relu: bool = True) -> dict:
    """``{layer name: [Explanation per image]}``: a CAM of :data:`.cam_weighted.WEIGHTED_VARIANTS` at every layer of
    ``layers`` (resolved), from one compiled forward and backward pass per batch of images.

    ``encoded`` is the (N, 1) int32 target array of :func:`.cam_common.encode_targets` (``-1``: the
    top class). The maps equal ``explain(..., method=method, layer=layer)`` at each layer.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> from superexplain.gradcam import resolve_layer
    >>> from superexplain.models import as_predictor
    >>> model = load_demo_model()
    >>> layers = [resolve_layer(model, "conv1"), resolve_layer(model, "last_conv")]
    >>> maps = cams_at_layers("gradcam", as_predictor(model), make_shapes(2, seed=0).images,
    ...                       np.full((2, 1), -1, np.int32), layers)
    >>> sorted(maps), maps["conv1"][0].feature_map.shape, maps["last_conv"][0].feature_map.shape
    (['conv1', 'last_conv'], (64, 64), (8, 8))
    """
    logits = predictor.has_logits
    from ..models.cache import compiled
    from ..models.keras_model import as_float_input

    model = predictor.keras_model
    key = ("multi-layer-cam", tuple(tuple(id(part) for part in layer.path) for layer in layers), logits)
    graph = compiled(model, key, lambda: MultiLayerGraph(model, layers, logits, predictor.input_shape,
                                                         predictor.binary))
    kind = "logit" if logits else "probability"
    out: dict = {layer.name: [] for layer in layers}
    for start in range(0, len(images), MULTI_LAYER_BATCH):
        chunk = images[start:start + MULTI_LAYER_BATCH]
        activations, scores, gradients, resolved = graph.gradients(as_float_input(chunk, model),
                                                                   encoded[start:start + MULTI_LAYER_BATCH])
        scores, resolved = scores.numpy(), resolved.numpy()
        for layer, acts, grads in zip(layers, activations, gradients):
            maps = cam_map(method, acts.numpy(), grads.numpy())
            maps = np.maximum(maps, 0.0) if relu else maps
            heatmaps = cam_maps.upsample(maps, chunk.shape[1:3])
            params = {**layer_params(layer), "score_kind": kind, "relu": relu,
                      "upsampling": "bilinear, half-pixel centres", "seed": None}
            for i in range(len(chunk)):
                target = int(resolved[i, 0])
                out[layer.name].append(Explanation(
                    image=chunk[i], method=method, target=target, heatmap=heatmaps[i, 0],
                    target_name=predictor.class_name(target), score=float(scores[i, target]),
                    feature_map=maps[i, 0].astype(np.float32), params=dict(params)))
    return out
