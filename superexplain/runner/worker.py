"""The work of one unit (a few consecutive images), shared by the local and the Ray backend: load, validate, explain."""
from __future__ import annotations

import hashlib
import inspect
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

from .._validation import describe
from ..registry import method_info
from .sources import Entry, Loader

__all__ = ["Plan", "UnitExplainer", "image_seed", "is_factory",
           "build_predictor", "model_fingerprint"]

def image_seed(random_state: int, index: int) -> int:
    """The seed of image ``index``: a function of the run's seed and the index only.

    So an image's explanation does not depend on the backend, the worker that ran it or the order.
    """
    return int(np.random.SeedSequence([int(random_state), int(index)]).generate_state(1)[0])


def is_factory(model: Any) -> bool:
    """A callable that takes no argument (a model factory) rather than ``images -> scores``."""
    if not callable(model) or isinstance(model, type):
        return False
    try:
        parameters = inspect.signature(model).parameters.values()
    except (TypeError, ValueError):
        return False
    return not any(p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                   for p in parameters)


def build_predictor(model_spec: tuple, class_names: Any = None, output: Any = None):
    """A Predictor from a model spec: ("object", model), ("path", path), ("bytes", data, suffix), ("factory", fn)."""
    from ..models import as_predictor

    kind = model_spec[0]
    if kind == "object":
        model = model_spec[1]
    elif kind == "path":
        model = model_spec[1]
    elif kind == "bytes":  # a model file shipped to a worker that may not see the driver's disk
        folder = tempfile.mkdtemp(prefix="superexplain-model-")
        model = os.path.join(folder, "model" + model_spec[2])
        with open(model, "wb") as handle:
            handle.write(model_spec[1])
    elif kind == "factory":
        model = model_spec[1]()
        if model is None:
            raise TypeError("the model factory returned None; it must return a Keras model or a callable")
    else:  # pragma: no cover - specs are built by explain_dataset
        raise ValueError(f"unknown model spec {kind!r}")
    return as_predictor(model, class_names=class_names, output=output)


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
        digest.update(values.reshape(-1).view(np.uint8))
    return digest.hexdigest()


def callable_name(function: Any) -> str:
    """A callable's qualified name, ``module.qualname`` (``functools.partial`` and the like: their type)."""
    name = getattr(function, "__qualname__", None) or type(function).__qualname__
    return f"{getattr(function, '__module__', None) or type(function).__module__}.{name}"


def model_fingerprint(model: Any) -> dict:
    """What a resumed run compares to tell whether its model is the run's: architecture and weights hashes.

    ``model`` is a Keras model, a Predictor or a callable ``images -> scores``. A Keras model gives
    ``{"kind": "keras", "architecture": ..., "weights": ...}``: the architecture hash covers the
    layers' types, settings, wiring and weight shapes (names do not count: Keras numbers them per
    process), the weights hash every value of ``model.weights`` in order. A plain callable has no
    weights to read: ``{"kind": "callable", "name": "module.qualname"}``, compared by name only.
    """
    from ..models import Predictor
    from ..models.keras_model import is_keras_model

    if isinstance(model, Predictor):
        model = model.keras_model if model.keras_model is not None else model.function
    if is_keras_model(model):
        return {"kind": "keras", "architecture": _architecture_digest(model), "weights": _weights_digest(model)}
    return {"kind": "callable", "name": callable_name(model)}


