"""Keras internals the adapter needs: loading, the output activation, the pre-activation logits, a compiled-function cache."""
from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

__all__ = [
    "is_keras_model",
    "load_model",
    "split_output_activation",
    "compiled",
    "model_input_shape",
]


def is_keras_model(obj: Any) -> bool:
    """True for a Keras 3 model (Sequential, Functional or subclassed)."""
    import keras

    return isinstance(obj, keras.Model)


def load_model(path: str | os.PathLike):
    """Load a ``.keras``/``.h5`` file, or a TensorFlow SavedModel directory (inference only)."""
    import keras

    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"model path {path!r} does not exist")
    if os.path.isdir(path):
        if not os.path.exists(os.path.join(path, "saved_model.pb")):
            raise ValueError(f"model path {path!r} is a directory but not a TensorFlow SavedModel (no saved_model.pb)")
        return _load_saved_model(path)
    if not path.endswith((".keras", ".h5", ".hdf5")):
        raise ValueError(f"model path {path!r} must be a .keras or .h5 file or a SavedModel directory")
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:  # a corrupt or foreign file: say which file, keep the cause
        raise ValueError(f"could not load a Keras model from {path!r}: {type(exc).__name__}: {exc}") from exc


def _load_saved_model(path: str):
    import keras
    import tensorflow as tf

    loaded = tf.saved_model.load(path)
    signature = loaded.signatures.get("serving_default")
    if signature is None:
        raise ValueError(f"SavedModel {path!r} has no 'serving_default' signature")
    specs = list(signature.structured_input_signature[1].values())
    if len(specs) != 1 or len(specs[0].shape) != 4:
        raise ValueError(f"SavedModel {path!r} must take one image batch (N, H, W, C); got inputs {specs}")
    layer = keras.layers.TFSMLayer(path, call_endpoint="serving_default")
    inputs = keras.Input(shape=tuple(specs[0].shape[1:]), dtype=specs[0].dtype.name)
    outputs = layer(inputs)
    if isinstance(outputs, dict):
        if len(outputs) != 1:
            raise ValueError(f"SavedModel {path!r} has several outputs {sorted(outputs)}; superexplain needs one")
        outputs = next(iter(outputs.values()))
    return keras.Model(inputs, outputs, name=os.path.basename(os.path.normpath(path)))


def model_input_shape(model) -> tuple[int | None, int | None, int | None] | None:
    """(H, W, C) of a single-input image model, None entries where free, None when not known."""
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if inputs:
        if len(inputs) != 1:
            raise ValueError(f"model must take one input (an image batch); it takes {len(inputs)}")
        shape = tuple(inputs[0].shape)
        if len(shape) != 4:
            raise ValueError(f"model must take image batches of rank 4 (N, H, W, C); its input has shape {shape}")
        return tuple(None if d is None else int(d) for d in shape[1:])
    return None


def _output_layer(model):
    """The layer that produces the model's (single) output."""
    try:
        outputs = model.outputs
    except (AttributeError, ValueError):
        outputs = None
    if outputs:
        if len(outputs) != 1:
            raise ValueError(f"model must have one output (class scores); it has {len(outputs)}")
        history = getattr(outputs[0], "_keras_history", None)
        if history is not None:
            return history[0]
    layers = getattr(model, "layers", None)
    return layers[-1] if layers else None


def _activation_name(layer) -> str | None:
    import keras

    if isinstance(layer, keras.layers.Softmax):
        return "softmax"
    activation = getattr(layer, "activation", None)
    if activation is None:
        return None
    name = getattr(activation, "__name__", "")
    if name in ("softmax", "sigmoid", "linear"):
        return name
    return None


