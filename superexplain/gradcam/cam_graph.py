"""The compiled CAM graph: one tf.function per (model, layer, score kind, score target) giving activations, scores
and gradients."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, cast

from .layers import ResolvedLayer
from ..models.tracing import compile_function

if TYPE_CHECKING:
    from .subclassed import SubclassedLayer

__all__ = ["CamGraph", "cam_graph", "compiled_for_layer", "select_targets"]


class CamGraph:
    """Compiled functions for one (model, layer, score kind, score target).

    ``forward(x) -> (activations, scores)`` and ``gradients(x, targets) -> (activations, scores,
    gradients, resolved_targets)`` where ``targets`` is an int32 (N, K) array of class indices, a
    negative entry ``-r`` meaning "the image's r-th best class". ``gradients`` has shape
    (N, K, h, w, c): one backward pass for K = 1, one vectorised Jacobian for K > 1.
    With a ``score_target`` (:mod:`superexplain.targets`) the scores are its one column (class 0):
    the target applied to the logits or outputs inside the compiled function.
    A subclassed model's layer (:mod:`.subclassed`) is captured during the model's own call instead.
    Built and cached by :func:`cam_graph`.
    """

    def __init__(self, model, resolved: ResolvedLayer | SubclassedLayer, logits: bool, input_shape: tuple,
                 binary: bool, score_target=None) -> None:
        import tensorflow as tf

        from ..models.graph import model_graph

        self.resolved = resolved
        self.logits = logits
        self.binary = binary
        self.score_target = score_target
        if getattr(resolved, "subclassed", False):  # no graph: the layer's output captured in the model's own call
            from .subclassed_capture import CapturedModel

            self._exposed: Callable[..., Any] = CapturedModel(model, resolved.layer, resolved.name)
            # any size, the channels it was built on
            input_shape = (None, None, cast("SubclassedLayer", resolved).input_shape[-1])
        else:
            graph = model_graph(model)
            calls = [call for call in graph.calls if tuple(call.path) == tuple(resolved.path)]
            if not calls:
                raise ValueError(f"layer {resolved.name!r} was not reached when running the model")
            captured = graph.flat(calls[-1].output)[0]
            pre_activation = graph.logits(0)[1] if logits else None  # None for a linear output: it is the logit
            scores = graph.outputs[0] if pre_activation is None else pre_activation
            # one Functional model from the input to (activations, scores), on the user's own layers and weights
            self._exposed = graph.submodel([captured, scores])
        height, width, channels = input_shape
        dtype = model.inputs[0].dtype if getattr(model, "inputs", None) else tf.float32
        image_spec = tf.TensorSpec([None, height, width, channels], dtype)
        target_spec = tf.TensorSpec([None, None], tf.int32)
        signature = [image_spec, target_spec]
        # a None batch dimension: one trace serves every batch size
        self.forward = compile_function(self._forward, input_signature=[image_spec], autograph=False)
        self._single = compile_function(lambda x, t: self._gradients(x, t, False), input_signature=signature, autograph=False)
        self._multi = compile_function(lambda x, t: self._gradients(x, t, True), input_signature=signature, autograph=False)

    def _run(self, x):
        """Activations in the model's own dtype (a float16 model stays float16 here) and float32 scores."""
        from ..models.keras_model import binary_columns

        activations, scores = self._exposed(x, training=False)
        scores = tf_float32(scores)
        if self.score_target is not None:
            from keras import ops

            return activations, ops.reshape(tf_float32(self.score_target(scores)), (-1, 1))
        if self.binary:
            scores = binary_columns(scores, "logit" if self.logits else "probability")
        return activations, scores

    def _forward(self, x):
        import tensorflow as tf

        activations, scores = self._run(x)
        return tf.cast(activations, tf.float32), scores

    def _gradients(self, x, targets, several: bool):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(x)
            activations, scores = self._run(x)
            resolved, selected = select_targets(scores, targets)
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
                "or rounding?), or the layer comes after the explained scores (a segmentation model's final "
                "softmax, past its logits: give layer=). Use a perturbation method (lime, kernelshap, occlusion, "
                "rise) instead"
            )
        return tf.cast(activations, tf.float32), scores, tf.cast(gradients, tf.float32), resolved

    def gradients(self, x, targets):
        several = targets.shape[1] > 1
        return (self._multi if several else self._single)(x, targets)


