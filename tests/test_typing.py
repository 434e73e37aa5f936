"""The package is typed (PEP 561) and its public API is annotated.

"Public API" is what a user reaches from ``superexplain.__all__`` and from the ``__all__`` of each public
sub-package below: every function there, and for every class its ``__init__``, its public methods
(static and class methods included) and its properties, as defined in superexplain (members a class
inherits from builtins, numpy or Keras are theirs, not ours, and are skipped).

A callable passes when every parameter and the return carry an annotation. ``self``/``cls`` are exempt;
``*args`` and ``**kwargs`` are not: ``**options: Any`` says what the callable accepts as much as any
named parameter does, and the house style annotates them. ``mypy`` (``python -m mypy``, configured in
pyproject.toml) checks that the annotations are right; this test checks that they are there.
"""
from __future__ import annotations

import importlib
import inspect
import pathlib
import types
from typing import Any, Callable, Iterator

import superexplain

#: the public sub-packages and modules, whose ``__all__`` is public API
PUBLIC_MODULES = ["metrics", "sanity", "datasets", "models", "targets", "segmentation", "gradcam", "perturbation",
                  "plotting", "runner", "evaluation", "advisor"]


def _ours(obj: Any) -> bool:
    return (getattr(obj, "__module__", None) or "").split(".")[0] == "superexplain"


def _members(cls: type) -> Iterator[tuple[str, Callable]]:
    """``(qualified name, function)`` for the members of ``cls`` (and its superexplain bases) that are public API."""
    for klass in cls.__mro__:
        if not _ours(klass):
            continue  # object, tuple, Exception, keras.Model, ...: not ours to annotate
        for name, member in vars(klass).items():
            if name.startswith("_") and name not in ("__init__", "__call__"):
                continue
            where = f"{klass.__module__}.{klass.__qualname__}.{name}"
            if isinstance(member, (staticmethod, classmethod)):
                yield where, member.__func__
            elif isinstance(member, property):
                for accessor in (member.fget, member.fset):
                    if accessor is not None:
                        yield where, accessor
            elif inspect.isfunction(member):
                yield where, member


def public_callables() -> dict[str, Callable]:
    """Every public function, method, ``__init__`` and property accessor, by qualified name (each once)."""
    objects: dict[str, Any] = {f"superexplain.{name}": getattr(superexplain, name) for name in superexplain.__all__}
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(f"superexplain.{module_name}")
        assert hasattr(module, "__all__"), f"superexplain.{module_name} has no __all__"
        objects.update({f"superexplain.{module_name}.{name}": getattr(module, name) for name in module.__all__})
    found: dict[str, Callable] = {}
    seen: set[int] = set()
    for where, obj in objects.items():
        if isinstance(obj, types.ModuleType):
            continue  # a public module: its __all__ is walked above
        if inspect.isclass(obj):
            if not _ours(obj):
                continue
            candidates = list(_members(obj))
        elif inspect.isroutine(obj):
            candidates = [(where, obj)]
        else:
            continue  # a constant (a tuple of names, a dict of checks, a path)
        for name, function in candidates:
            if id(function) not in seen:
                seen.add(id(function))
                found[name] = function
    return found


def missing_annotations(function: Callable) -> list[str]:
    """What of ``function``'s signature has no annotation: parameter names, and "return"."""
    signature = inspect.signature(function)
    missing = []
    for position, parameter in enumerate(signature.parameters.values()):
        if position == 0 and parameter.name in ("self", "cls"):
            continue
        if parameter.annotation is inspect.Parameter.empty:
            prefix = {inspect.Parameter.VAR_POSITIONAL: "*", inspect.Parameter.VAR_KEYWORD: "**"}.get(parameter.kind, "")
            missing.append(prefix + parameter.name)
    if signature.return_annotation is inspect.Signature.empty:
        missing.append("return")
    return missing


def test_the_walk_finds_the_public_api():
    found = public_callables()
    # a function, a class's __init__, a method, a property, a class method, a lazily imported name and a
    # name of a public sub-package are all reached
    for name in ["superexplain.explain", "superexplain.explanation.Explanation.__init__",
                 "superexplain.gradcam.explainer.GradCAM.explain", "superexplain.models.adapter.Predictor.has_logits",
                 "superexplain.explanation.Explanation.load", "superexplain.targets.ScoreTarget.numpy_scores",
                 "superexplain.gradcam.rank_layers", "superexplain.metrics.deletion"]:
        assert name in found, name
    assert len(found) > 150
    # members inherited from outside the package are not ours: Exception.__init__'s own, tuple.count
    assert not any(".with_traceback" in name or name.endswith(".count") for name in found)


def test_the_check_flags_a_missing_annotation():
    def unannotated(self, a, b: int, *args, **kwargs: Any):
        return a

    def annotated(a: int, *args: Any, **kwargs: Any) -> int:
        return a

    assert missing_annotations(unannotated) == ["a", "*args", "return"]
    assert missing_annotations(annotated) == []


def test_every_public_callable_is_annotated():
    offenders = {name: missing for name, function in public_callables().items()
                 if (missing := missing_annotations(function))}
    assert not offenders, "public callables without annotations:\n" + "\n".join(
        f"  {name}: {', '.join(missing)}" for name, missing in sorted(offenders.items()))


def test_the_package_is_marked_typed():
    package = pathlib.Path(superexplain.__file__).parent
    assert (package / "py.typed").is_file()
