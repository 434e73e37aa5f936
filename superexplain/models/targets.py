"""THE target resolver: which classes to explain, from the user's ``target``/``targets``/``top_labels``.

One set of rules and error messages for every method, metric, the dataset runner and the CLI:
:func:`check_target` reads one class (an index or a name), :func:`check_target_spec` checks the
shape of a specification before any model is at hand, and :func:`resolve_targets` turns a
specification into class indices per image.
"""
from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._validation import check_int, describe

__all__ = ["Named", "unwrap_named", "normalise_class_names", "check_target", "check_target_spec", "resolve_targets",
           "check_class_output"]


class Named:
    """A user's value handed on to the check deep inside that validates it, with the name the user gave it.

    ``explain(model, image, target=99)`` hands its method ``targets=Named(99, "target")``, so
    that :func:`resolve_targets` says ``target=99 is out of range``, where a method called
    directly (``GradCAM.explain(targets=...)``) says ``targets=``. Checks unwrap it with
    :func:`unwrap_named`.

    Examples
    --------
    >>> Named([1, "dog"], "target")
    target=[1, 'dog']
    """

    __slots__ = ("value", "name")

    def __init__(self, value: Any, name: str) -> None:
        self.value = value
        self.name = name

    def __repr__(self) -> str:
        return f"{self.name}={self.value!r}"


def unwrap_named(value: Any, name: str) -> tuple[Any, str]:
    """``(value, name)``: the user's value and name from a :class:`Named`, else ``value`` and ``name`` as given."""
    if isinstance(value, Named):
        return value.value, value.name
    return value, name


def normalise_class_names(class_names: Any) -> list[str] | None:
    """Class names as a list of unique strings: from a list, or from a dict index -> name (gaps named ``class_i``).

    Examples
    --------
    >>> normalise_class_names({0: "cat", 2: "dog"})
    ['cat', 'class_1', 'dog']
    """
    if class_names is None:
        return None
    if isinstance(class_names, Mapping):
        try:
            indices = [int(k) for k in class_names]
        except (TypeError, ValueError):
            raise TypeError("class_names as a dict must map int class indices to names") from None
        if not indices or min(indices) < 0:
            raise ValueError(f"class_names dict must have non-negative int keys; got {sorted(indices)[:5]}")
        names = [f"class_{i}" for i in range(max(indices) + 1)]
        for key, value in class_names.items():
            names[int(key)] = str(value)
        return names
    if isinstance(class_names, (str, bytes)) or not isinstance(class_names, Sequence):
        raise TypeError(f"class_names must be a list of names or a dict index -> name; got {describe(class_names)}")
    names = [str(name) for name in class_names]
    if len(set(names)) != len(names):
        raise ValueError("class_names must be unique")
    return names


def check_target(target: Any, num_classes: int, class_names: Sequence[str] | None = None, name: str = "target") -> int:
    """Resolve one class given as an index or a class name to an index in ``0..num_classes-1``.

    Examples
    --------
    >>> check_target("dog", 2, ["cat", "dog"])
    1
    """
    if isinstance(target, str):
        if not class_names:
            raise ValueError(f"{name}={target!r} is a class name, but the model has no class names attached")
        try:
            return list(class_names).index(target)
        except ValueError:
            import difflib

            close = difflib.get_close_matches(target, list(class_names), n=3)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            shown = ", ".join(map(repr, list(class_names)[:10])) + (", ..." if len(class_names) > 10 else "")
            raise ValueError(f"{name}={target!r} is not a known class name (known: {shown}){hint}") from None
    if isinstance(target, (bool, np.bool_)) or not isinstance(target, numbers.Integral):
        raise TypeError(f"{name} must be a class index (int) or a class name (str); got {describe(target)}")
    index = int(target)
    if not 0 <= index < num_classes:
        raise ValueError(f"{name}={index} is out of range: the model has {num_classes} classes (0..{num_classes - 1})")
    return index


def check_target_spec(targets: Any, n_images: int | None = None, name: str = "targets") -> Any:
    """The shape of a target specification, checked before the model is at hand (the dataset runner's case).

    Returns it in plain Python: None, one int or name for every image, or a list with one entry
    (an int, a name, or a list of them) per image. ``n_images`` None skips the length check (a
    stream of unknown length). The classes themselves are checked by :func:`resolve_targets`.

    Examples
    --------
    >>> check_target_spec(np.array([1, 0]), 2)
    [1, 0]
    """
    if isinstance(targets, np.ndarray):
        targets = targets.tolist()
    if targets is None or isinstance(targets, str):
        return targets
    if isinstance(targets, numbers.Integral) and not isinstance(targets, (bool, np.bool_)):
        return int(targets)
    if isinstance(targets, (str, bytes)) or not isinstance(targets, Sequence):
        raise TypeError(f"{name} must be None, an int, a class name, or a list with one entry per image; "
                        f"got {describe(targets)}")
    if n_images is not None and len(targets) != n_images:
        raise ValueError(f"{name} has {len(targets)} entries but {n_images} image(s) were given; give one per image")
    spec = []
    for i, entry in enumerate(targets):
        if isinstance(entry, np.ndarray):
            entry = entry.tolist()
        if isinstance(entry, (list, tuple)):
            if len(entry) == 0:
                raise ValueError(f"{name}[{i}] is empty; give at least one class per image")
            entry = list(entry)
        spec.append(entry)
    return spec