def split_output_activation(model) -> tuple[str, Callable | None, str]:
    """Find the model's output activation and a function giving the scores before it.

    Returns ``(activation, logits_fn, note)`` where ``activation`` is ``"softmax"``, ``"sigmoid"``,
    ``"linear"`` or ``"unknown"``; ``logits_fn(x)`` maps an input batch tensor to pre-activation
    scores (None where they cannot be reached); ``note`` says why when they cannot.
    The user's model is never modified: the logits come from a new Functional graph that shares
    the model's layers and variables, so later weight changes are seen.
    """
    import keras
    from keras import ops

    layer = _output_layer(model)
    if layer is None or not getattr(model, "inputs", None):
        return "unknown", None, "a subclassed or unbuilt model: its layers cannot be traced to the output"
    if isinstance(layer, keras.Model):  # a nested model at the end: recurse into it
        inner_activation, inner_fn, note = split_output_activation(layer)
        if inner_fn is None or inner_activation in ("linear", "unknown"):
            return inner_activation, None if inner_activation != "linear" else (lambda x: model(x, training=False)), note
        to_inner = keras.Model(model.inputs[0], layer.input)
        return inner_activation, (lambda x: inner_fn(to_inner(x, training=False))), ""
    activation = _activation_name(layer)
    if activation is None:
        return "unknown", None, f"the output layer {layer.name!r} has an activation superexplain does not recognise"
    if activation == "linear":
        return "linear", (lambda x: model(x, training=False)), ""
    if isinstance(layer, (keras.layers.Softmax, keras.layers.Activation)):
        features = keras.Model(model.inputs[0], layer.input)
        return activation, (lambda x: features(x, training=False)), ""
    if isinstance(layer, keras.layers.Dense):
        features = keras.Model(model.inputs[0], layer.input)

        def dense_logits(x):
            z = ops.matmul(features(x, training=False), layer.kernel)
            return z + layer.bias if layer.use_bias else z

        return activation, dense_logits, ""
    return activation, None, (
        f"the output layer {layer.name!r} ({type(layer).__name__}) applies {activation} itself; "
        "end the model with a separate Activation/Softmax layer or a Dense layer to expose logits"
    )


_CACHE_ATTRIBUTE = "_superexplain_compiled"


def compiled(model, key: Any, build: Callable[[], Callable]) -> Callable:
    """Return the compiled function cached for ``(model, key)``, building it on first use.

    The cache lives on the model object itself (set past Keras' attribute tracking, so it is
    neither saved nor cloned with the model): the compiled functions refer to the model, and a
    cache held anywhere else would keep every explained model alive for ever.
    """
    cache = getattr(model, "__dict__", {}).get(_CACHE_ATTRIBUTE)
    if cache is None:
        cache = {}
        try:
            object.__setattr__(model, _CACHE_ATTRIBUTE, cache)
        except (AttributeError, TypeError):  # an object that takes no attributes: no caching
            return build()
    if key not in cache:
        cache[key] = build()
    return cache[key]


def input_dtype(model) -> str:
    """The dtype of the model's input where it declares one, else float32."""
    try:
        dtype = model.inputs[0].dtype
    except (AttributeError, IndexError, ValueError, TypeError):
        return "float32"
    return getattr(dtype, "name", dtype) or "float32"


def as_float_input(batch: np.ndarray, model):
    """A float32 batch as the model's input: cast to its declared dtype, handed to TensorFlow without a copy.

    ``tf.constant`` copies every numpy array it is given (a batch of 64 images of 64x64 is 3 MB,
    about 2% of LIME's time on the demo model); a writable, C-contiguous, 64-byte aligned batch
    is shared through DLPack instead. The caller may write the batch again once the call has
    returned (the perturbation engine reuses two batch arrays): the model has finished with it by then.
    """
    dtype = input_dtype(model)
    if dtype != "float32":
        batch = batch.astype(dtype)
    # TensorFlow's kernels assume 64-byte aligned buffers (an unaligned one aborts the process);
    # large numpy allocations are page aligned, small ones often are not and are copied as before
    if (isinstance(batch, np.ndarray) and batch.flags.c_contiguous and batch.flags.writeable and batch.size
            and batch.ctypes.data % 64 == 0):
        import tensorflow as tf

        try:
            return tf.experimental.dlpack.from_dlpack(batch.__dlpack__())
        except Exception:  # an exotic layout or dtype DLPack refuses: let TensorFlow copy it
            pass
    return batch
