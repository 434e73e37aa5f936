"""Layer resolution for the CAM methods: names, indices, instances, nested paths and the automatic choice
(token layers are laid out as grids by :mod:`superexplain.gradcam.tokens`)."""
from __future__ import annotations

import difflib
import numbers
from typing import TYPE_CHECKING, Any, Callable

from .._validation import describe
from .class_maps import warn_if_class_map
from .layer_path import LayerPath
from .tokens import token_grid

if TYPE_CHECKING:
    from .subclassed import SubclassedLayer

__all__ = ["ResolvedLayer", "resolve_layer", "candidate_layers"]

#: Why an automatically chosen layer was chosen, recorded in ``params["layer_reason"]``.
REASON_SPATIAL = ("automatic: the last layer with a spatial (N, h, w, c) output, larger than 1x1, that the "
                  "explained output depends on")
REASON_MAP_OUTPUT = ("automatic: the model outputs a map (segmentation), so the last spatial layer before the "
                     "layers that make its class scores")
REASON_ATTENTION = ("automatic: the input of the last attention layer (its tokens reach the output through "
                    "attention, unlike the class token's path after it)")


class ResolvedLayer(LayerPath):
    """A layer found inside a (possibly nested) Keras model.

    Attributes
    ----------
    path : list of keras.layers.Layer
        The chain from the outermost model's layer down to the explained layer: ``[layer]`` for a
        layer of the model itself, ``[backbone, layer]`` for a layer of a nested sub-model.
    name : str
        The path as text, ``"backbone/conv5_block3_out"``; recorded in ``params["layer"]``.
    output_shape : tuple
        The layer's output shape: ``(None, h, w, c)``, or ``(None, tokens, c)`` for a transformer's tokens.
    automatic : bool
        Whether the layer was chosen automatically.
    reason : str
        How the layer was chosen (the automatic rule that picked it, or "given").

    Examples
    --------
    >>> import keras
    >>> conv = keras.layers.Conv2D(4, 3, name="conv")
    >>> ResolvedLayer([conv], (None, 6, 6, 4), automatic=False)
    ResolvedLayer('conv', output_shape=(None, 6, 6, 4))
    """

    def __init__(self, path: list | tuple, output_shape: tuple, automatic: bool, reason: str = "given") -> None:
        self.path = list(path)
        self.name = "/".join(layer.name for layer in self.path)
        self.output_shape = tuple(output_shape)
        self.automatic = automatic
        self.reason = reason

    def __repr__(self) -> str:
        return f"ResolvedLayer({self.name!r}, output_shape={self.output_shape})"


def graph_of(model):
    """The replayed graph of ``model`` (see :mod:`superexplain.models.graph`), or None where it cannot be traced.

    Examples
    --------
    >>> from superexplain.datasets import load_demo_model
    >>> graph_of(load_demo_model()) is not None
    True
    """
    from ..models.graph import model_graph, traceable

    return model_graph(model) if traceable(model) else None


def _layers_with_paths(model) -> list[tuple[tuple, tuple]]:
    """Every layer call the output depends on (nested models included) as (path of layers, output shape); a layer
    called several times appears once, at its last call."""
    last: dict[tuple, tuple] = {}
    for call in graph_of(model).feeding(0):
        key = tuple(id(layer) for layer in call.path)
        last.pop(key, None)
        last[key] = (call.path, call.shape)
    return list(last.values())


def _path_name(path) -> str:
    return "/".join(layer.name for layer in path)


def _is_spatial(shape: tuple) -> bool:
    return len(shape) == 4


def _is_leaf(path: tuple) -> bool:
    from ..models.graph import traceable

    return not traceable(path[-1])


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


def _map_head(graph) -> set:
    """Paths of the layers that turn a map-shaped output's features into its scores: the output layer and,
    when that is a parameter-free activation (Softmax, Activation), the layer before it. Empty unless the
    model's output is (N, h, w, c)."""
    call = graph.producer(graph.outputs[0])
    if call is None or len(call.shape) != 4:
        return set()
    head = {tuple(call.path)}
    if not call.layer.weights and call.inputs is not None:
        before = graph.producer(call.inputs)
        if before is not None:
            head.add(tuple(before.path))
    return head


def _automatic(model) -> tuple[tuple, tuple, str]:
    import keras
    everything = _layers_with_paths(model)
    leaves = [(path, shape) for path, shape in everything if _is_leaf(path)]
    spatial = [i for i, (_, shape) in enumerate(leaves) if _is_spatial(shape)]
    # a 1x1 output after a larger one is a head's convolution after global pooling (MobileNet's
    # conv_preds, MobileNetV3's logits): it holds no location, so the last larger map is meant
    located = [i for i in spatial if tuple(leaves[i][1][1:3]) != (1, 1)]
    graph = graph_of(model)
    head = _map_head(graph)  # a segmentation model: its own output layers are not a layer to map
    located = [i for i in located if leaves[i][0] not in head]
    last_spatial = (located or spatial)[-1] if located or spatial else None
    # a transformer: attention after the last spatial layer (a patch embedding) -> the last attention's input
    depends = graph.dependencies(0)
    attention = [call for call in graph.calls
                 if isinstance(call.layer, keras.layers.MultiHeadAttention) and id(call.layer) in depends]
    if attention:
        query = attention[-1].inputs
        source = graph.producer(query) if query is not None else None
        if source is not None and len(source.shape) == 3 and token_grid(source.shape[1]) is not None:
            position = next((i for i, (p, _) in enumerate(leaves) if p == source.path), None)
            if position is not None and (last_spatial is None or position > last_spatial):
                return source.path, source.shape, REASON_ATTENTION
    if last_spatial is not None:
        path, shape = leaves[last_spatial]
        return path, shape, REASON_MAP_OUTPUT if head else REASON_SPATIAL
    described = [f"{_path_name(path)} {shape}" for path, shape in everything][-12:]
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


