"""Layer resolution for the CAM methods: names, indices, instances, nested paths and the automatic choice."""
from __future__ import annotations

import difflib
import numbers
from typing import Any

from .._validation import describe

__all__ = ["ResolvedLayer", "resolve_layer", "candidate_layers"]


class ResolvedLayer:
    """A layer found inside a (possibly nested) Keras model.

    Attributes
    ----------
    path : list of keras.layers.Layer
        The chain from the outermost model's layer down to the explained layer: ``[layer]`` for a
        layer of the model itself, ``[backbone, layer]`` for a layer of a nested sub-model.
    name : str
        The path as text, ``"backbone/conv5_block3_out"``; recorded in ``params["layer"]``.
    output_shape : tuple
        The layer's output shape, ``(None, h, w, c)``.
    automatic : bool
        Whether the layer was chosen automatically.
    """

    def __init__(self, path: list, output_shape: tuple, automatic: bool) -> None:
        self.path = list(path)
        self.name = "/".join(layer.name for layer in self.path)
        self.output_shape = tuple(output_shape)
        self.automatic = automatic

    @property
    def layer(self):
        """The explained layer itself (the last element of ``path``)."""
        return self.path[-1]

    def __repr__(self) -> str:
        return f"ResolvedLayer({self.name!r}, output_shape={self.output_shape})"


def graph_of(model):
    """The Functional graph that runs ``model`` (a Sequential's inner graph), or None."""
    import keras

    if isinstance(model, keras.Sequential):
        return getattr(model, "_functional", None)
    if isinstance(model, keras.Model) and hasattr(model, "_run_through_graph") and getattr(model, "_nodes_by_depth", None):
        return model
    return None


def _node_of(tensor):
    history = getattr(tensor, "_keras_history", None)
    if history is None:
        return None
    operation, node_index, _ = history
    return operation._inbound_nodes[node_index]


def _output_shapes(model) -> dict:
    """id(layer) -> output shape of its last call inside ``model``'s graph, for layers feeding the output.

    Layers that the model's outputs do not depend on (side branches) are left out, which is
    what "the target's score depends on it" means for the automatic choice.
    """
    graph = graph_of(model)
    if graph is None:
        return {}
    shapes: dict[int, tuple] = {}
    seen: set[int] = set()
    stack = [node for node in (_node_of(t) for t in graph.outputs) if node is not None]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.operation is not None and not getattr(node, "is_input", False) and id(node.operation) not in shapes:
            outputs = list(getattr(node, "outputs", []) or [])
            shapes[id(node.operation)] = tuple(outputs[0].shape) if len(outputs) == 1 else ()
        stack.extend(node.parent_nodes)
    return shapes


def _layers_with_paths(model, prefix: tuple = ()) -> list[tuple[tuple, tuple]]:
    """Every layer reachable from ``model`` (nested models included) as (path of layers, output shape)."""
    shapes = _output_shapes(model)
    found = []
    for layer in getattr(model, "layers", []):
        if id(layer) not in shapes:
            continue
        path = prefix + (layer,)
        found.append((path, shapes[id(layer)]))
        if graph_of(layer) is not None:
            found.extend(_layers_with_paths(layer, path))
    return found


def _path_name(path) -> str:
    return "/".join(layer.name for layer in path)


def _is_spatial(shape: tuple) -> bool:
    return len(shape) == 4


def candidate_layers(model) -> list[str]:
    """Names (nested paths included) of the layers with a spatial (N, h, w, c) output that feed the output.

    Examples
    --------
    >>> import keras
    >>> inputs = keras.Input((8, 8, 3))
    >>> x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    >>> outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x))
    >>> candidate_layers(keras.Model(inputs, outputs))
    ['conv']
    """
    return [_path_name(path) for path, shape in _layers_with_paths(model) if _is_spatial(shape)]


def _descend(path: tuple) -> tuple:
    """For a nested model chosen as a whole, name the inner layer that produces its output."""
    while graph_of(path[-1]) is not None:
        node = _node_of(graph_of(path[-1]).outputs[0])
        inner = getattr(node, "operation", None)
        if inner is None or inner not in getattr(path[-1], "layers", []):
            break
        path = path + (inner,)
    return path


def _automatic(model) -> tuple[tuple, tuple]:
    top = [(path, shape) for path, shape in _layers_with_paths(model) if len(path) == 1]
    for path, shape in reversed(top):
        if _is_spatial(shape):
            inner = _descend(path)
            return inner, shape
    described = [f"{_path_name(path)} {shape}" for path, shape in _layers_with_paths(model)][-12:]
    raise ValueError(
        "layer=None: the model has no layer with a spatial (N, h, w, c) output that its score depends on, "
        "so Grad-CAM has nothing to map (a dense-only model?). Layers feeding the output: "
        + (", ".join(described) if described else "none")
        + ". Use a pixel-gradient method (saliency, integrated_gradients) or a perturbation method instead"
    )