@dataclass
class Plan:
    """What every worker needs besides the model (picklable)."""

    method: str
    options: dict
    targets: Any
    top_labels: int | None
    random_state: int
    loader: Loader
    class_names: Any = None
    output: Any = None  # which of several model outputs holds the class scores
    deterministic: bool = field(init=False)

    def __post_init__(self) -> None:
        self.deterministic = method_info(self.method).deterministic

    def random_state_of(self, seeds: list[int]) -> Any:
        """What a call explaining images with these seeds passes as ``random_state``."""
        if method_info(self.method).per_image_seeds:
            return list(seeds)
        return seeds[0]  # one image per call, or a method that draws nothing

    def target_of(self, index: int) -> Any:
        if isinstance(self.targets, list):
            if index >= len(self.targets):
                raise ValueError(f"targets has {len(self.targets)} entries but the dataset has more images "
                                 f"(image {index}); give one entry per image")
            return self.targets[index]
        return self.targets

    def count_of(self, target: Any) -> int:
        if self.top_labels is not None:
            return int(self.top_labels)
        return len(target) if isinstance(target, (list, tuple)) else 1


class UnitExplainer:
    """Explains units of entries with one Predictor; returns one result dict per image.

    A result holds ``index``, ``key``, ``seed``, ``seconds`` and either ``explanations`` (a list)
    or ``error`` (why the image could not be read). Errors of the method itself are raised: they
    concern every image (a bad option), not one.
    """

    def __init__(self, predictor, plan: Plan) -> None:
        self.predictor = predictor
        self.plan = plan
        height, width, channels = predictor.input_shape
        # files are read at the model's input size and channel count unless the run says otherwise
        size = plan.loader.size or ((height, width) if height and width else None)
        self.loader = Loader(size=size, channels=channels, preprocess=plan.loader.preprocess)

    def _read(self, entry: Entry) -> np.ndarray:
        image = self.loader.load(entry)
        batch, _ = self.predictor.check_images(image, "image")
        if batch.shape[0] != 1:
            raise ValueError(f"expected one image; got {describe(image)}")
        return batch[0]

    def explain_unit(self, entries: list[Entry]) -> list[dict]:
        results, valid, images, targets = [], [], [], []
        for entry in entries:
            seed = image_seed(self.plan.random_state, entry.index)
            try:
                target = self.plan.target_of(entry.index)
                images.append(self._read(entry))
            except (ValueError, TypeError, OSError) as exc:
                results.append({"index": entry.index, "key": entry.key, "seed": seed, "seconds": 0.0,
                                "error": f"{type(exc).__name__}: {exc}"})
                continue
            valid.append({"index": entry.index, "key": entry.key, "seed": seed})
            targets.append(target)
        by_shape: dict[tuple, list[int]] = {}  # a model with free input size may get mixed sizes
        for position, image in enumerate(images):
            by_shape.setdefault(image.shape, []).append(position)
        for positions in by_shape.values():
            results += self._explain_group([valid[p] for p in positions], [images[p] for p in positions],
                                           [targets[p] for p in positions])
        results.sort(key=lambda r: r["index"])
        return results

    def _explain_group(self, valid: list[dict], images: list[np.ndarray], targets: list) -> list[dict]:
        from ..explain import explain

        start = time.perf_counter()
        explanations = explain(
            self.predictor, np.stack(images), method=self.plan.method,
            target=targets if isinstance(self.plan.targets, list) else self.plan.targets,
            top_labels=self.plan.top_labels, random_state=self.plan.random_state_of([v["seed"] for v in valid]),
            verbose=0, **self.plan.options,
        )
        seconds = (time.perf_counter() - start) / len(valid)
        if not isinstance(explanations, list):
            explanations = [explanations]
        counts = [self.plan.count_of(target) for target in targets]
        if sum(counts) != len(explanations):  # pragma: no cover - a method breaking the contract
            raise RuntimeError(f"method {self.plan.method!r} returned {len(explanations)} explanations for "
                               f"{len(valid)} images ({sum(counts)} targets)")
        results, start_at = [], 0
        for result, count in zip(valid, counts):
            own = explanations[start_at:start_at + count]
            start_at += count
            if len(valid) > 1 and not method_info(self.plan.method).per_image_seeds:
                # a deterministic method shared one call (and one seed): record the image's own seed
                for explanation in own:
                    if "seed" in explanation.params:
                        explanation.params["seed"] = result["seed"]
            results.append({**result, "seconds": seconds, "explanations": own})
        return results
