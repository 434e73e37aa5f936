"""`evaluate`'s arguments: method and check names, per-name option dicts, and the model as each part needs it."""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from .._validation import describe
from .checks import CHECKS, CONTROLS

__all__ = ["check_methods", "check_checks", "check_nested", "resolve_models"]


def check_methods(methods: Any) -> list[str]:
    from ..registry import METHODS

    names = [methods] if isinstance(methods, str) else methods
    if not isinstance(names, (list, tuple)) or not names:
        raise TypeError(f"methods must be a method name or a non-empty list of names; got {describe(methods)}")
    for name in names:
        if not isinstance(name, str) or name not in METHODS:
            raise ValueError(f"methods must name methods of superexplain.explain ({', '.join(METHODS)}); "
                             f"got {name!r}")
        if name in CONTROLS:
            raise ValueError(f"methods may not include {name!r}: it is the name of a control row")
    if len(set(names)) != len(names):
        raise ValueError(f"methods must not repeat a name; got {list(names)}")
    return list(names)


def check_checks(checks: Any) -> list[str] | None:
    if checks is None:
        return None
    names = [checks] if isinstance(checks, str) else checks
    if not isinstance(names, (list, tuple)) or not names:
        raise TypeError(f"checks must be None, a check name or a non-empty list of names; got {describe(checks)}")
    for name in names:
        if not isinstance(name, str) or name not in CHECKS:
            raise ValueError(f"checks must name checks among {', '.join(CHECKS)}; got {name!r}")
    return [name for name in CHECKS if name in names]  # the report's column order


def check_nested(value: Any, name: str, keys: list[str]) -> dict:
    if value is None:
        return {key: {} for key in keys}
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a dict {{name: {{option: value}}}}; got {describe(value)}")
    for key, options in value.items():
        if key not in keys:
            raise ValueError(f"{name} has an entry for {key!r}, which is not among {keys}")
        if not isinstance(options, Mapping):
            raise TypeError(f"{name}[{key!r}] must be a dict of options; got {describe(options)}")
    return {key: dict(value.get(key, {})) for key in keys}


def resolve_models(model: Any, backend: str, class_names: Any, output: Any, batch_size: int | None) -> tuple[Any, Any, dict]:
    """``(model for explain_dataset, the Predictor the checks use here, options explain_dataset needs with it)``.

    Locally the model is loaded (or its factory called) once and every method and check shares that
    Predictor; Ray workers get what the user gave (a path, a Keras model or a factory) and load their own.
    """
    from ..models import Predictor, as_predictor
    from ..models.keras_model import is_keras_model
    from ..runner.model_spec import is_factory

    built = model
    if not isinstance(model, (Predictor, str, os.PathLike)) and not is_keras_model(model) and is_factory(model):
        built = model()
        if built is None:
            raise TypeError("the model factory returned None; it must return a Keras model or a callable")
    predictor = as_predictor(built, class_names=class_names, output=output, batch_size=batch_size)
    if backend == "local":
        return predictor, predictor, {}
    extra = {"model_batch_size": batch_size}
    extra.update({name: value for name, value in (("class_names", class_names), ("output", output))
                  if value is not None})
    return model, predictor, extra