def _not_found(text: str, model) -> ValueError:
    names = [_path_name(path) for path, _ in _layers_with_paths(model)]
    leaves = {name.rsplit("/", 1)[-1]: name for name in names}
    close = difflib.get_close_matches(text, names, n=3, cutoff=0.5)
    close += [leaves[c] for c in difflib.get_close_matches(text, list(leaves), n=3, cutoff=0.5) if leaves[c] not in close]
    hint = f"; close matches: {', '.join(map(repr, close[:4]))}" if close else ""
    spatial = candidate_layers(model)
    shown = ", ".join(map(repr, spatial[-8:])) if spatial else "none"
    return ValueError(f"layer={text!r} is not a layer of the model{hint}. Layers with a spatial output: {shown}")


def _find(model, text: str) -> tuple[tuple, tuple]:
    everything = _layers_with_paths(model)
    if "/" in text:
        for path, shape in everything:
            if _path_name(path) == text:
                return path, shape
        raise _not_found(text, model)
    top = [(p, s) for p, s in everything if len(p) == 1 and p[0].name == text]
    if top:
        return top[0]
    nested = [(p, s) for p, s in everything if p[-1].name == text]
    if len(nested) == 1:
        return nested[0]
    if len(nested) > 1:
        raise ValueError(f"layer={text!r} names several nested layers ({', '.join(_path_name(p) for p, _ in nested)}); "
                         "give the full path")
    raise _not_found(text, model)


def resolve_layer(model, layer: Any = None) -> ResolvedLayer:
    """Find the layer a CAM method explains.

    Parameters
    ----------
    model : keras.Model
        A Functional or Sequential model (nested sub-models allowed).
    layer : None, str, int or keras.layers.Layer
        None chooses automatically: the last layer of the model whose output keeps spatial
        dimensions (rank 4) and that the output depends on; when that layer is a nested model,
        the inner layer producing its output is named. A str is a layer name, or a path into
        nested models such as ``"backbone/conv5_block3_out"`` (a bare name is also looked up in
        nested models when it is unique there). An int indexes ``model.layers``. A layer
        instance may belong to the model or to a nested model.

    Returns
    -------
    ResolvedLayer

    Examples
    --------
    >>> import keras
    >>> inputs = keras.Input((8, 8, 3))
    >>> x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    >>> outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x))
    >>> resolve_layer(keras.Model(inputs, outputs)).name
    'conv'
    """
    import keras

    if graph_of(model) is None:
        raise TypeError(
            f"CAM methods need a Functional or Sequential Keras model whose layers can be traced; got "
            f"{type(model).__name__} (a subclassed or unbuilt model). Build it on an Input, or use a "
            "perturbation method (lime, kernelshap, occlusion, rise), which accepts any callable"
        )
    automatic = layer is None
    if automatic:
        path, shape = _automatic(model)
    elif isinstance(layer, str):
        if not layer:
            raise ValueError("layer must be a non-empty layer name; got ''")
        path, shape = _find(model, layer)
    elif isinstance(layer, numbers.Integral) and not isinstance(layer, bool):
        layers = model.layers
        if not -len(layers) <= int(layer) < len(layers):
            raise ValueError(f"layer={int(layer)} is out of range: the model has {len(layers)} layers "
                             f"(indices {-len(layers)}..{len(layers) - 1})")
        path, shape = _find(model, layers[int(layer)].name)
    elif isinstance(layer, keras.layers.Layer):
        matches = [(p, s) for p, s in _layers_with_paths(model) if p[-1] is layer]
        if not matches:
            raise ValueError(f"layer {layer.name!r} ({type(layer).__name__}) is not a layer of this model "
                             "(or the model's output does not depend on it)")
        path, shape = matches[0]
    else:
        raise TypeError(f"layer must be None, a layer name or path (str), an index (int) or a Keras layer; got {describe(layer)}")
    if not _is_spatial(shape):
        spatial = candidate_layers(model)
        raise ValueError(
            f"layer {_path_name(path)!r} has output shape {shape}; CAM methods need a spatial output (N, h, w, c). "
            f"Layers with a spatial output: {', '.join(map(repr, spatial[-8:])) if spatial else 'none'}"
        )
    return ResolvedLayer(path, shape, automatic)