def _input_layer_error(given: str) -> ValueError:
    return ValueError(f"layer={given} is the model's input layer: its output is the image itself, which a CAM cannot "
                      "map (there are no channels to weight). Choose a layer after it, or use a pixel-gradient method "
                      "(saliency, integrated_gradients) to explain the input pixels")


def resolve_layer(model: Any, layer: Any = None, reshape: Callable | None = None, *, warn: bool = True) -> ResolvedLayer | SubclassedLayer:
    """Find the layer a CAM method explains.

    Parameters
    ----------
    model : keras.Model
        Functional or Sequential (nested sub-models allowed); subclassed with layer= (:mod:`.subclassed`).
    layer : None, str, int or keras.layers.Layer
        None chooses automatically (the rule is below). A str is a layer name, or a path into
        nested models such as ``"backbone/conv5_block3_out"`` (a bare name is also looked up in
        nested models when it is unique there). An int indexes ``model.layers``. A layer
        instance may belong to the model or to a nested model.
    reshape : callable, optional
        For a layer that outputs tokens (N, tokens, c): maps them to a grid (N, h, w, c). Without
        it a token layer is accepted when its tokens form a square grid, with or without one
        leading class token.
    warn : bool
        Warn once per model when the automatic layer is a class map (:mod:`.class_maps`).

    Returns
    -------
    ResolvedLayer (a SubclassedLayer, describing its layer alike, for a subclassed model)

    Notes
    -----
    The automatic rule: among the layers the explained output depends on (side branches and the
    other outputs of a multi-output model do not count), nested models' layers included, the
    last one (in call order) whose output is spatial, rank 4 (N, h, w, c), and not 1x1 (a 1x1
    convolution after global pooling, as in MobileNet's and MobileNetV3's heads, holds no
    location; where every spatial output is 1x1, the last of them). For a vision
    transformer, whose last spatial layer is the patch embedding, the input of the last
    ``MultiHeadAttention`` layer is chosen instead when it is a square token grid: gradients of
    a class-token head reach every token there, while after the last attention they reach the
    class token only. ``params["layer_reason"]`` of the Explanation says which rule applied.

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
    if graph_of(model) is None:  # a subclassed model: the layer by attribute path, no automatic choice
        from .subclassed import resolve_sublayer
        return resolve_sublayer(model, layer, reshape)
    if reshape is not None and not callable(reshape):
        raise TypeError(f"reshape must be a callable mapping tokens (N, tokens, c) to (N, h, w, c); got {describe(reshape)}")
    automatic = layer is None
    reason = "given"
    if automatic:
        path, shape, reason = _automatic(model)
    elif isinstance(layer, str):
        if not layer:
            raise ValueError("layer must be a non-empty layer name; got ''")
        path, shape = _find(model, layer)
    elif isinstance(layer, numbers.Integral) and not isinstance(layer, bool):
        layers = model.layers
        if not -len(layers) <= int(layer) < len(layers):
            raise ValueError(f"layer={int(layer)} is out of range: the model has {len(layers)} layers "
                             f"(indices {-len(layers)}..{len(layers) - 1})")
        if isinstance(layers[int(layer)], keras.layers.InputLayer):
            raise _input_layer_error(str(int(layer)))
        path, shape = _find(model, layers[int(layer)].name)
    elif isinstance(layer, keras.layers.InputLayer):
        raise _input_layer_error(repr(layer.name))
    elif isinstance(layer, keras.layers.Layer):
        matches = [(p, s) for p, s in _layers_with_paths(model) if p[-1] is layer]
        if not matches:
            raise ValueError(f"layer {layer.name!r} ({type(layer).__name__}) is not a layer of this model "
                             "(or the model's output does not depend on it)")
        path, shape = matches[0]
    else:
        raise TypeError(f"layer must be None, a layer name or path (str), an index (int) or a Keras layer; got {describe(layer)}")
    tokens_ok = len(shape) == 3 and (reshape is not None or token_grid(shape[1]) is not None)
    if not (_is_spatial(shape) or tokens_ok):
        spatial = candidate_layers(model)
        tokens = " (a token layer needs a square token grid or reshape=)" if len(shape) == 3 else ""
        raise ValueError(
            f"layer {_path_name(path)!r} has output shape {shape}; CAM methods need a spatial output (N, h, w, c)"
            f"{tokens}. Layers with a spatial output: {', '.join(map(repr, spatial[-8:])) if spatial else 'none'}"
        )
    resolved = ResolvedLayer(path, shape, automatic, reason)
    if automatic and warn:
        warn_if_class_map(model, resolved)
    return resolved
