"""What a command did, for people and for scripts: the `Summary` (files written, notes, timings) and JSON writing."""
from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from typing import Any, Iterator

import numpy as np

__all__ = ["Summary", "write_json", "finite_or_none"]


class Summary:
    """What a command did: files written, notes for people, and a JSON-able record for scripts.

    Examples
    --------
    >>> import io
    >>> summary = Summary("explain")
    >>> _ = summary.file("out/a.png", "plot")
    >>> summary.note("explained 1 image(s)")
    >>> stream = io.StringIO()
    >>> summary.finish(as_json=False, quiet=False, stream=stream)
    >>> print(stream.getvalue().strip())
    plot: out/a.png
    explained 1 image(s)
    """

    #: Files listed one by one in the report for people; the rest are counted.
    MAX_LISTED = 20

    def __init__(self, command: str) -> None:
        self.data: dict[str, Any] = {"command": command, "files": [], "timings": {}}
        self.lines: list[str] = []
        self._start = time.perf_counter()

    def file(self, path: str, what: str) -> str:
        """Record a file written (``what`` it is, for the report); returns the path."""
        self.data["files"].append(path)
        if len(self.data["files"]) <= self.MAX_LISTED:
            self.lines.append(f"{what}: {path}")
        return path

    def note(self, text: str) -> None:
        """A line for the report for people."""
        self.lines.append(text)

    @contextlib.contextmanager
    def timed(self, name: str) -> Iterator[None]:
        """Add the seconds spent in the block to ``timings[name]``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            timings = self.data["timings"]
            timings[name] = round(timings.get(name, 0.0) + time.perf_counter() - start, 4)

    def finish(self, as_json: bool, quiet: bool, stream=None) -> None:
        """Print the JSON record (``as_json``) or the report for people (unless ``quiet``)."""
        stream = stream if stream is not None else sys.stdout
        self.data["timings"]["total"] = round(time.perf_counter() - self._start, 4)
        if as_json:
            stream.write(json.dumps(_clean(self.data), indent=2, default=_json_default, allow_nan=False) + "\n")
        elif not quiet:
            hidden = len(self.data["files"]) - self.MAX_LISTED
            if hidden > 0:
                self.lines.append(f"... and {hidden} more file(s)")
            for line in self.lines:
                stream.write(line + "\n")
        stream.flush()


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def finite_or_none(value: Any) -> float | None:
    """A float for JSON, None for a missing or non-finite number (JSON has no NaN).

    Examples
    --------
    >>> finite_or_none(2), finite_or_none(float("nan")), finite_or_none(None)
    (2.0, None, None)
    """
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None


def write_json(data: Any, path: str) -> str:
    """Write JSON (NaN written as null) and return the path.

    Examples
    --------
    >>> import os, tempfile
    >>> path = write_json({"score": float("nan"), "map": np.eye(2)}, os.path.join(tempfile.mkdtemp(), "a.json"))
    >>> open(path).read().split()
    ['{', '"score":', 'null,', '"map":', '[', '[', '1.0,', '0.0', '],', '[', '0.0,', '1.0', ']', ']', '}']
    """
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(_clean(data), handle, indent=2, default=_json_default, allow_nan=False)
        handle.write("\n")
    return path


def _clean(value: Any) -> Any:
    """NaN and infinities become None so the JSON stays standard."""
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(item) for item in value]
    if isinstance(value, np.ndarray):
        return _clean(value.tolist())
    if isinstance(value, (float, np.floating)):
        return finite_or_none(value)
    if isinstance(value, np.integer):
        return int(value)
    return value
