"""The on-disk state of a dataset run: run.json (settings), index.jsonl (one line per explanation), atomic writes."""
from __future__ import annotations

import json
import os
import re
import warnings
from typing import IO, Any, Iterable, cast

from .identity import model_change, source_change

__all__ = [
    "INDEX_FILE",
    "SETTINGS_FILE",
    "EXPLANATIONS_DIR",
    "LOCK_FILE",
    "COMPARED_SETTINGS",
    "IDENTITY_SETTINGS",
    "RunIndex",
    "remove_run",
    "read_index",
    "read_settings",
    "atomic_write_text",
    "temporary_name",
    "jsonable_options",
]

INDEX_FILE = "index.jsonl"
SETTINGS_FILE = "run.json"
EXPLANATIONS_DIR = "explanations"
LOCK_FILE = ".lock"
#: The settings a resumed run must share with the run that made the directory.
COMPARED_SETTINGS = ("method", "options", "targets", "top_labels", "random_state", "batch_size",
                     "model_batch_size", "image_size", "preprocess")
#: What a resumed run must share with the run that made the directory besides its settings: the
#: images (Source.identity) and the model (identity.model_fingerprint).
IDENTITY_SETTINGS = ("source_identity", "model_fingerprint")
_TEMP_MARK = ".tmp-"
#: The names the runner gives explanation files (and the command line their PNG and JSON renderings),
#: temporaries included: ``overwrite`` removes these and nothing else from ``explanations/``.
_RUN_FILE = re.compile(r"^\d{6,}(_[A-Za-z0-9._-]+)?_t\d+(\.tmp-\d+)?\.(npz|png|json)$")


def temporary_name(path: str) -> str:
    """A name next to ``path`` that no reader takes as done (same suffix, so savers keep it).

    Examples
    --------
    >>> import os
    >>> temporary_name("out/explanations/000001_t0.npz") == f"out/explanations/000001_t0.tmp-{os.getpid()}.npz"
    True
    """
    stem, suffix = os.path.splitext(path)
    return f"{stem}{_TEMP_MARK}{os.getpid()}{suffix}"


