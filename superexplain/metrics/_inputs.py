"""Turn the metrics' (image, explanation) arguments -- one image, a batch, several methods, a dataset -- into items."""
from __future__ import annotations

import glob
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validation import check_images, describe
from ..models.targets import check_target
from ..explanation import Explanation, ExplanationFileError

__all__ = ["Item", "resolve_items", "dataset_pairs", "resolve_target"]


@dataclass
class Item:
    """One image to evaluate, with the explanations (one per method) to evaluate on it."""

    image: np.ndarray  # (H, W, C) float32
    maps: dict[str, Any] = field(default_factory=dict)  # method name -> Explanation or (H, W) map

    def explanation_target(self) -> int | None:
        targets = {m.target for m in self.maps.values() if isinstance(m, Explanation)}
        if len(targets) > 1:
            raise ValueError(f"the explanations of one image explain different targets {sorted(targets)}; "
                             "give target= to choose one")
        return targets.pop() if targets else None

    def explanation_segments(self) -> np.ndarray | None:
        found = [m.segments for m in self.maps.values() if isinstance(m, Explanation) and m.segments is not None]
        for other in found[1:]:
            if not np.array_equal(other, found[0]):
                raise ValueError("the explanations use different segmentations; give segments= so that every "
                                 "method is evaluated on the same features")
        return found[0] if found else None


def _is_dataset(value: Any) -> bool:
    return hasattr(value, "pairs") and callable(value.pairs) or isinstance(value, (str, os.PathLike))


def dataset_pairs(dataset: Any) -> list[tuple[np.ndarray, Explanation]]:
    """(image, explanation) pairs from anything with ``.pairs()`` or a directory of Explanation files.

    A directory written by :func:`superexplain.explain_dataset` (it holds ``run.json``) is read
    through ``DatasetResult.open``; any other directory recursively: every ``.npz`` Explanation
    file in it, sorted by path (each explanation carries its own image). Intact ``.npz`` archives
    of other arrays (another tool's) are passed over; a damaged file (empty, cut short, not an
    archive) raises a ValueError naming it rather than being skipped, since a metric over the
    rest would average fewer images without saying so.
    """
    if hasattr(dataset, "pairs") and callable(dataset.pairs):
        pairs = [(np.asarray(image), explanation) for image, explanation in dataset.pairs()]
    else:
        path = os.fspath(dataset)
        if not os.path.isdir(path):
            raise ValueError(f"a dataset given as a path must be a directory of Explanation files; got {path!r}")
        if os.path.exists(os.path.join(path, "run.json")):  # an explain_dataset output: read it through its index
            from ..runner import DatasetResult

            return dataset_pairs(DatasetResult.open(path))
        files = sorted(glob.glob(os.path.join(path, "**", "*.npz"), recursive=True))
        # a crashed writer may leave temporary files behind: they are never complete explanations
        files = [file for file in files if ".tmp" not in os.path.basename(file)]
        explanations = []
        for file in files:
            try:
                explanations.append(Explanation.load(file))
            except ExplanationFileError as error:
                if error.foreign:  # other tools' .npz files (indexes, caches) are not ours to read
                    continue
                raise
        pairs = [(e.image, e) for e in explanations]
    if not pairs:
        raise ValueError(f"the dataset {describe(dataset)} holds no (image, explanation) pairs")
    return pairs


def _name(explanation: Any, taken: dict) -> str:
    base = explanation.method if isinstance(explanation, Explanation) else "map"
    name, k = base, 2
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    return name


def _as_method_dict(value: Any, name: str) -> dict[str, Any]:
    if isinstance(value, Mapping):
        if not value:
            raise ValueError(f"{name} is an empty dict; give at least one explanation")
        return {str(k): v for k, v in value.items()}
    out: dict[str, Any] = {}
    for entry in value:
        out[_name(entry, out)] = entry
    if not out:
        raise ValueError(f"{name} is empty; give at least one explanation")
    return out