def resolve_targets(targets: Any, num_classes: int, class_names: Sequence[str] | None = None, *,
                    scores: np.ndarray | None = None, n_images: int | None = None, top_labels: int | None = None,
                    name: str = "targets") -> list[list[int]]:
    """A target specification as class indices, one list per image.

    Parameters
    ----------
    targets : None, int, str, sequence or Named
        None (each image's top class, or its ``top_labels`` best), an index or a class name for
        every image, or one entry (an index, a name, or a list of them) per image. A
        :class:`Named` carries the name errors use (``explain`` passes ``Named(target, "target")``).
    num_classes : int
    class_names : sequence of str, optional
    scores : ndarray (N, classes), optional
        The model's scores for the images, which pick the top classes. Without them (a method
        that computes the scores itself, in the same pass as its gradients) the top classes are
        left as ranks: ``-1`` for an image's best class, ``-r`` for its r-th best.
    n_images : int, optional
        The number of images, where ``scores`` are not given.
    top_labels : int, optional
        Each image's ``top_labels`` best classes, best first.
    name : str
        The argument's name in error messages (unless ``targets`` is a :class:`Named`).

    Examples
    --------
    >>> scores = np.array([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3]])
    >>> resolve_targets(None, 3, scores=scores, top_labels=2)
    [[1, 2], [0, 2]]
    >>> resolve_targets(["b", [0, 2]], 3, ["a", "b", "c"], n_images=2)
    [[1], [0, 2]]
    >>> resolve_targets(None, 3, n_images=2)
    [[-1], [-1]]
    """
    targets, name = unwrap_named(targets, name)  # explain(target=...) hands on the user's own name
    check_class_output(None, name, targets)  # a score function here: a method that does not take one
    if scores is not None:
        n_images = scores.shape[0]
    if n_images is None:
        raise ValueError("resolve_targets needs the scores or the number of images")
    if top_labels is not None:
        if targets is not None:
            raise ValueError(f"give either {name} or top_labels, not both")
        k = check_int(top_labels, "top_labels", 1, num_classes)
        if scores is None:
            return [list(range(-1, -k - 1, -1)) for _ in range(n_images)]
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return [list(map(int, row)) for row in order]
    if targets is None:
        if scores is None:
            return [[-1] for _ in range(n_images)]
        return [[int(np.argmax(row))] for row in scores]
    spec = check_target_spec(targets, n_images, name)
    if not isinstance(spec, list):
        index = check_target(spec, num_classes, class_names, name)
        return [[index] for _ in range(n_images)]
    return [[check_target(e, num_classes, class_names, f"{name}[{i}]") for e in (entry if isinstance(entry, list) else [entry])]
            for i, entry in enumerate(spec)]


def check_class_output(shape: tuple | None, name: str = "target", targets: Any = None) -> None:
    """Refuse a model output that is not class scores (N, classes), pointing to the score targets; and
    refuse ``targets`` that are a score function, for methods that do not take one
    (methods that do hand them to :func:`superexplain.models.score_targets.use_score_target` first).

    Examples
    --------
    >>> check_class_output((None, 10))
    >>> check_class_output((None, 16, 16, 3))
    Traceback (most recent call last):
    ...
    ValueError: this model's output has shape (None, 16, 16, 3), not class scores (N, classes); give target=superexplain.targets.Region(class_index, mask) or another score function (see superexplain.targets)
    """
    from ..targets import is_score_target

    targets, name = unwrap_named(targets, name)
    if is_score_target(targets):
        raise TypeError(f"{name}={targets!r} is a score function, which this method does not take; give a class "
                        "index or name, or use a method that explains score functions (see superexplain.targets)")
    if shape is not None and len(shape) not in (0, 1, 2):
        raise ValueError(f"this model's output has shape {tuple(shape)}, not class scores (N, classes); give "
                         f"{name}=superexplain.targets.Region(class_index, mask) or another score function "
                         "(see superexplain.targets)")
