"""Keras internals the adapter needs: loading, the output activation, the pre-activation logits, a compiled-function cache."""
from __future__ import annotations

import os
from typing import Any, Callable, NamedTuple

import numpy as np

from .cache import compiled

__all__ = [
    "is_keras_model",
    "load_model",
    "split_output_activation",
    "compiled",
    "model_input_shape",
    "select_output",
    "output_names",
    "binary_columns",
]


def is_keras_model(obj: Any) -> bool:
    """True for a Keras 3 model (Sequential, Functional or subclassed)."""
    import keras

    return isinstance(obj, keras.Model)


def load_model(path: str | os.PathLike) -> Any:
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
        height, width, channels = (None if d is None else int(d) for d in shape[1:])
        return height, width, channels
    return None


def output_names(model) -> list[str]:
    """The names of a Keras model's outputs, in ``model.outputs`` order (empty where unknown)."""
    try:
        names = list(model.output_names)
        count = len(model.outputs)
    except (AttributeError, ValueError, TypeError):
        return []
    return names if len(names) == count else [f"output_{i}" for i in range(count)]


def select_output(model, output: Any = None):
    """The single-output view of ``model`` that ``output`` picks (an index or an output name).

    A model with one output is returned as it is (``output`` may then be None, 0 or its name).
    A model with several outputs, or a dict of outputs, needs ``output``; the view is
    ``keras.Model(model.inputs, model.outputs[i])``, sharing the model's layers and weights, and
    is built once per model and output.
    """
    from .._validation import describe

    names = output_names(model)
    if len(names) <= 1:
        if output is None or output == 0 or (names and output == names[0]):
            return model
    listing = ", ".join(f"{i}: {name!r}" for i, name in enumerate(names))
    if output is None:
        raise ValueError(f"the model has {len(names)} outputs ({listing}); pick the one holding the class scores "
                         "with output= (an index or a name)")
    if isinstance(output, str):
        if output not in names:
            raise ValueError(f"output={output!r} is not one of the model's outputs ({listing})")
        index = names.index(output)
    elif isinstance(output, (int, np.integer)) and not isinstance(output, (bool, np.bool_)):
        index = int(output)
        if not 0 <= index < len(names):
            raise ValueError(f"output={index} is out of range: the model's outputs are {listing}")
    else:
        raise TypeError(f"output must be an output index (int) or name (str); got {describe(output)}")

    def build():
        import keras

        return keras.Model(model.inputs, model.outputs[index], name=f"{model.name}_{names[index]}")

    return compiled(model, ("output-view", index), build)


def split_output_activation(model) -> tuple[str, Callable | None, str]:
    """Find the model's output activation and a function giving the scores before it.

    Returns ``(activation, logits_fn, note)`` where ``activation`` is ``"softmax"``, ``"sigmoid"``,
    ``"linear"`` or ``"unknown"``; ``logits_fn(x)`` maps an input batch tensor to pre-activation
    scores (None where they cannot be reached); ``note`` says why when they cannot.
    The user's model is never modified: the logits come from a Functional graph replayed on the
    model's own layers and variables (:mod:`superexplain.models.graph`), so later weight changes are seen.
    """
    from .graph import model_graph, traceable

    if not traceable(model):
        return "unknown", None, "a subclassed or unbuilt model: its layers cannot be traced to the output"
    graph = model_graph(model)
    activation, pre_activation, note = graph.logits(0)
    if activation == "linear":
        return "linear", (lambda x: model(x, training=False)), ""
    if pre_activation is None:
        return activation, None, note
    logits_model = graph.submodel(pre_activation)
    return activation, (lambda x: logits_model(x, training=False)), ""


def binary_columns(scores, kind: str):
    """A single sigmoid unit's scores (N, 1) as two classes (N, 2): positive and negative.

    Logits become ``[z, -z]`` (the negative class's logit is -z, as sigmoid(-z) = 1 - sigmoid(z));
    probabilities ``[p, 1 - p]``. Works on TensorFlow tensors and numpy arrays alike.
    """
    from keras import ops

    negative = -scores if kind == "logit" else 1.0 - scores
    return ops.concatenate([scores, negative], axis=-1)


def input_dtype(model) -> str:
    """The dtype of the model's input where it declares one, else float32."""
    try:
        dtype = model.inputs[0].dtype
    except (AttributeError, IndexError, ValueError, TypeError):
        return "float32"
    return getattr(dtype, "name", dtype) or "float32"


def compile_for_images(function: Callable, model: Any, input_shape: tuple) -> Any:
    """``function(images)`` compiled for the model's image batches.

    A known image shape gives one signature ``(None, H, W, C)``. An unknown one (a subclassed model
    declares none) is traced on the first batches' shapes instead: a signature of unknown sizes would
    reach the model's layers, and Keras 3.3's ``Flatten`` cannot reshape a tensor whose every size is
    unknown. With ``reduce_retracing`` only the batch size is relaxed after that.
    """
    import tensorflow as tf

    from .tracing import compile_function

    if any(size is None for size in input_shape):
        return compile_function(function, reduce_retracing=True)
    spec = tf.TensorSpec([None, *input_shape], input_dtype(model))
    return compile_function(function, input_signature=[spec], reduce_retracing=True)


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


class KerasHead(NamedTuple):
    """What a Predictor reads from a Keras model once: the (output-selected) model, its input shape, its head."""

    model: Any
    input_shape: tuple
    activation: str
    logits: Callable | None
    logits_note: str
    num_classes: int | None
    binary: bool
    output_shape: tuple | None = None


def read_head(model, output: Any = None) -> KerasHead:
    """The model's output ``output`` (see :func:`select_output`), input shape, final activation, logits function,
    class count and output shape; one sigmoid unit (a binary classifier) counts as two classes, positive and
    negative. An output of another rank (a segmentation map) has no class count."""
    model = select_output(model, output)
    # built once per model (it creates a Keras graph for the logits), then reused
    activation, logits, note = compiled(model, "split_output_activation", lambda: split_output_activation(model))
    try:
        shape = tuple(model.outputs[0].shape)
    except (AttributeError, ValueError, IndexError):
        shape = ()
    num_classes = None
    if len(shape) == 2 and shape[-1] is not None:
        num_classes = int(shape[-1])
    # another output (a segmentation map, ...) is explained through a score target only; methods
    # given a class target refuse it (superexplain.models.targets.check_class_output)
    binary = activation == "sigmoid" and num_classes == 1
    return KerasHead(model, model_input_shape(model) or (None, None, None), activation, logits, note,
                     2 if binary else num_classes, binary, tuple(None if d is None else int(d) for d in shape) or None)
