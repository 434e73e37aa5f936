"""A Keras model's graph replayed with public APIs only: every layer call as a symbolic tensor, nested models inlined.

Grad-CAM needs a layer's activations and the model's scores from one forward pass, and the
logits before a final softmax/sigmoid; the layer may sit inside a nested backbone. Keras offers
no public call that runs a graph and exposes an inner tensor, but it offers
``keras.models.clone_model(model, clone_function=..., call_function=...)``: with the identity as
clone function the "clone" reuses the user's own layers and variables, and the call function sees
every layer call with its symbolic inputs. Replaying the model that way on fresh ``keras.Input``
tensors, and replaying each nested Functional/Sequential model inline instead of calling it as a
whole, gives one flat graph in which every layer output (nested ones included) is a tensor that
``keras.Model(inputs, [tensor, scores])`` can return. The user's model is not changed: its own
graph and weights stay as they were (the reused layers gain inbound nodes, which ``layer.output``
ignores since it reads the first one).
"""
from __future__ import annotations

from typing import Any

__all__ = ["LayerCall", "ModelGraph", "model_graph", "traceable", "activation_name"]


def traceable(model: Any) -> bool:
    """Whether ``model`` is a built Functional or Sequential Keras model, whose layer calls can be replayed."""
    import keras

    if not isinstance(model, keras.Model):
        return False
    try:
        inputs = model.inputs
        outputs = model.outputs
    except (AttributeError, ValueError):  # subclassed models have neither
        return False
    return bool(inputs) and bool(outputs)


def activation_name(layer: Any) -> str | None:
    """``"softmax"``, ``"sigmoid"`` or ``"linear"`` where ``layer`` ends in that activation, else None.

    Covers Dense/Conv-style layers with an ``activation`` argument, ``Activation`` and ``Softmax``
    layers, and the ``keras.ops.softmax``/``sigmoid`` operations a Functional graph can hold.
    """
    import keras

    if isinstance(layer, keras.layers.Softmax):
        return "softmax"
    if not isinstance(layer, keras.layers.Layer):  # a keras.ops operation inside a Functional graph
        name = type(layer).__name__.lower()
        return name if name in ("softmax", "sigmoid") else None
    activation = getattr(layer, "activation", None)
    if activation is None:
        return None
    name = getattr(activation, "__name__", "")
    return name if name in ("softmax", "sigmoid", "linear") else None


class LayerCall:
    """One call of one layer in the replayed graph.

    Attributes
    ----------
    path : tuple of layers
        From the outermost model's layer down to the called layer: ``(layer,)`` at the top level,
        ``(backbone, layer)`` inside a nested model.
    output : KerasTensor or structure
        The call's symbolic output in the replayed graph.
    activation : str or None
        The layer's final activation (see :func:`activation_name`).
    pre_activation : KerasTensor or None
        The output before a final softmax/sigmoid, in float32, where it can be computed from the
        layer's own inputs and weights (Dense, Activation, Softmax, ``keras.ops`` softmax/sigmoid).
    inputs : KerasTensor or structure
        The call's first argument (an attention layer's query).
    arguments : list of KerasTensor
        Every symbolic tensor among the call's arguments, positional and keyword (a skip connection's both ends).
    """

    def __init__(self, path: tuple, output: Any, activation: str | None, pre_activation: Any,
                 inputs: Any = None, arguments: list | None = None) -> None:
        self.path = path
        self.inputs = inputs
        self.arguments = list(arguments or [])
        self.output = output
        self.activation = activation
        self.pre_activation = pre_activation

    @property
    def layer(self):
        return self.path[-1]

    @property
    def name(self) -> str:
        return "/".join(layer.name for layer in self.path)

    @property
    def shape(self) -> tuple:
        """The output shape with the batch axis, ``()`` where the call has several outputs."""
        shape = getattr(self.output, "shape", None)
        return tuple(shape) if shape is not None else ()

    def __repr__(self) -> str:
        return f"LayerCall({self.name!r}, shape={self.shape})"


def _pre_activation(layer, args: tuple, activation: str | None):
    """The symbolic scores before ``layer``'s softmax/sigmoid, in float32; None where not reachable."""
    import keras
    from keras import ops

    if activation not in ("softmax", "sigmoid") or not args:
        return None
    features = args[0]
    if isinstance(layer, keras.layers.Dense):
        from .dense_logits import dense_logits_class

        return dense_logits_class()(layer)(features)
    if isinstance(layer, (keras.layers.Activation, keras.layers.Softmax)) or not isinstance(layer, keras.layers.Layer):
        return ops.cast(features, "float32")
    return None


