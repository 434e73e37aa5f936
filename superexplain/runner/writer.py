"""The driver's side of a run: which units are still to do, and writing each image's explanation files and index lines.

Both backends hand their results to the same :class:`Writer`, so a run folder is the same
whichever produced it.
"""
from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np

from .identity import image_digest
from .index import EXPLANATIONS_DIR, RunIndex, temporary_name
from .sources import safe_stem, unit_of

__all__ = ["pending_units", "Writer", "file_name"]


def pending_units(source, unit_size: int, done: dict, digests: dict | None = None, out: str = "") -> Iterator[list]:
    """Units with at least one image to do, whole: an image's batch mates are re-run (and not written twice)
    so that a batched method sees the same batches as an uninterrupted run.

    With ``digests`` (a stream, which cannot be hashed ahead), each image is hashed as it comes: an
    image already done must hash as the run's did, and the hashes of the others are left in
    ``digests`` for the writer to record.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.runner.sources import open_source
    >>> units = pending_units(open_source(np.zeros((5, 2, 2, 3))), 2, done={0: [], 1: [], 2: []})
    >>> [[entry.index for entry in unit] for unit in units]
    [[2, 3], [4]]
    """
    unit: list = []
    current = None
    for entry in source.entries():
        if digests is not None and isinstance(entry.payload, np.ndarray):
            digest = image_digest(entry.payload)
            recorded = done[entry.index][0].get("image_hash") if entry.index in done else None
            if recorded is not None and recorded != digest:
                raise ValueError(
                    f"images: image {entry.index} differs from the image the run in out={out!r} explained at that "
                    "index (the stream yields other images than the run's); resuming would mix the two runs' "
                    "explanations. Start over with overwrite=True, or give another out directory")
            if entry.index not in done:  # only what the writer will record: a long stream's done images add nothing
                digests[entry.index] = digest
        number = unit_of(entry.index, unit_size)
        if current is not None and number != current:
            if any(e.index not in done for e in unit):
                yield unit
            unit = []
        current = number
        unit.append(entry)
    if unit and any(e.index not in done for e in unit):
        yield unit


def file_name(index: int, key: str, target: int) -> str:
    """The explanation file of image ``index`` (id ``key``) and class ``target``, relative to the run folder.

    Examples
    --------
    >>> file_name(3, "cats/tabby.png", 281), file_name(7, "7", 0)
    ('explanations/000003_tabby_t281.npz', 'explanations/000007_t0.npz')
    """
    stem = safe_stem(key)
    middle = "" if stem == str(index) else f"_{stem}"
    return f"{EXPLANATIONS_DIR}/{index:06d}{middle}_t{target}.npz"


class Writer:
    """Writes each image's explanations (atomically) and then its index lines, on the driver."""

    def __init__(self, out: str, index: RunIndex, method: str, bar, digests: dict | None = None) -> None:
        self.out, self.index, self.method, self.bar = out, index, method, bar
        self.digests = digests
        self.failed = 0

    def __call__(self, results: list[dict]) -> None:
        for result in results:
            digest = self.digests.pop(result["index"], None) if self.digests is not None else None
            if result["index"] in self.index.done:  # a batch mate re-run for identical batches
                continue
            base = {"index": result["index"], "id": result["key"], "method": self.method, "seed": result["seed"]}
            if digest is not None:  # a stream's image: a resume checks that the stream still yields it
                base["image_hash"] = digest
            if "error" in result:
                self.failed += 1
                self.index.append([{**base, "target": None, "target_name": None, "score": None, "file": None,
                                    "seconds": 0.0, "status": "error", "error": result["error"], "n_targets": 1}])
            else:
                records = [self._save(explanation, base, result) for explanation in result["explanations"]]
                self.index.append(records)
                self.index.done[result["index"]] = records
            self.bar.update()

    def _save(self, explanation, base: dict, result: dict) -> dict:
        """Write one explanation file (under a temporary name, then renamed) and return its index line."""
        count = len(result["explanations"])
        name = file_name(result["index"], result["key"], explanation.target)
        path = os.path.join(self.out, name)
        temporary = temporary_name(path)
        explanation.save(temporary)
        os.replace(temporary, path)
        return {**base, "target": explanation.target, "target_name": explanation.target_name,
                "score": explanation.score, "file": name, "seconds": round(result["seconds"] / count, 6),
                "status": "done", "n_targets": count}