def cam_graph(predictor, resolved: ResolvedLayer | SubclassedLayer, score: str) -> tuple[CamGraph, str]:
    """The cached :class:`CamGraph` for ``predictor``'s model, the layer and the score; and the score kind.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> from superexplain.gradcam import resolve_layer
    >>> from superexplain.models import as_predictor
    >>> model = load_demo_model()
    >>> graph, kind = cam_graph(as_predictor(model), resolve_layer(model), "logit")
    >>> targets = np.array([[-1]], np.int32)                 # each image's best class
    >>> activations, scores, gradients, resolved = graph.gradients(make_shapes(1, seed=0).images, targets)
    >>> kind, tuple(activations.shape), tuple(gradients.shape)
    ('logit', (1, 8, 8, 64), (1, 1, 8, 8, 64))
    """
    return compiled_for_layer(predictor, resolved, score, "cam-graph",
                              lambda model, logits, target: CamGraph(model, resolved, logits, predictor.input_shape,
                                                                     predictor.binary, target))


def compiled_for_layer(predictor, resolved: ResolvedLayer | SubclassedLayer, score: str, tag: str, build) -> tuple:
    """``(object, score kind)``: ``build(model, logits, score_target)`` made once per (model, layer, score kind,
    score target) and cached with the model (:func:`superexplain.models.cache.compiled`); ``tag`` names the kind
    of object. Equal score targets (their ``cache_key``) share one.

    Examples
    --------
    >>> from superexplain.datasets import load_demo_model
    >>> from superexplain.gradcam import resolve_layer
    >>> from superexplain.models import as_predictor
    >>> model = load_demo_model()
    >>> first, kind = compiled_for_layer(as_predictor(model), resolve_layer(model), "logit", "demo", lambda *a: object())
    >>> compiled_for_layer(as_predictor(model), resolve_layer(model), "logit", "demo", lambda *a: None)[0] is first
    True
    """
    from ..models.cache import compiled

    _, kind = predictor.score_function(score)  # raises the TypeError for plain callables
    if getattr(resolved, "subclassed", False):  # a CamGraph only, and the class count from one call
        from .subclassed_capture import prepare_subclassed

        prepare_subclassed(predictor, resolved, tag)
    model = predictor.keras_model
    logits = score == "logit" and predictor.has_logits
    target = predictor.score_target
    key = (tag, tuple(id(layer) for layer in resolved.path), resolved.name, kind,
           None if target is None else target.cache_key)
    return compiled(model, key, lambda: build(model, logits, target)), kind


def select_targets(scores, targets):
    """Inside a compiled function: ``(resolved, selected)`` for int32 targets (N, K) whose entry ``-r`` means
    "the row's r-th best class" (ties: lower index first): the class indices and their scores, both (N, K).

    Examples
    --------
    >>> import tensorflow as tf
    >>> resolved, selected = select_targets(tf.constant([[0.25, 0.75, 0.5]]), tf.constant([[-1, -2, 0]]))
    >>> resolved.numpy().tolist(), selected.numpy().tolist()
    ([[1, 2, 0]], [[0.75, 0.5, 0.25]])
    """
    import tensorflow as tf

    order = tf.math.top_k(scores, k=tf.shape(scores)[1]).indices
    resolved = tf.where(targets < 0, tf.gather(order, tf.maximum(-targets - 1, 0), batch_dims=1), targets)
    return resolved, tf.gather(scores, resolved, batch_dims=1)


def tf_float32(tensor):
    import tensorflow as tf

    return tf.cast(tensor, tf.float32)
