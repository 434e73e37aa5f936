"""CAM layers of a subclassed Keras model (one that defines ``call()``): found by attribute path, checked by a probe.

The gradient CAMs (Grad-CAM, Selvaraju et al., arXiv 1610.02391, and its variants) need one layer's
activations and the score's gradients with respect to them, which any model's own forward pass gives.

A Functional model's layers are found in its replayed graph (:mod:`superexplain.gradcam.layers`);
a subclassed model has none, so its layers are named the way its code names them: by attribute
path, ``"conv4"``, ``"backbone.block2.conv"`` (``/`` is accepted as the separator too,
``"backbone/conv"``), with list and dict attributes indexed by position or key
(``"blocks.0.conv"``), and the layers of a Functional or Sequential part by their names. A path
segment that is not an attribute may also be the name of a sublayer; a bare name is looked up
anywhere in the model when it is unique there. A layer object, or an index of ``model.layers``,
works too. The layer's output is captured during the model's own call
(:mod:`superexplain.gradcam.subclassed_capture`), which also says what is not thread-safe.

There is no automatic choice: ``layer=None`` is refused with the layers a probe pass found to have
a spatial output. A subclassed model's logits cannot be found (its call is opaque): the CAMs
differentiate its own output, recorded as ``params["score_kind"] == "output"`` for
``score="logit"`` and ``"probability"`` alike; have ``call()`` return logits to explain logits.
"""
from __future__ import annotations

import difflib
import numbers
from typing import Any

from .._validation import describe
from .layer_path import LayerPath
from .subclassed_capture import _called_twice, build_input_shape, probe_sublayers
from .tokens import token_grid

__all__ = ["SubclassedLayer", "is_subclassed", "sublayer_paths", "resolve_sublayer"]


class SubclassedLayer(LayerPath):
    """A layer of a subclassed model, as :class:`~superexplain.gradcam.layers.ResolvedLayer` describes one.

    Attributes
    ----------
    path : list of keras.layers.Layer
        The chain of layers from the model's attribute down to the explained layer.
    name : str
        The path as the user gave it (a layer object or index: its attribute path); ``params["layer"]``.
    output_shape : tuple
        The layer's output shape in the probe pass, batch first.
    input_shape : tuple
        ``(H, W, C)`` of the probe pass (the model's build shape).
    """

    automatic = False
    reason = "given"
    subclassed = True  # what the CAM graph looks for (superexplain.gradcam.cam_graph)

    def __init__(self, path: list, output_shape: tuple, name: str, input_shape: tuple) -> None:
        self.path = list(path)
        self.name = name
        self.output_shape = tuple(output_shape)
        self.input_shape = tuple(input_shape)

    def __repr__(self) -> str:
        return f"SubclassedLayer({self.name!r}, output_shape={self.output_shape})"


def is_subclassed(model: Any) -> bool:
    """Whether ``model`` is a Keras model without a traceable graph (a subclassed model, or an unbuilt one).

    Examples
    --------
    >>> import keras
    >>> is_subclassed(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]))
    False
    """
    import keras

    from ..models.graph import traceable

    return isinstance(model, keras.Model) and not traceable(model)


def _children(layer) -> list[tuple[str, Any]]:
    """(path segment, sublayer) of one layer: a Functional or Sequential model's layers by name, else its public
    attributes (layers, and lists and dicts of layers)."""
    import keras

    from ..models.graph import traceable

    if traceable(layer) or isinstance(layer, keras.Sequential):
        return [(child.name, child) for child in layer.layers if not isinstance(child, keras.layers.InputLayer)]
    found = []
    for attribute, value in vars(layer).items():
        if attribute.startswith("_"):
            continue
        if isinstance(value, keras.layers.Layer):
            found.append((attribute, value))
        elif isinstance(value, (list, tuple)):
            found += [(f"{attribute}.{i}", item) for i, item in enumerate(value)
                      if isinstance(item, keras.layers.Layer)]
        elif isinstance(value, dict):
            found += [(f"{attribute}.{key}", item) for key, item in value.items()
                      if isinstance(key, str) and isinstance(item, keras.layers.Layer)]
    return found


def sublayer_paths(model) -> list[tuple[str, tuple]]:
    """Every sublayer of ``model`` as (attribute path, chain of layers), depth first; a shared layer once.

    Examples
    --------
    >>> import keras
    >>> class Net(keras.Model):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.blocks = [keras.layers.Conv2D(2, 3), keras.layers.Conv2D(2, 3)]
    ...         self.head = keras.Sequential([keras.layers.Flatten(name="flat"), keras.layers.Dense(3)])
    ...     def call(self, x):
    ...         return self.head(self.blocks[1](self.blocks[0](x)))
    >>> [path for path, chain in sublayer_paths(Net())][:3]
    ['blocks.0', 'blocks.1', 'head']
    >>> sublayer_paths(Net())[3][0]
    'head.flat'
    """
    found: list[tuple[str, tuple]] = []
    seen = {id(model)}

    def visit(layer, prefix: str, chain: tuple) -> None:
        for segment, child in _children(layer):
            if id(child) in seen:
                continue
            seen.add(id(child))
            path = prefix + segment
            found.append((path, chain + (child,)))
            visit(child, path + ".", chain + (child,))

    visit(model, "", ())
    return found


