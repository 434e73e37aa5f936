"""`DatasetResult`: a run folder of `explain_dataset` read back -- its index, settings and explanations (lazily)."""
from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np

from .._validation import describe
from ..explanation import Explanation, ExplanationFileError
from .index import read_index, read_settings

__all__ = ["DatasetResult"]


class DatasetResult:
    """A finished (or partly finished) run directory of :func:`explain_dataset`.

    Attributes
    ----------
    out : str
        The run directory.
    index : list of dict
        One entry per explanation (``status="done"``) and per image that could not be explained
        (``status="error"``), ordered by image index then target.
    settings : dict
        The run's settings, as recorded in ``run.json``.

    Examples
    --------
    >>> import tempfile, superexplain
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> out = tempfile.mkdtemp()
    >>> _ = superexplain.explain_dataset(load_demo_model(), make_shapes(2, seed=0).images, "gradcam",
    ...                                  out=out, verbose=0)
    >>> result = DatasetResult.open(out)
    >>> len(result), len(result.failed)
    (2, 0)
    >>> image, explanation = next(result.pairs())
    >>> image.shape, explanation.method
    ((64, 64, 3), 'gradcam')
    """

    def __init__(self, out: str, index: list[dict], settings: dict | None = None) -> None:
        self.out = out
        self.index = index
        self.settings = settings or {}

    @classmethod
    def open(cls, out: str | os.PathLike) -> "DatasetResult":
        """Reopen a run directory written by :func:`explain_dataset` (read only)."""
        if not isinstance(out, (str, os.PathLike)):
            raise TypeError(f"out must be a directory path; got {describe(out)}")
        out = os.fspath(out)
        settings = read_settings(out) if os.path.isdir(out) else None
        if settings is None:
            raise ValueError(f"{out!r} is not an explain_dataset output directory (no run.json)")
        return cls(out, read_index(out), settings)

    @property
    def done(self) -> list[dict]:
        """Index entries of the explanations written."""
        return [record for record in self.index if record["status"] == "done"]

    @property
    def failed(self) -> list[dict]:
        """Index entries of the images that could not be explained, with the ``error`` message."""
        return [record for record in self.index if record["status"] == "error"]

    def explanations(self) -> Iterator[Explanation]:
        """The explanations, loaded one at a time from disk, by image index then target.

        Raises
        ------
        ValueError
            At the first file that is missing or cannot be read (empty, cut short, damaged): the
            message names the file and its image. Such a file is not skipped, since a metric over
            the rest would silently average fewer images; delete it and call
            :func:`explain_dataset` again with the same ``out`` to explain that image again.
        """
        for record in self.done:
            path = os.path.join(self.out, record["file"])
            try:
                explanation = Explanation.load(path)
            except (ExplanationFileError, FileNotFoundError) as exc:
                problem = exc.problem if isinstance(exc, ExplanationFileError) else "the file is missing"
                raise ExplanationFileError(
                    path, f"{problem}. It is the explanation of image {record['index']} (id {record['id']!r}) of "
                          f"the run in {self.out!r}; delete it (if present) and call explain_dataset again with "
                          f"out={self.out!r} to explain that image again") from exc
            yield explanation

    def pairs(self) -> Iterator[tuple[np.ndarray, Explanation]]:
        """``(image, explanation)`` pairs; the image is the one the method explained (``explanation.image``).

        A missing or unreadable explanation file raises a ValueError naming it (see :meth:`explanations`).
        """
        for explanation in self.explanations():
            yield explanation.image, explanation

    def __len__(self) -> int:
        return len(self.done)

    def __repr__(self) -> str:
        return (f"DatasetResult(out={self.out!r}, method={self.settings.get('method')!r}, "
                f"explanations={len(self)}, failed={len(self.failed)})")
