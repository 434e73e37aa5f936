"""The work of one unit (a few consecutive images), shared by the local and the Ray backend: load, validate, explain."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validation import describe
from ..registry import method_info
from .sources import Entry, Loader

__all__ = ["Plan", "UnitExplainer", "image_seed"]


def image_seed(random_state: int, index: int) -> int:
    """The seed of image ``index``: a function of the run's seed and the index only.

    So an image's explanation does not depend on the backend, the worker that ran it or the order.

    Examples
    --------
    >>> import numpy as np
    >>> image_seed(0, 3) == int(np.random.SeedSequence([0, 3]).generate_state(1)[0])
    True
    """
    return int(np.random.SeedSequence([int(random_state), int(index)]).generate_state(1)[0])


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
    model_batch_size: int | None = None  # images per model call (None: the Predictor's default)
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
        results: list[dict[str, Any]] = []
        valid, images, targets = [], [], []
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