def _find(model, text: str, entries: list) -> tuple[str, tuple]:
    wanted = text.replace("/", ".")
    for path, chain in entries:
        if path == wanted or ".".join(layer.name for layer in chain) == wanted:
            return path, chain
    if "." not in wanted:
        bare = [(p, c) for p, c in entries if p.rsplit(".", 1)[-1] == wanted or c[-1].name == wanted]
        if len(bare) == 1:
            return bare[0]
        if bare:
            raise ValueError(f"layer={text!r} names several sublayers ({', '.join(p for p, _ in bare)}); give the "
                             "full attribute path")
    paths = [path for path, _ in entries]
    close = difflib.get_close_matches(wanted, paths, n=3, cutoff=0.5)
    hint = f"; close matches: {', '.join(map(repr, close))}" if close else ""
    shown = ", ".join(map(repr, paths[:40])) + (f" and {len(paths) - 40} more" if len(paths) > 40 else "")
    raise ValueError(f"layer={text!r} is not a layer of the subclassed model {type(model).__name__}{hint}. Its "
                     f"sublayers (attribute paths, '.' or '/' between the parts): {shown or 'none'}")


def _spatial_candidates(model, entries: list) -> str:
    """The probe's layers with a spatial output, called once, as text for an error message."""
    try:
        input_shape = build_input_shape(model)
    except ValueError as error:
        return f"unknown ({error})"
    report = probe_sublayers(model, [chain[-1] for _, chain in entries], input_shape)
    found = [f"{path!r} {report[id(chain[-1])][1]}" for path, chain in entries
             if report[id(chain[-1])][0] == 1 and len(report[id(chain[-1])][1]) == 4]
    return ", ".join(found[-12:]) if found else "none"


def _needs_layer(model, entries: list) -> TypeError:
    return TypeError(
        f"layer=None: a layer is chosen automatically only in a Functional or Sequential model, whose graph can be "
        f"traced; {type(model).__name__} is a subclassed model (it defines call()), so name the layer to explain: "
        "an attribute path such as layer='conv' or 'backbone.conv' ('/' also works), a layer object, or an index "
        "of model.layers. Layers with a spatial (N, h, w, c) output, called once: "
        + _spatial_candidates(model, entries))


def resolve_sublayer(model, layer: Any, reshape: Any = None) -> SubclassedLayer:
    """Find the layer a CAM method explains in a subclassed model (see the module's notes for the path syntax).

    A probe pass (traced on the model's build shape, nothing computed) checks that the model calls
    the layer exactly once and that its output is spatial (N, h, w, c), or tokens that form a
    square grid (or ``reshape`` is given).

    Examples
    --------
    >>> import keras, numpy as np
    >>> class Net(keras.Model):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.conv = keras.layers.Conv2D(2, 3)
    ...         self.pool = keras.layers.GlobalAveragePooling2D()
    ...     def call(self, x):
    ...         return self.pool(self.conv(x))
    >>> model = Net()
    >>> _ = model(np.zeros((1, 8, 8, 3), "float32"))
    >>> resolve_sublayer(model, "conv")
    SubclassedLayer('conv', output_shape=(None, 6, 6, 2))
    """
    import keras

    if isinstance(layer, SubclassedLayer):
        return layer
    if reshape is not None and not callable(reshape):
        raise TypeError("reshape must be a callable mapping tokens (N, tokens, c) to (N, h, w, c); got "
                        + describe(reshape))
    entries = sublayer_paths(model)
    if layer is None:
        raise _needs_layer(model, entries)
    if isinstance(layer, str):
        if not layer:
            raise ValueError("layer must be a non-empty attribute path; got ''")
        (_, chain), name = _find(model, layer, entries), layer
    elif isinstance(layer, (numbers.Integral, keras.layers.Layer)) and not isinstance(layer, bool):
        if isinstance(layer, numbers.Integral):
            layers = model.layers
            if not -len(layers) <= int(layer) < len(layers):
                raise ValueError(f"layer={int(layer)} is out of range: the model has {len(layers)} layers")
            layer = layers[int(layer)]
        matches = [(path, chain) for path, chain in entries if chain[-1] is layer]
        if not matches:
            raise ValueError(f"layer {layer.name!r} ({type(layer).__name__}) is not a sublayer of this model; its "
                             f"sublayers: {', '.join(repr(path) for path, _ in entries[:40]) or 'none'}")
        name, chain = matches[0]
    else:
        raise TypeError(f"layer must be an attribute path (str), an index of model.layers (int) or a Keras layer of "
                        f"the subclassed model; got {describe(layer)}")
    input_shape = build_input_shape(model)
    calls, shape = probe_sublayers(model, [c[-1] for _, c in entries], input_shape)[id(chain[-1])]
    if calls == 0:
        raise ValueError(f"layer {name!r} is not called when the model runs (on a batch of {input_shape} images), "
                         "so it has no output to map")
    if calls > 1:
        raise _called_twice(name, calls)
    if not (len(shape) == 4 or (len(shape) == 3 and (reshape is not None or token_grid(shape[1]) is not None))):
        raise ValueError(f"layer {name!r} has output shape {shape}; CAM methods need a spatial output (N, h, w, c). "
                         f"Layers with a spatial output, called once: {_spatial_candidates(model, entries)}")
    return SubclassedLayer(list(chain), shape, name, input_shape)
