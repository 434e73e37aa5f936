"""What a resumed run compares to tell that it is the same run: the images' identity, the model's fingerprint.

``run.json`` records both. Images are identified by their files' paths, sizes and modification
times, by a content hash of an in-memory array, or (a stream read once) image by image as they
come (:func:`image_digest`); the model by hashes of its architecture and weights
(:func:`model_fingerprint`). :func:`source_change` and :func:`model_change` say in words what
differs between two records, for the error that refuses a resume.
"""
from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Iterator

import numpy as np

__all__ = ["image_digest", "array_identity", "files_identity", "model_fingerprint", "callable_name",
           "source_change", "model_change"]

#: Bytes of an in-memory array hashed at a time: a memmap is read piecewise and a strided array is
#: copied only a chunk at a time, never whole.
_HASH_CHUNK_BYTES = 16 * 2**20
#: Names listed in a message about changed files before "and N more".
_LISTED = 5


# ---------------------------------------------------------------------------------------- images
def _new_digest(array: np.ndarray):
    digest = hashlib.blake2b(digest_size=20)
    # shape and dtype (with byte order) are part of the identity: the same bytes read another way differ
    digest.update(repr((tuple(int(n) for n in array.shape), array.dtype.str)).encode())
    return digest


def image_digest(image: np.ndarray) -> str:
    """A content hash of one image (shape, dtype and bytes), for checking a stream's images on resume.

    Examples
    --------
    >>> import numpy as np
    >>> image_digest(np.zeros((2, 2, 3))) == image_digest(np.zeros((2, 2, 3)))
    True
    >>> image_digest(np.zeros((2, 2, 3))) == image_digest(np.zeros((2, 2, 3), np.float32))
    False
    """
    image = np.asarray(image)
    digest = _new_digest(image)
    digest.update(np.ascontiguousarray(image).reshape(-1).view(np.uint8))
    return digest.hexdigest()


def array_identity(batch: np.ndarray) -> dict:
    """An array's identity: shape, dtype and a blake2b hash of its bytes, read in chunks of rows."""
    digest = _new_digest(batch)
    if batch.shape[0]:
        rows = max(1, _HASH_CHUNK_BYTES // max(1, batch[:1].nbytes))
        for start in range(0, batch.shape[0], rows):
            # a view for a contiguous array; a chunk-sized copy for a strided one
            digest.update(np.ascontiguousarray(batch[start:start + rows]).reshape(-1).view(np.uint8))
    return {"kind": "array", "shape": [int(n) for n in batch.shape], "dtype": batch.dtype.str,
            "blake2b": digest.hexdigest()}


def files_identity(keys: list[str], paths: list[str]) -> dict:
    """Image files' identity: relative path, size and modification time (ns) of each, in the source's order.

    Sizes and times are read, not contents, so a run over a million files starts in seconds; a
    file rewritten with the same size within the file system's time resolution is not seen.
    """
    files: list[list[Any]] = []
    for key, path in zip(keys, paths):
        try:
            status = os.stat(path)
        except OSError:  # vanished since it was listed: recorded as missing, so a resume reports it changed
            files.append([key, None, None])
            continue
        files.append([key, int(status.st_size), int(status.st_mtime_ns)])
    return {"kind": "files", "files": files}



# ---------------------------------------------------------------------------------------- the model
#: Config keys that do not change what a model computes, or that change with the process or the way the
#: model was made rather than with the model: layer names are replaced by their position instead.
_UNSTABLE_CONFIG_KEYS = frozenset({"trainable", "compile_config", "build_config", "filepath"})


def _leaf_layers(model: Any) -> Iterator[Any]:
    """Every layer, nested models' layers included, depth first in the model's own order."""
    for layer in getattr(model, "layers", None) or []:
        yield layer
        if getattr(layer, "layers", None):
            yield from _leaf_layers(layer)


def _canonical(value: Any, positions: dict[str, str]) -> Any:
    """A config with layer names replaced by their positions and unstable keys dropped.

    Keras numbers its automatic names per process (``conv2d_3`` in one, ``conv2d`` in another),
    so the same architecture built twice must not differ by them.
    """
    if isinstance(value, dict):
        return {key: _canonical(item, positions) for key, item in value.items() if key not in _UNSTABLE_CONFIG_KEYS}
    if isinstance(value, (list, tuple)):
        return [_canonical(item, positions) for item in value]
    if isinstance(value, str):
        return positions.get(value, value)
    return value


def _architecture_digest(model: Any) -> str:
    layers = list(_leaf_layers(model))
    positions: dict[str, str] = {}
    for position, name in enumerate([model.name] + [layer.name for layer in layers]):
        positions.setdefault(name, f"#layer{position}")
    try:
        config = json.loads(model.to_json())
    except Exception:  # noqa: BLE001 - a subclassed model without get_config: its layers below stand for it
        config = None
    # the layer walk covers subclassed models too, whose config tells little
    walk = [[type(layer).__name__, [[list(map(int, w.shape)), str(w.dtype)] for w in layer.weights]]
            for layer in layers]
    weights = [[list(map(int, w.shape)), str(w.dtype)] for w in model.weights]
    text = json.dumps([_canonical(config, positions), walk, weights, type(model).__name__], sort_keys=True,
                      default=lambda value: type(value).__name__)  # never a repr: it may hold an address
    return hashlib.blake2b(text.encode(), digest_size=20).hexdigest()


def _weights_digest(model: Any) -> str:
    digest = hashlib.blake2b(digest_size=20)
    for variable in model.weights:  # one variable at a time: never a second copy of the whole model
        values = np.ascontiguousarray(np.asarray(variable))
        digest.update(repr((values.shape, values.dtype.str)).encode())
        # numpy's stub gives ndarray the buffer protocol on Python 3.12+ only; it has it on 3.11 too
        digest.update(values.reshape(-1).view(np.uint8))  # type: ignore[arg-type]
    return digest.hexdigest()


def callable_name(function: Any) -> str:
    """A callable's qualified name, ``module.qualname`` (``functools.partial`` and the like: their type).

    Examples
    --------
    >>> import functools, os
    >>> callable_name(os.path.join), callable_name(functools.partial(max, 1))
    ('posixpath.join', 'functools.partial')
    """
    name = getattr(function, "__qualname__", None) or type(function).__qualname__
    return f"{getattr(function, '__module__', None) or type(function).__module__}.{name}"


def model_fingerprint(model: Any) -> dict:
    """What a resumed run compares to tell whether its model is the run's: architecture and weights hashes.

    ``model`` is a Keras model, a Predictor or a callable ``images -> scores``. A Keras model gives
    ``{"kind": "keras", "architecture": ..., "weights": ...}``: the architecture hash covers the
    layers' types, settings, wiring and weight shapes (names do not count: Keras numbers them per
    process), the weights hash every value of ``model.weights`` in order. A plain callable has no
    weights to read: ``{"kind": "callable", "name": "module.qualname"}``, compared by name only.

    Examples
    --------
    >>> model_fingerprint(len)
    {'kind': 'callable', 'name': 'builtins.len'}
    """
    from ..models import Predictor
    from ..models.keras_model import is_keras_model

    if isinstance(model, Predictor):
        model = model.keras_model if model.keras_model is not None else model.function
    if is_keras_model(model):
        return {"kind": "keras", "architecture": _architecture_digest(model), "weights": _weights_digest(model)}
    return {"kind": "callable", "name": callable_name(model)}


# ---------------------------------------------------------------------------------------- in words
def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:_LISTED])
    return shown + (f" and {len(names) - _LISTED} more" if len(names) > _LISTED else "")


