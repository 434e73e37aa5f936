"""Clone a Keras model and re-initialise its layers' variables (with their own initialisers, or by permutation)."""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["clone_with_weights", "weighted_layers", "initializer_for", "reinitialize_layer"]

# Variable name -> the layer attribute that holds its initialiser, where the two names differ.
_INITIALIZER_ATTRIBUTES = {
    "kernel": ("kernel_initializer",),
    "bias": ("bias_initializer",),
    "gamma": ("gamma_initializer",),
    "beta": ("beta_initializer",),
    "moving_mean": ("moving_mean_initializer",),
    "moving_variance": ("moving_variance_initializer",),
    "depthwise_kernel": ("depthwise_initializer",),
    "pointwise_kernel": ("pointwise_initializer",),
    "embeddings": ("embeddings_initializer",),
    "recurrent_kernel": ("recurrent_initializer",),
}


def clone_with_weights(model):
    """A structural copy of ``model`` holding a copy of its weights (the user's model is never touched)."""
    import keras

    try:
        clone = keras.models.clone_model(model)
    except Exception as exc:  # subclassed models without get_config, custom layers, ...
        raise ValueError(
            f"model randomisation works on a clone of the model, and keras.models.clone_model failed on "
            f"{type(model).__name__} {getattr(model, 'name', '')!r}: {type(exc).__name__}: {exc}"
        ) from exc
    clone.set_weights(model.get_weights())
    if getattr(model, "class_names", None) is not None:
        clone.class_names = model.class_names
    return clone


def weighted_layers(model) -> list:
    """The leaf layers that own weights, in the model's order (nested models are walked into)."""
    import keras

    found = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found.extend(weighted_layers(layer))
        elif layer.weights:
            found.append(layer)
    return found


def _short_name(variable) -> str:
    name = getattr(variable, "path", None) or variable.name
    return name.split("/")[-1].split(":")[0]


def initializer_for(layer, variable):
    """The initialiser the layer declared for ``variable``; ValueError naming both when there is none."""
    short = _short_name(variable)
    candidates = _INITIALIZER_ATTRIBUTES.get(short, ()) + (f"{short}_initializer",)
    for attribute in candidates:
        initializer = getattr(layer, attribute, None)
        if initializer is not None:
            return initializer
    raise ValueError(
        f"layer {layer.name!r} ({type(layer).__name__}) cannot be re-initialised: its variable {short!r} has no "
        f"initialiser attribute (looked for {', '.join(candidates)}). "
        "Use reinit='permute', or leave the layer out with layers=[...]"
    )


def _seeded(initializer, seed: int):
    """A copy of ``initializer`` with the given seed (deterministic ones, like Zeros, come back as they are)."""
    config = initializer.get_config()
    if "seed" not in config:
        return initializer
    config["seed"] = int(seed)
    return type(initializer).from_config(config)


def reinitialize_layer(layer, how: str, rng: np.random.Generator) -> None:
    """Re-draw every variable of ``layer`` in place: ``how="initializer"`` or ``"permute"``."""
    if how == "initializer":
        initializers = [initializer_for(layer, v) for v in layer.weights]  # fail before changing anything
        for variable, initializer in zip(layer.weights, initializers):
            seeded = _seeded(initializer, int(rng.integers(0, 2**31 - 1)))
            variable.assign(np.asarray(seeded(shape=tuple(variable.shape), dtype=variable.dtype)))
    else:
        for variable in layer.weights:
            values = np.asarray(variable.numpy())
            variable.assign(rng.permutation(values.ravel()).reshape(values.shape))


def check_layers(model, layers: Any) -> list:
    """Resolve ``layers`` (None or names) to weighted layers, in model order."""
    from .._validation import describe

    available = weighted_layers(model)
    if not available:
        raise ValueError("the model has no layers with weights: there is nothing to randomise")
    if layers is None:
        return available
    if isinstance(layers, str) or not all(isinstance(name, str) for name in layers):
        raise TypeError(f"layers must be a list of layer names; got {describe(layers)}")
    by_name = {layer.name: layer for layer in available}
    unknown = [name for name in layers if name not in by_name]
    if unknown:
        raise ValueError(f"layers {unknown} are not layers with weights of this model; "
                         f"choose among {list(by_name)}")
    chosen = set(layers)
    return [layer for layer in available if layer.name in chosen]
