"""Image sources for explain_dataset: arrays, iterables, tf.data, image files; streamed as numbered entries."""
from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .._validation import describe
from .identity import array_identity, files_identity

__all__ = ["Entry", "Loader", "Source", "open_source", "safe_stem", "unit_of", "STREAM_KINDS"]

_GLOB_CHARS = set("*?[")
#: Sources read once, as they stream: their images cannot be hashed ahead of the run.
STREAM_KINDS = ("iterable", "tf.data")


@dataclass
class Entry:
    """One image of a dataset: its position, its id, and what a worker needs to load it.

    ``payload`` is a file path (loaded by the worker) or the image array itself; ``error`` is set
    when the source could not even produce the image (a bad element of an iterable).
    """

    index: int
    key: str
    payload: Any
    error: str | None = None

    @property
    def nbytes(self) -> int:
        return int(self.payload.nbytes) if isinstance(self.payload, np.ndarray) else 256


@dataclass
class Loader:
    """How image files become model input: size (H, W), channels and a preprocessing convention.

    ``preprocess`` is a name of the command line's conventions (``"none"``, ``"unit"``, ``"tf"``,
    ``"caffe"``, ``"torch"``), ``"module:function"``, or a callable on a float32 0..255 batch.
    """

    size: tuple[int, int] | None = None
    channels: int | None = None
    preprocess: str | Callable = "unit"

    def load(self, entry: Entry) -> np.ndarray:
        """The entry's image as float32 (H, W, C); raises ValueError for an unreadable file."""
        if entry.error is not None:
            raise ValueError(entry.error)
        if not isinstance(entry.payload, str):
            return np.asarray(entry.payload, dtype=np.float32)
        from .. import image_files as _io  # the same image reading as the command line, so files mean the same everywhere

        pixels = _io.read_image(entry.payload, channels=self.channels or 3, size=self.size)
        if callable(self.preprocess):
            batch = np.array(pixels[None], dtype=np.float32)
            result = self.preprocess(batch)
            if hasattr(result, "numpy") and not isinstance(result, np.ndarray):
                result = result.numpy()
            return np.asarray(result, dtype=np.float32)[0]
        return _io.preprocess(pixels, self.preprocess)


def unit_of(index: int, unit_size: int) -> int:
    """The unit (group of images explained in one call) an image index belongs to.

    Examples
    --------
    >>> [unit_of(index, 3) for index in range(7)]
    [0, 0, 0, 1, 1, 1, 2]
    """
    return index // unit_size


class Source:
    """Numbered entries in a fixed order; ``length`` is None when the source cannot tell.

    ``identity()`` is what a resumed run compares to tell whether it explains the same images: the
    files with their sizes and modification times, an array's content hash, or, for a stream that
    can be read only once, just its kind (its images are then checked one by one as they come).
    """

    def __init__(self, kind: str, entries: Callable[[], Iterator[Entry]], length: int | None,
                 description: str, identity: Callable[[], dict] | None = None) -> None:
        self.kind = kind
        self._entries = entries
        self.length = length
        self.description = description
        self._identity = identity

    def entries(self) -> Iterator[Entry]:
        return self._entries()

    def identity(self) -> dict:
        if self._identity is None:
            return {"kind": "stream"}
        return self._identity()


def safe_stem(path: str) -> str:
    """A file name's stem reduced to characters safe in any file system (for output names).

    Examples
    --------
    >>> safe_stem("photos/my cat (1).jpg")
    'my-cat-1-'
    """
    stem = os.path.splitext(os.path.basename(path))[0]
    return re.sub(r"[^A-Za-z0-9._-]+", "-", stem)[:40]


def _file_source(paths: list[str], description: str) -> Source:
    root = os.path.commonpath([os.path.abspath(p) for p in paths]) if len(paths) > 1 else os.path.dirname(
        os.path.abspath(paths[0]))

    keys = [os.path.relpath(os.path.abspath(path), root) if root else path for path in paths]

    def entries() -> Iterator[Entry]:
        for index, (key, path) in enumerate(zip(keys, paths)):
            yield Entry(index, key, os.path.abspath(path))

    return Source("files", entries, len(paths), description,
                  identity=lambda: files_identity(keys, [os.path.abspath(p) for p in paths]))