_SOURCE_KINDS: dict[Any, str] = {"files": "image files", "array": "an in-memory array",
                                 "stream": "an iterable or tf.data.Dataset"}


def source_change(previous: dict, current: dict) -> str | None:
    """What differs between two source identities, in words (None when they are the same).

    Examples
    --------
    >>> before = {"kind": "files", "files": [["a.png", 10, 1], ["b.png", 12, 1]]}
    >>> source_change(before, {"kind": "files", "files": [["a.png", 10, 1], ["b.png", 15, 2]]})
    "the image files differ from the run's: 1 changed, by size or modification time (b.png)"
    """
    if previous == current:
        return None
    before, now = previous.get("kind"), current.get("kind")
    if before != now:
        return (f"the run explained {_SOURCE_KINDS.get(before, before)}, this call gives "
                f"{_SOURCE_KINDS.get(now, now)}")
    if now == "files":
        old = {path: (size, mtime) for path, size, mtime in previous.get("files", [])}
        new = {path: (size, mtime) for path, size, mtime in current.get("files", [])}
        added = [path for path in new if path not in old]
        removed = [path for path in old if path not in new]
        changed = [path for path in new if path in old and new[path] != old[path]]
        parts = []
        if added:
            parts.append(f"{len(added)} added ({_listed(added)})")
        if removed:
            parts.append(f"{len(removed)} removed ({_listed(removed)})")
        if changed:
            parts.append(f"{len(changed)} changed, by size or modification time ({_listed(changed)})")
        return "the image files differ from the run's: " + ("; ".join(parts) or "the same files in another order")
    if now == "array":
        def shape_of(identity: dict) -> str:
            return f"{tuple(identity.get('shape') or ())} {np.dtype(identity.get('dtype')).name}"

        shapes = ""
        if (previous.get("shape"), previous.get("dtype")) != (current.get("shape"), current.get("dtype")):
            shapes = f" (shape {shape_of(previous)} then, {shape_of(current)} now)"
        return f"the in-memory images differ from the run's{shapes}: their content hashes differ"
    return "the images differ from the run's"


def model_change(previous: dict, current: dict) -> str | None:
    """What differs between two model fingerprints, in words (None when they are the same).

    Examples
    --------
    >>> model_change({"kind": "keras", "architecture": "a1", "weights": "w1"},
    ...              {"kind": "keras", "architecture": "a1", "weights": "w2"})
    "the model's weights changed (same architecture)"
    """
    if previous == current:
        return None
    before, now = previous.get("kind"), current.get("kind")
    if before != now:
        kinds: dict[Any, str] = {"keras": "a Keras model", "callable": "a plain callable"}
        return f"the run's model was {kinds.get(before, before)}, this call's is {kinds.get(now, now)}"
    if now == "callable":
        return f"the model callable is another one ({previous.get('name')!r} then, {current.get('name')!r} now)"
    if previous.get("architecture") != current.get("architecture"):
        return "the model's architecture changed (its layers, their settings, wiring or weight shapes)"
    return "the model's weights changed (same architecture)"