def resolve_items(image: Any, explanation: Any, several_methods: bool = True,
                  name: str = "explanation", predictor: Any = None) -> tuple[list[Item], bool, list[str]]:
    """Items to evaluate, whether one image was given, and the method names in order.

    With ``predictor``, a given ``image`` is checked against the model's input
    (:meth:`Predictor.check_images <superexplain.models.Predictor.check_images>`: one image or a
    batch by the model's channels, errors showing the shape the user gave).

    - ``image`` a dataset (``.pairs()`` or a directory): its pairs, ``explanation`` must be None.
    - ``image`` None: the image(s) stored in the Explanation(s).
    - one image: ``explanation`` an Explanation / (H, W) map, or (``several_methods``) a list or
      dict of them, evaluated on shared random draws.
    - a batch of N: a list of N explanations, or a dict ``{method: list of N}``.
    """
    if image is not None and _is_dataset(image):
        if explanation is not None:
            raise ValueError("give either a dataset (in place of image) or image and explanation, not both")
        pairs = dataset_pairs(image)
        items = [Item(check_images(img, "dataset image")[0][0], {e.method if isinstance(e, Explanation) else "map": e})
                 for img, e in pairs]
        names = sorted({next(iter(item.maps)) for item in items})
        if len(names) > 1:  # one dataset, one method: several would be mixed into one mean
            raise ValueError(f"the dataset holds explanations of several methods {names}; evaluate one at a time")
        return items, False, names
    if explanation is None:
        raise TypeError(f"{name} is required (an Explanation, an (H, W) map, or a list of them)")
    if image is None:
        explanations = explanation if isinstance(explanation, (list, tuple)) else [explanation]
        if not all(isinstance(e, Explanation) for e in explanations):
            raise TypeError("image is required when the explanations are raw maps (they carry no image)")
        if isinstance(explanation, Explanation):
            own_image = check_images(explanation.image, "explanation.image")[0][0]
            return [Item(own_image, {explanation.method: explanation})], True, [explanation.method]
        items = [Item(check_images(e.image, f"{name}[{i}].image")[0][0], {e.method: e})
                 for i, e in enumerate(explanations)]
        return items, False, [explanations[0].method]
    batch, single = check_images(image, "image") if predictor is None else predictor.check_images(image, "image")
    if single:
        if isinstance(explanation, (Explanation, np.ndarray)):
            maps: dict[str, Any] = {_name(explanation, {}): explanation}
        elif isinstance(explanation, (Mapping, list, tuple)):
            if not several_methods:
                raise TypeError(f"{name} must be one Explanation or (H, W) map for one image; "
                                f"got {describe(explanation)}")
            maps = _as_method_dict(explanation, name)
        else:
            raise TypeError(f"{name} must be an Explanation or an (H, W) map; got {describe(explanation)}")
        return [Item(batch[0], maps)], True, list(maps)
    n_images = batch.shape[0]
    if isinstance(explanation, Mapping) and several_methods:
        columns: dict[str | None, list] = {str(k): list(v) if not isinstance(v, Explanation) else [v]
                                           for k, v in explanation.items()}
    elif isinstance(explanation, (list, tuple, np.ndarray)):
        columns = {None: list(explanation)}
    else:
        raise TypeError(f"{name} for a batch of {n_images} images must be a list with one explanation per image; "
                        f"got {describe(explanation)}")
    for key, column in columns.items():
        if len(column) != n_images:
            raise ValueError(f"{name} has {len(column)} entries but {n_images} images were given; give one per image")
    items = []
    for i in range(n_images):
        maps = {}
        for key, column in columns.items():
            maps[key if key is not None else _name(column[i], {})] = column[i]
        items.append(Item(batch[i], maps))
    names = list(items[0].maps)
    return items, False, names


def resolve_target(predictor, item: Item, target: Any, image_scores: np.ndarray) -> int:
    """The class to score: ``target`` if given, else the explanations' target, else the top class."""
    num_classes = image_scores.shape[-1]
    if target is not None:
        return check_target(target, num_classes, predictor.class_names, "target")
    explained = item.explanation_target()
    if explained is not None:
        return check_target(explained, num_classes, predictor.class_names, "the explanation's target")
    return int(np.argmax(image_scores))


def is_sequence(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))
