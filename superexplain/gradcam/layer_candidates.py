"""The layers the layer advisor compares: the end of each resolution stage and the last few spatial layers."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from .layers import ResolvedLayer, _is_leaf, _is_spatial, _layers_with_paths, resolve_layer

if TYPE_CHECKING:
    from .subclassed import SubclassedLayer

__all__ = ["default_candidates", "resolve_candidates", "LAST_SPATIAL"]

#: How many of the last spatial layers the default candidates include, besides the end of each stage.
LAST_SPATIAL = 4


def _located(model) -> list[tuple[tuple, tuple]]:
    """Leaf layers with a spatial (N, h, w, c) output larger than 1x1 that feed the explained output, in call order."""
    return [(path, shape) for path, shape in _layers_with_paths(model)
            if _is_leaf(path) and _is_spatial(shape) and tuple(shape[1:3]) != (1, 1)]


def default_candidates(model, last: int = LAST_SPATIAL) -> list[ResolvedLayer]:
    """The layers :func:`~superexplain.gradcam.rank_layers` compares unless told: the last spatial layer (in call
    order) at each grid size -- the end of each resolution stage, also where residual branches interleave
    -- and the ``last`` last spatial layers, in call order.

    Nested backbones' layers count as any other (their paths are ``"backbone/layer"``). Layers
    whose output is 1x1 hold no location and are left out, as is the automatic layer's rule.

    Examples
    --------
    >>> import keras
    >>> inputs = keras.Input((16, 16, 3))
    >>> x = keras.layers.Conv2D(4, 3, padding="same", name="a")(inputs)
    >>> x = keras.layers.Conv2D(4, 3, padding="same", name="b")(x)
    >>> x = keras.layers.MaxPooling2D(name="pool")(x)
    >>> x = keras.layers.Conv2D(4, 3, padding="same", name="c")(x)
    >>> outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x))
    >>> [layer.name for layer in default_candidates(keras.Model(inputs, outputs), last=1)]
    ['b', 'c']
    """
    located = _located(model)
    last_at_grid = {tuple(shape[1:3]): i for i, (_, shape) in enumerate(located)}
    chosen = set(last_at_grid.values())  # the end of each resolution stage: the last layer at each grid size
    chosen.update(range(max(0, len(located) - max(int(last), 0)), len(located)))
    return [ResolvedLayer(located[i][0], located[i][1], automatic=False, reason="advisor candidate")
            for i in sorted(chosen)]


def resolve_candidates(model, candidates: Any) -> Sequence[ResolvedLayer | SubclassedLayer]:
    """``candidates`` (None: :func:`default_candidates`; else a list of what ``layer=`` takes) as resolved layers."""
    from .._validation import describe

    if candidates is None:
        from ..models.graph import traceable

        if not traceable(model):
            raise TypeError("a subclassed model has no graph to list candidate layers from: give candidates= as a "
                            "list of its layers (attribute paths such as 'backbone.conv4', or layer objects)")
        found = default_candidates(model)
        if not found:
            raise ValueError("the model has no spatial layer larger than 1x1 for the advisor to compare; give "
                             "candidates= or use a pixel-gradient or perturbation method")
        return found
    if isinstance(candidates, (str, bytes)) or not hasattr(candidates, "__iter__"):
        raise TypeError(f"candidates must be None or a list of layers (names, paths, indices or layer objects); "
                        f"got {describe(candidates)}")
    resolved = [resolve_layer(model, candidate) for candidate in candidates]
    if not resolved:
        raise ValueError("candidates must name at least one layer; got an empty list")
    names = [layer.name for layer in resolved]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"candidates names layer {repeated[0]!r} more than once")
    return resolved