def atomic_write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader sees the old or the new file, never half of one."""
    temporary = temporary_name(path)
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _callable_name(value: Any) -> str:
    return f"callable:{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', type(value).__name__)}"


def jsonable_options(value: Any, name: str = "options") -> Any:
    """Method options as JSON for run.json; callables are recorded (and compared) by qualified name.

    Examples
    --------
    >>> import numpy as np
    >>> jsonable_options({"num_samples": np.int64(40), "hide_color": (0, 0.5), "score": len})
    {'hide_color': [0, 0.5], 'num_samples': 40, 'score': 'callable:builtins.len'}
    """
    import numpy as np

    if isinstance(value, dict):
        return {str(k): jsonable_options(v, f"{name}[{k!r}]") for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [jsonable_options(v, f"{name}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, np.ndarray):
        return jsonable_options(value.tolist(), name)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if value is None or isinstance(value, str):
        return value
    if callable(value):
        return _callable_name(value)
    raise TypeError(f"{name} must be JSON-like (str, number, bool, None, list, dict) or a callable; "
                    f"got {type(value).__name__}: {value!r}")


def read_settings(out: str) -> dict | None:
    path = os.path.join(out, SETTINGS_FILE)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _parse_lines(path: str) -> list[dict]:
    """Every well-formed line; a line cut short by a crash is not JSON and is left out."""
    records: list[dict] = []
    if not os.path.exists(path):
        return records
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if not line.endswith("\n"):
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and isinstance(record.get("index"), int):
                records.append(record)
    return records


def _complete_groups(records: list[dict], out: str, check_files: bool) -> dict[int, list[dict]]:
    """Lines grouped per image, keeping only images whose every line (and file) is there."""
    groups: dict[int, list[dict]] = {}
    for record in records:
        groups.setdefault(record["index"], []).append(record)
    complete = {}
    for index, group in groups.items():
        if group[0].get("status") == "error":
            complete[index] = group[:1]
            continue
        expected = int(group[0].get("n_targets", 1))
        group = [r for r in group if r.get("status") == "done"][:expected]
        if len(group) != expected:
            continue
        if check_files and not all(os.path.exists(os.path.join(out, r["file"])) for r in group):
            continue
        complete[index] = group
    return complete


def read_index(out: str, check_files: bool = False) -> list[dict]:
    """The index of a run directory, one dict per explanation (and per failed image), by image then target.

    Examples
    --------
    >>> import tempfile
    >>> read_index(tempfile.mkdtemp())  # no index.jsonl yet
    []
    """
    groups = _complete_groups(_parse_lines(os.path.join(out, INDEX_FILE)), out, check_files)
    return [record for index in sorted(groups) for record in groups[index]]


def remove_run(out: str) -> None:
    """Delete what the runner wrote in ``out``: run.json, index.jsonl and its explanation files (nothing else).

    Files of other origin in ``explanations/`` stay, and so does the folder then.
    """
    for name in os.listdir(out):
        # temporaries of run.json and index.jsonl, and of the model file a Ray run ships, left by a crash
        temporary = _TEMP_MARK in name and name.split(_TEMP_MARK)[0] in ("run", "index", "model")
        if name in (SETTINGS_FILE, INDEX_FILE) or temporary:
            os.remove(os.path.join(out, name))
    folder = os.path.join(out, EXPLANATIONS_DIR)
    if os.path.isdir(folder):
        for name in os.listdir(folder):
            path = os.path.join(folder, name)
            if _RUN_FILE.match(name) and os.path.isfile(path):
                os.remove(path)
        if not os.listdir(folder):
            os.rmdir(folder)


class RunIndex:
    """The writer's view of a run directory: settings checked, index compacted, a lock held.

    On opening, with ``overwrite`` the previous run's files are removed (under the lock, so never
    beneath another writer); else its settings, images and model are checked against this call's.
    Lines of images left incomplete by a crash and images that failed before are dropped (failed
    images are tried again), leftover temporary files are removed, and the index is rewritten
    atomically. Then :meth:`append` adds one image's lines in one write.
    """

    def __init__(self, out: str, settings: dict, overwrite: bool = False) -> None:
        self.out = out
        self._lock_handle = self._lock()
        try:
            if overwrite:
                remove_run(out)
            self._check_settings(settings)
            os.makedirs(os.path.join(out, EXPLANATIONS_DIR), exist_ok=True)
            self._remove_temporaries()
            path = os.path.join(out, INDEX_FILE)
            records = _parse_lines(path)
            groups = _complete_groups(records, out, check_files=True)
            self.done = {index: group for index, group in groups.items() if group[0]["status"] == "done"}
            kept = "".join(json.dumps(r) + "\n" for index in sorted(self.done) for r in self.done[index])
            existing = None
            if os.path.exists(path):
                with open(path, encoding="utf-8", errors="replace") as handle:
                    existing = handle.read()
            if existing != kept:  # also drops a line cut short, so appends start on a fresh line
                atomic_write_text(path, kept)
            self._handle: IO[str] | None = open(path, "a", encoding="utf-8")
        except BaseException:
            self.close()
            raise

    def _lock(self):
        handle = open(os.path.join(self.out, LOCK_FILE), "a")
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no advisory lock, one writer is the user's job
            return handle
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise RuntimeError(f"another explain_dataset run is writing to {self.out!r}; wait for it to finish") from None
        return handle

    def _check_settings(self, settings: dict) -> None:
        previous = read_settings(self.out)
        if previous is None:
            atomic_write_text(os.path.join(self.out, SETTINGS_FILE), json.dumps(settings, indent=2) + "\n")
            return
        start_over = ("start over with overwrite=True (--overwrite on the command line), which deletes that "
                      "run's run.json, index.jsonl and explanation files, or give another out directory")
        different = [key for key in COMPARED_SETTINGS if previous.get(key) != settings.get(key)]
        if different:
            listed = "; ".join(f"{key}: directory has {previous.get(key)!r}, this call has {settings.get(key)!r}"
                               for key in different)
            raise ValueError(f"out={self.out!r} holds a run made with other settings ({listed}). Resume with the "
                             f"same settings, or {start_over}")
        compared = {what: describe(previous[key], settings[key])
                   for key, what, describe in zip(IDENTITY_SETTINGS, ("other images", "another model"),
                                                  (source_change, model_change))
                   if key in previous and key in settings}
        changes = {what: change for what, change in compared.items() if change}
        if changes:
            raise ValueError(f"out={self.out!r} holds a run made with {' and '.join(changes)}: "
                             f"{'; '.join(changes.values())}. Resuming would mix the two runs' explanations; "
                             f"{start_over}")
        unknown = [key for key in IDENTITY_SETTINGS if key not in previous and key in settings]
        if unknown:
            # a run.json from before these checks: nothing to compare, so resume, and record this call's
            # images and model so that later resumes are checked
            warnings.warn(f"out={self.out!r} holds a run whose run.json predates the image and model checks (no "
                          f"{' or '.join(unknown)}): superexplain cannot tell whether this call's images and model "
                          "are the run's, and resumes it; they are recorded now and checked from the next resume "
                          f"on. If they differ, {start_over}", UserWarning, stacklevel=4)
            updated = {**previous, **{key: settings[key] for key in unknown}}
            atomic_write_text(os.path.join(self.out, SETTINGS_FILE), json.dumps(updated, indent=2) + "\n")

    def _remove_temporaries(self) -> None:
        folder = os.path.join(self.out, EXPLANATIONS_DIR)
        for name in os.listdir(folder):
            if _TEMP_MARK in name:
                os.remove(os.path.join(folder, name))

    def append(self, records: Iterable[dict]) -> None:
        """Add one image's lines in a single write, flushed, so a crash leaves whole lines or a cut last one."""
        text = "".join(json.dumps(record) + "\n" for record in records)
        handle = cast(IO[str], self._handle)  # open until close()
        handle.write(text)
        handle.flush()

    def close(self) -> None:
        handle = getattr(self, "_handle", None)
        if handle is not None:
            handle.close()
            self._handle = None
        if self._lock_handle is not None:
            self._lock_handle.close()  # closing releases the flock
            self._lock_handle = None
