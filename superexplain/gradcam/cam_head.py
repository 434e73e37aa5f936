"""The model cut at a layer: a backbone (image -> activations, crossing tensors, scores) and a head (-> scores).

Ablation-CAM scores hundreds of edited copies of one image's activations; running only the part of
the model above the layer (the *head*) on them is what makes it affordable. The head is a
``keras.Model`` built on the replayed graph of :mod:`superexplain.models.graph` (nested backbones
inlined), from the layer's output to the scores, on the user's own layers and weights. Where the
part above the layer also reads tensors computed below it (a residual connection crossing the
cut, a second branch from the input), those *crossing* tensors become extra inputs of the head:
the backbone computes them once per image and the head takes them as they are.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np

from ..models.score_targets import use_score_target
from .cam_common import encode_targets, layer_params
from .layers import ResolvedLayer, resolve_layer
from .tokens import tokens_to_grid
from ..models.tracing import compile_function

if TYPE_CHECKING:
    from .subclassed import SubclassedLayer

__all__ = ["CamHead", "cam_head", "crossing_tensors", "HeadRun", "head_run"]


def crossing_tensors(graph, captured) -> list:
    """The tensors of ``graph`` (a :class:`~superexplain.models.graph.ModelGraph`) read above ``captured``
    but not computed from it: what the head needs besides the layer's activations, in call order.

    Examples
    --------
    >>> import keras
    >>> from superexplain.models.graph import model_graph
    >>> inputs = keras.Input((4, 4, 2))
    >>> a = keras.layers.Conv2D(2, 1, name="a")(inputs)
    >>> b = keras.layers.Conv2D(2, 1, name="b")(a)
    >>> model = keras.Model(inputs, keras.layers.Add(name="skip")([a, b]))
    >>> graph = model_graph(model)
    >>> cut = [c for c in graph.calls if c.name == "b"][0].output
    >>> [c.name for c in graph.calls if any(t is c.output for t in crossing_tensors(graph, cut))]
    ['a']
    """
    from ..models.graph import traceable

    downstream = {id(captured)}
    crossing, seen = [], set()
    for call in graph.calls:
        if traceable(call.layer):  # a nested model's record: its own layers were recorded before it
            continue
        if not any(id(t) in downstream for t in call.arguments):
            continue
        downstream.update(id(t) for t in graph.flat(call.output))
        for tensor in call.arguments:
            if id(tensor) not in downstream and id(tensor) not in seen:
                seen.add(id(tensor))
                crossing.append(tensor)
    return crossing


class CamHead:
    """Compiled halves of one model cut at one layer, for one score kind. Built and cached by :func:`cam_head`.

    ``forward(x) -> (activations, crossing, scores)``: the layer's activations in the model's own
    dtype, a tuple of the crossing tensors (empty where nothing crosses the cut) and the float32
    scores. ``scores(activations, crossing) -> scores``: the head alone. ``ablated(activations,
    crossing, channels) -> scores``: one image's activations (1, ..., c) copied once per entry of
    the int32 vector ``channels`` with that channel set to zero, scored by the head: (len(channels), classes).
    """

    def __init__(self, model, resolved: ResolvedLayer | SubclassedLayer, logits: bool, binary: bool,
                 score_target=None) -> None:
        import keras
        import tensorflow as tf

        from ..models.graph import model_graph

        self.resolved = resolved
        self.logits = logits
        self.binary = binary
        self.score_target = score_target  # a superexplain.targets score function: its one column is the score
        graph = model_graph(model)
        calls = [call for call in graph.calls if tuple(call.path) == tuple(resolved.path)]
        if not calls:
            raise ValueError(f"layer {resolved.name!r} was not reached when running the model")
        captured = graph.flat(calls[-1].output)[0]
        pre_activation = graph.logits(0)[1] if logits else None
        scores = graph.outputs[0] if pre_activation is None else pre_activation
        crossing = crossing_tensors(graph, captured)
        self.crossing_count = len(crossing)
        self._backbone = graph.submodel([captured, *crossing, scores])
        try:
            self._head = keras.Model([captured, *crossing], scores)
        except ValueError as error:
            raise ValueError(f"the model's scores cannot be computed from layer {resolved.name!r} and the tensors "
                             f"crossing it ({error})") from None
        specs = [tf.TensorSpec((None,) + tuple(t.shape[1:]), t.dtype) for t in [captured, *crossing]]
        image_spec = tf.TensorSpec((None,) + tuple(graph.inputs[0].shape[1:]), graph.inputs[0].dtype)
        self.forward = compile_function(self._forward, input_signature=[image_spec], autograph=False)
        self.scores = compile_function(self._scores, input_signature=[specs[0], tuple(specs[1:])], autograph=False)
        channel_spec = tf.TensorSpec([None], tf.int32)
        self.ablated = compile_function(self._ablated, input_signature=[specs[0], tuple(specs[1:]), channel_spec],
                                   autograph=False)

    def _float_scores(self, scores):
        import tensorflow as tf

        from ..models.keras_model import binary_columns

        scores = tf.cast(scores, tf.float32)
        if self.score_target is not None:
            return tf.reshape(tf.cast(self.score_target(scores), tf.float32), (-1, 1))
        return binary_columns(scores, "logit" if self.logits else "probability") if self.binary else scores

    def _forward(self, x):
        outputs = self._backbone(x, training=False)
        return outputs[0], tuple(outputs[1:-1]), self._float_scores(outputs[-1])

    def _scores(self, activations, crossing):
        inputs = [activations, *crossing]
        return self._float_scores(self._head(inputs if crossing else activations, training=False))

    def _ablated(self, activations, crossing, channels):
        import tensorflow as tf

        count = tf.shape(channels)[0]
        keep = 1.0 - tf.one_hot(channels, tf.shape(activations)[-1], dtype=activations.dtype)  # (B, c)
        keep = tf.reshape(keep, tf.concat([[count], tf.ones([tf.rank(activations) - 2], tf.int32), [-1]], 0))
        copies = activations * keep  # (1, ..., c) * (B, 1, ..., c): channel k of copy k is zero
        repeated = tuple(tf.repeat(t, count, axis=0) for t in crossing)
        return self._scores(copies, repeated)


def cam_head(predictor, resolved: ResolvedLayer | SubclassedLayer, score: str) -> tuple[CamHead, str]:
    """The cached :class:`CamHead` for ``predictor``'s model, the layer and the score; and the score kind.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> from superexplain.gradcam import resolve_layer
    >>> from superexplain.models import as_predictor
    >>> model = load_demo_model()
    >>> head, kind = cam_head(as_predictor(model), resolve_layer(model), "logit")
    >>> activations, crossing, scores = head.forward(make_shapes(1, seed=0).images)
    >>> kind, tuple(activations.shape), len(crossing)
    ('logit', (1, 8, 8, 64), 0)
    >>> bool(np.allclose(head.scores(activations, crossing), scores, atol=1e-5))
    True
    """
    from .cam_graph import compiled_for_layer

    return compiled_for_layer(predictor, resolved, score, "cam-head",
                              lambda model, logits, target: CamHead(model, resolved, logits, predictor.binary, target))


@dataclass
class HeadRun:
    """What a method on the cut model (Ablation-CAM, DFF) sets up before its loop: see :func:`head_run`."""

    predictor: Any
    finish: Callable[[list], list]
    resolved: ResolvedLayer | SubclassedLayer
    head: CamHead
    encoded: np.ndarray
    counts: list
    params: dict
    reshape: Any = None

    def batches(self, images: np.ndarray, size: int, dtype=np.float32) -> Iterator[tuple]:
        """Per chunk of ``size`` images: ``(start, chunk, activations, crossing, grids, scores)``: the
        backbone's tensors, the activations as a numpy (n, h, w, c) grid (tokens laid out) and numpy scores."""
        from ..models.keras_model import as_float_input

        for start in range(0, len(images), size):
            chunk = images[start:start + size]
            activations, crossing, scores = self.head.forward(as_float_input(chunk, self.predictor.keras_model))
            grids = activations.numpy().astype(dtype)
            if self.resolved.is_tokens:
                grids = tokens_to_grid(grids, self.reshape)
            yield start, chunk, activations, crossing, grids, scores.numpy()


def head_run(predictor, n_images: int, targets: Any, top_labels: Any, layer: Any, score: str,
             reshape: Any = None) -> HeadRun:
    """The score-target view, the layer, the cached head, the encoded targets and the common params.

    Examples
    --------
    >>> from superexplain.datasets import load_demo_model
    >>> from superexplain.models import as_predictor
    >>> run = head_run(as_predictor(load_demo_model()), 2, None, 2, None, "logit")
    >>> run.encoded.tolist(), run.params["layer"], run.params["score_kind"]
    ([[-1, -2], [-1, -2]], 'last_conv', 'logit')
    """
    predictor, targets, finish = use_score_target(predictor, targets, top_labels)  # a score function: its view
    predictor.score_function(score)  # plain callables: the TypeError pointing to perturbation methods
    resolved = layer if isinstance(layer, ResolvedLayer) else resolve_layer(predictor.keras_model, layer, reshape)
    head, kind = cam_head(predictor, resolved, score)
    encoded, counts = encode_targets(predictor, n_images, targets, top_labels)
    params = layer_params(resolved, reshape)
    params.update({"score_kind": kind, "upsampling": "bilinear, half-pixel centres"})
    return HeadRun(predictor, finish, resolved, head, encoded, counts, params, reshape)