def _files_from_string(spec: str) -> list[str]:
    spec = os.path.expanduser(spec)
    if os.path.isdir(spec):
        found = sorted(os.path.join(spec, name) for name in os.listdir(spec))
        found = [p for p in found if os.path.isfile(p) and not os.path.basename(p).startswith(".")]
        if not found:
            raise ValueError(f"images: directory {spec!r} holds no files")
        return found
    if os.path.isfile(spec):
        return [spec]
    if _GLOB_CHARS & set(spec):
        found = sorted(p for p in glob.glob(spec, recursive=True)
                       if os.path.isfile(p) and not os.path.basename(p).startswith("."))
        if not found:
            raise ValueError(f"images: no files match the pattern {spec!r}")
        return found
    raise ValueError(f"images: {spec!r} is neither an existing file or directory nor a glob pattern")


def _split_batch(array: np.ndarray) -> np.ndarray:
    """A rank-4 array is a batch, rank 3 with a channel axis one image, rank 3 otherwise (N, H, W)."""
    if array.ndim == 4:
        return array
    if array.ndim == 3:
        return array[None] if array.shape[-1] in (1, 3, 4) else array[..., None]
    if array.ndim == 2:
        return array[None, :, :, None]
    raise ValueError(f"images: an element must be an image or a batch of images; got shape {array.shape}")


def _element_images(element: Any) -> np.ndarray:
    if isinstance(element, tuple) and element:
        element = element[0]  # (image, label) pairs, as tf.data and Keras datasets yield them
    if isinstance(element, dict):
        raise TypeError("images: dict elements are not supported; map the dataset to images first")
    if hasattr(element, "numpy") and not isinstance(element, np.ndarray):
        element = element.numpy()
    array = np.asarray(element)
    if array.dtype.kind not in "uifb":
        raise TypeError(f"images: elements must be numeric arrays; got dtype {array.dtype}")
    return _split_batch(array)


def _iterable_source(iterable: Any, kind: str, length: int | None, description: str) -> Source:
    def entries() -> Iterator[Entry]:
        index = 0
        elements = iterable.as_numpy_iterator() if kind == "tf.data" else iter(iterable)
        for element in elements:
            try:
                batch = _element_images(element)
            except (TypeError, ValueError) as exc:
                yield Entry(index, str(index), None, error=str(exc))
                index += 1
                continue
            for image in batch:
                yield Entry(index, str(index), image)
                index += 1

    return Source(kind, entries, length, description)


def open_source(images: Any) -> Source:
    """Turn what the user gave as ``images`` into a :class:`Source` (nothing is loaded yet).

    Examples
    --------
    >>> import numpy as np
    >>> source = open_source(np.zeros((3, 8, 8, 3), np.float32))
    >>> source.kind, source.length, [entry.index for entry in source.entries()]
    ('array', 3, [0, 1, 2])
    """
    if isinstance(images, (str, os.PathLike)):
        spec = os.fspath(images)
        return _file_source(_files_from_string(spec), f"files {spec}")
    if isinstance(images, (list, tuple)) and images and all(isinstance(p, (str, os.PathLike)) for p in images):
        paths: list[str] = []
        for spec in images:
            paths += [p for p in _files_from_string(os.fspath(spec)) if p not in paths]
        return _file_source(paths, f"{len(paths)} files")
    if isinstance(images, np.ndarray) or (hasattr(images, "shape") and hasattr(images, "dtype")
                                          and not hasattr(images, "element_spec")):
        array = images if isinstance(images, np.ndarray) else np.asarray(images)
        if array.dtype.kind not in "uifb":
            raise TypeError(f"images must be a numeric array; got {describe(array)}")
        batch = _split_batch(array)

        def entries() -> Iterator[Entry]:
            for index in range(batch.shape[0]):  # slicing one at a time keeps memmaps lazy
                yield Entry(index, str(index), batch[index])

        return Source("array", entries, int(batch.shape[0]), f"array of shape {array.shape}",
                      identity=lambda: array_identity(batch))
    if hasattr(images, "element_spec") and hasattr(images, "as_numpy_iterator"):
        # len() of a batched dataset counts batches, not images: the image count stays unknown
        return _iterable_source(images, "tf.data", None, "tf.data.Dataset")
    if isinstance(images, Iterable) and not isinstance(images, (bytes, dict)):
        return _iterable_source(images, "iterable", None, f"iterable {type(images).__name__}")
    raise TypeError(
        "images must be an array (N, H, W, C), an iterable of images or batches, a tf.data.Dataset, "
        f"an image directory, a glob pattern or a list of image files; got {describe(images)}"
    )
