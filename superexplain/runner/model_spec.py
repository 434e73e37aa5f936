"""How a run's model reaches its workers: a picklable spec, the Predictor each builds, the fingerprint recorded.

A spec is a tuple: ``("object", model)`` (local backend only), ``("path", path)``, ``("bytes",
data, suffix)`` (a model file shipped to Ray workers that may not see the driver's disk) or
``("factory", fn)`` (a zero-argument function each worker calls).
"""
from __future__ import annotations

import inspect
import os
import tempfile
from typing import Any

from .._validation import describe
from .identity import model_fingerprint
from .index import temporary_name

__all__ = ["is_factory", "model_spec", "build_predictor", "fingerprint_of"]


def is_factory(model: Any) -> bool:
    """A callable that takes no argument (a model factory) rather than ``images -> scores``.

    Examples
    --------
    >>> is_factory(lambda: None), is_factory(lambda images: images.sum(axis=(1, 2)))
    (True, False)
    """
    if not callable(model) or isinstance(model, type):
        return False
    try:
        parameters = inspect.signature(model).parameters.values()
    except (TypeError, ValueError):
        return False
    return not any(p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                   for p in parameters)


def _keras_bytes(model: Any, out: str) -> bytes:
    """A Keras model as the bytes of a ``.keras`` file (saved in ``out`` for a moment)."""
    path = os.path.join(out, temporary_name("model.keras"))
    try:
        model.save(path)
        with open(path, "rb") as handle:
            return handle.read()
    except Exception as exc:
        raise TypeError(f'backend="ray" must send the model to its workers, but saving it failed '
                        f"({type(exc).__name__}: {exc}); give a model path or a zero-argument factory") from None
    finally:
        if os.path.exists(path):
            os.remove(path)


def model_spec(model: Any, backend: str, out: str) -> tuple[tuple, Any]:
    """``(spec, class_names)``: how workers get the model, and the class names a Predictor carried.

    Examples
    --------
    >>> spec, names = model_spec(lambda images: images.mean(axis=(1, 2)), "local", ".")
    >>> spec[0], names
    ('object', None)
    """
    from ..models import Predictor
    from ..models.keras_model import is_keras_model

    class_names = getattr(model, "class_names", None)
    if isinstance(model, Predictor):
        class_names = model.class_names
        if backend == "local" or model.keras_model is None:
            if backend == "ray":
                raise TypeError('backend="ray" cannot ship a Predictor over a plain callable; give a model path '
                                "or a zero-argument factory that builds the model")
            return ("object", model), class_names
        model = model.keras_model
    if isinstance(model, (str, os.PathLike)):
        path = os.path.abspath(os.fspath(model))
        if not os.path.exists(path):
            raise ValueError(f"model path {path!r} does not exist")
        if backend == "ray" and os.path.isfile(path):
            with open(path, "rb") as handle:
                return ("bytes", handle.read(), os.path.splitext(path)[1]), None
        return ("path", path), None
    if is_keras_model(model):
        if backend == "local":
            return ("object", model), class_names
        # each Ray worker loads its own copy, so the model travels as a .keras file's bytes
        return ("bytes", _keras_bytes(model, out), ".keras"), class_names
    if is_factory(model):
        return ("factory", model), None
    if callable(model):
        if backend == "ray":
            raise TypeError('backend="ray" needs a model each worker can load: a Keras model, a model path or a '
                            f"zero-argument factory that builds the model; got a callable {describe(model)} that "
                            "takes arguments (a model function). Wrap it: factory = lambda: my_model_function")
        return ("object", model), None
    raise TypeError("model must be a Keras model, a model path, a zero-argument factory or (local backend) a "
                    f"callable images -> scores; got {describe(model)}")


def build_predictor(spec: tuple, class_names: Any = None, output: Any = None, batch_size: int | None = None):
    """A Predictor from a model spec, with ``batch_size`` images per model call (None: the default).

    Examples
    --------
    >>> import numpy as np
    >>> predictor = build_predictor(("object", lambda images: images.mean(axis=(1, 2))), batch_size=4)
    >>> predictor.batch_size, predictor.predict(np.ones((1, 2, 2, 3))).shape
    (4, (1, 3))
    """
    from ..models import as_predictor

    kind = spec[0]
    if kind in ("object", "path"):
        model = spec[1]
    elif kind == "bytes":  # a model file shipped to a worker that may not see the driver's disk
        folder = tempfile.mkdtemp(prefix="superexplain-model-")
        model = os.path.join(folder, "model" + spec[2])
        with open(model, "wb") as handle:
            handle.write(spec[1])
    elif kind == "factory":
        model = spec[1]()
        if model is None:
            raise TypeError("the model factory returned None; it must return a Keras model or a callable")
    else:  # pragma: no cover - specs are built by model_spec
        raise ValueError(f"unknown model spec {kind!r}")
    return as_predictor(model, class_names=class_names, output=output, batch_size=batch_size)


def fingerprint_of(model: Any, predictor: Any) -> dict:
    """The model's fingerprint: of the Predictor the local backend built, or (Ray) of the model as loaded here.

    Ray workers load their own copies, so the driver loads a model path or calls a factory once
    itself, to fingerprint the model as it is now (a changed file is caught; a file saved again
    from the same model is not taken as changed).

    Examples
    --------
    >>> fingerprint_of(len, None)
    {'kind': 'callable', 'name': 'builtins.len'}
    """
    from ..models import Predictor, load_model
    from ..models.keras_model import is_keras_model

    if predictor is not None:
        return model_fingerprint(predictor)
    if isinstance(model, (str, os.PathLike)):
        return model_fingerprint(load_model(model))
    if isinstance(model, Predictor) or is_keras_model(model) or not is_factory(model):
        return model_fingerprint(model)
    built = model()
    if built is None:
        raise TypeError("the model factory returned None; it must return a Keras model or a callable")
    return model_fingerprint(built)
