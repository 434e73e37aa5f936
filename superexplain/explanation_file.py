"""The Explanation file format: one ``.npz`` archive (no pickle) of arrays and a JSON header, written byte for byte reproducibly.

:meth:`superexplain.Explanation.save` and :meth:`~superexplain.Explanation.load` use these; a file
that cannot be read raises :class:`ExplanationFileError`, which says what is wrong with it.
"""
from __future__ import annotations

import json
import os
import zipfile
import zlib
from typing import Any

import numpy as np

__all__ = ["ExplanationFileError", "FORMAT_VERSION", "ARRAY_FIELDS", "SCALAR_FIELDS", "jsonable", "read_archive",
           "write_archive"]

FORMAT_VERSION = 1

# Array fields and the dtype each is stored as; None means "keep the given dtype".
ARRAY_FIELDS = {
    "image": None,
    "heatmap": np.float32,
    "feature_map": np.float32,
    "segments": np.int32,
    "weights": np.float64,
    "weight_errors": np.float64,
    "attribution": np.float32,
}
SCALAR_FIELDS = ("method", "target", "target_name", "score", "intercept", "local_prediction", "local_fit")


def jsonable(value: Any, where: str) -> Any:
    """Turn a params value into plain JSON types so that save/load is lossless.

    Tuples become lists and numpy scalars become Python numbers *at construction*, so an
    Explanation compares equal to its reloaded self.
    """
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"params keys must be str; got {key!r} in {where}")
            out[key] = jsonable(item, f"{where}[{key!r}]")
        return out
    if isinstance(value, (list, tuple)):
        return [jsonable(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, np.ndarray):
        if value.size > 4096:
            raise TypeError(f"params values must be small; {where} is an array of {value.size} elements")
        return jsonable(value.tolist(), where)
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return float(value)
    if value is None or isinstance(value, str):
        return value
    raise TypeError(
        f"params values must be JSON-like (str, number, bool, None, list, dict); "
        f"{where} is {type(value).__name__}: {value!r}"
    )


class ExplanationFileError(ValueError):
    """A file that :meth:`Explanation.load` cannot read as an Explanation: empty, cut short, damaged or foreign.

    A ValueError whose message names the file and says what is wrong. ``path`` is the file,
    ``problem`` the reason in words, and ``foreign`` is True for an intact ``.npz`` archive that
    simply holds other arrays (another tool's file, not a damaged Explanation).

    Examples
    --------
    >>> import os, tempfile
    >>> from superexplain import Explanation
    >>> path = os.path.join(tempfile.mkdtemp(), "empty.npz")
    >>> open(path, "wb").close()
    >>> try:
    ...     Explanation.load(path)
    ... except ValueError as error:
    ...     print(error.problem)
    the file is empty (0 bytes): it was cut short, e.g. by a crash or an interrupted copy
    """

    def __init__(self, path: str, problem: str, foreign: bool = False) -> None:
        super().__init__(f"cannot read {path!r} as a superexplain Explanation: {problem}")
        self.path = path
        self.problem = problem
        self.foreign = foreign


# what numpy and zipfile raise on a damaged archive or member (a short read, a bad CRC, a bad deflate
# stream, an unreadable .npy header); FileNotFoundError and the like are left as they are
_DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError)
_NOT_CORRUPTION = (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)


def read_archive(path: str) -> tuple[dict, dict]:
    """The header and arrays of an Explanation file, or an ExplanationFileError saying what is wrong."""
    if os.path.isfile(path) and os.path.getsize(path) == 0:
        raise ExplanationFileError(path, "the file is empty (0 bytes): it was cut short, e.g. by a crash or an "
                                         "interrupted copy")
    try:
        archive = np.load(path, allow_pickle=False)
    except _NOT_CORRUPTION:
        raise
    except zipfile.BadZipFile:
        raise ExplanationFileError(path, "it is not an .npz (zip) archive, or one cut short (the end of the archive, "
                                         "its table of contents, is missing)") from None
    except _DAMAGED as exc:
        raise ExplanationFileError(path, f"it is not an .npz archive ({type(exc).__name__}: {exc})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ExplanationFileError(path, "it holds a single .npy array, not an .npz archive of an Explanation")
    with archive:
        name = "__meta__"
        try:
            if name not in archive.files:
                shown = ", ".join(archive.files[:5]) + (", ..." if len(archive.files) > 5 else "")
                raise ExplanationFileError(path, f"an .npz archive of other arrays ({shown or 'none'}), with no "
                                                 "superexplain metadata (no metadata)", foreign=True)
            text = str(archive[name][()])
            header = json.loads(text)
            if not isinstance(header, dict) or not isinstance(header.get("fields"), dict) \
                    or not isinstance(header.get("params", {}), dict):
                raise ExplanationFileError(path, "its metadata lacks the Explanation's fields")
            if header.get("format_version", 0) > FORMAT_VERSION:
                raise ExplanationFileError(path, f"it was written by a newer superexplain (format "
                                                 f"{header['format_version']}); upgrade superexplain to read it")
            arrays = {}
            for name in ARRAY_FIELDS:
                if name in archive.files:
                    arrays[name] = archive[name]
        except ExplanationFileError:
            raise
        except json.JSONDecodeError as exc:
            raise ExplanationFileError(path, f"its metadata is not valid JSON ({exc})") from None
        except _DAMAGED as exc:
            raise ExplanationFileError(path, f"the archive is damaged: reading {name!r} failed "
                                             f"({type(exc).__name__}: {exc})") from None
    return header, arrays


#: The time stamp of every archive member: a fixed one, so that the same Explanation always gives
#: the same file bytes (numpy's savez stamps the current time).
_MEMBER_TIME = (1980, 1, 1, 0, 0, 0)


def write_archive(path: str, arrays: dict, header: dict) -> None:
    """Write ``arrays`` and the JSON ``header`` (as the ``__meta__`` member) into a compressed ``.npz`` at ``path``.

    The same arguments always give the same bytes: the members are stored in the order given,
    deflated, with a fixed time stamp. ``numpy.load`` reads the file as any ``.npz``.
    """
    from numpy.lib import format as npy

    # json writes float repr, which round-trips exactly; NaN/inf are written as JSON extensions.
    members = dict(arrays, __meta__=np.array(json.dumps(header, allow_nan=True)))
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, value in members.items():
            info = zipfile.ZipInfo(name + ".npy", date_time=_MEMBER_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            with archive.open(info, "w", force_zip64=True) as member:
                npy.write_array(member, np.asanyarray(value), allow_pickle=False)