class ModelGraph:
    """The replayed graph of one model: fresh inputs, the model's outputs, and every layer call in order.

    Build it with :func:`model_graph` (cached per model).
    """

    def __init__(self, model) -> None:
        import keras

        self.calls: list[LayerCall] = []
        self.inputs = [keras.Input(batch_shape=tuple(t.shape), dtype=t.dtype, name=f"superexplain_{i}")
                       for i, t in enumerate(model.inputs)]
        self.outputs = self.flat(self._replay(model, self.inputs if len(self.inputs) > 1 else self.inputs[0], ()))
        self._dependencies: dict[int, set[int]] = {}

    @staticmethod
    def flat(structure) -> list:
        """The tensors of an output structure (a tensor, list or dict) as a list, in Keras' order."""
        import keras

        return list(keras.tree.flatten(structure))

    def _replay(self, model, inputs, prefix: tuple):
        """Replay ``model`` on symbolic ``inputs``, recording each layer call; returns its output structure."""
        import keras

        def call(layer, *args, **kwargs):
            path = prefix + (layer,)
            first = args[0] if args else kwargs.get("query", kwargs.get("inputs"))
            if traceable(layer):  # a nested model: replay its layers inline
                outputs = self._replay(layer, first, path)
                activation = pre = None
            else:
                outputs = layer(*args, **kwargs)
                activation = activation_name(layer)
                pre = _pre_activation(layer, args, activation)
            arguments = [t for t in self.flat((args, kwargs)) if isinstance(t, keras.KerasTensor)]
            self.calls.append(LayerCall(path, outputs, activation, pre, first, arguments))
            return outputs

        if isinstance(model, keras.Sequential):  # clone_model's call_function does not apply to Sequential
            x = inputs
            for layer in model.layers:
                x = call(layer, x)
            return x
        # Keras cannot build a Functional model on tensors that are not its own Inputs, so a nested model
        # cannot be cloned onto the outer graph directly: its calls are taped on fresh Inputs, then the
        # tape is played on the outer tensors
        tape, taped_inputs, taped_outputs = _tape(model)
        known = {id(t): x for t, x in zip(self.flat(taped_inputs), self.flat(inputs))}

        def outer(value):
            return known.get(id(value), value) if isinstance(value, keras.KerasTensor) else value

        for layer, args, kwargs, outputs in tape:
            args = keras.tree.map_structure(outer, args)
            kwargs = keras.tree.map_structure(outer, kwargs)
            played = call(layer, *args, **kwargs)
            for taped, new in zip(self.flat(outputs), self.flat(played)):
                known[id(taped)] = new
        return keras.tree.map_structure(outer, taped_outputs)

    # ------------------------------------------------------------------ queries
    def producer(self, tensor, within: tuple = ()) -> LayerCall | None:
        """The innermost single-layer call whose output is ``tensor`` (inside the path ``within``)."""
        for call in self.calls:  # inner calls are recorded before the nested model that holds them
            if call.output is tensor and call.path[:len(within)] == within and not traceable(call.layer):
                return call
        return None

    def dependencies(self, output_index: int = 0) -> set[int]:
        """ids of the layers that output ``output_index`` depends on (nested models' layers included)."""
        if output_index not in self._dependencies:
            import keras

            sub = keras.Model(self.inputs, self.outputs[output_index])
            self._dependencies[output_index] = {id(layer) for layer in sub.layers}
        return self._dependencies[output_index]

    def feeding(self, output_index: int = 0) -> list[LayerCall]:
        """The calls output ``output_index`` depends on, in call order (a nested model counts where its output does)."""
        depends = self.dependencies(output_index)
        found = []
        for call in self.calls:
            if traceable(call.layer):
                inner = self.producer(self.flat(call.output)[0], call.path)
                if inner is not None and id(inner.layer) in depends:
                    found.append(call)
            elif id(call.layer) in depends:
                found.append(call)
        return found

    def logits(self, output_index: int = 0):
        """``(activation, pre-activation tensor or None, note)`` for output ``output_index``."""
        call = self.producer(self.outputs[output_index])
        if call is None:
            return "unknown", None, "the layer producing the model's output could not be found in its graph"
        if call.activation is None:
            return "unknown", None, (f"the output layer {call.name!r} ({type(call.layer).__name__}) has an "
                                     "activation superexplain does not recognise")
        if call.activation in ("softmax", "sigmoid") and call.pre_activation is None:
            return call.activation, None, (
                f"the output layer {call.name!r} ({type(call.layer).__name__}) applies {call.activation} itself; "
                "end the model with a separate Activation/Softmax layer or a Dense layer to expose logits")
        return call.activation, call.pre_activation, ""

    def submodel(self, outputs):
        """``keras.Model`` from the replayed inputs to ``outputs`` (tensors of this graph), sharing the user's weights."""
        import keras

        return keras.Model(self.inputs if len(self.inputs) > 1 else self.inputs[0], outputs)


def _tape(model) -> tuple[list, Any, Any]:
    """A Functional model's layer calls in order, as ``(layer, args, kwargs, outputs)`` on fresh Inputs.

    ``clone_model`` with the identity as clone function walks the model's graph through its
    public ``call_function`` hook; the tape is cached per model.
    """
    from .cache import compiled

    def build():
        import keras

        tape = []

        def record(layer, *args, **kwargs):
            outputs = layer(*args, **kwargs)
            tape.append((layer, args, kwargs, outputs))
            return outputs

        clone = keras.models.clone_model(model, clone_function=lambda layer: layer, call_function=record)
        return tape, clone.input, clone.output

    return compiled(model, "layer-tape", build)


def model_graph(model) -> ModelGraph:
    """The replayed graph of a Functional or Sequential model, built once per model and cached on it.

    Raises
    ------
    TypeError
        For a subclassed or unbuilt model, whose layer calls cannot be traced.
    """
    from .cache import compiled

    if not traceable(model):
        raise TypeError(
            f"this needs a Functional or Sequential Keras model whose layers can be traced; got "
            f"{type(model).__name__} (a subclassed or unbuilt model). Build it on a keras.Input")
    return compiled(model, "model-graph", lambda: ModelGraph(model))
