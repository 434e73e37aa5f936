"""Image files in and out of the library: finding and reading images, resizing, preprocessing conventions, labels files (shared by the CLI and the dataset runner)."""
from __future__ import annotations

import glob
import importlib
import json
import os
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

__all__ = [
    "PREPROCESS_CHOICES",
    "CAFFE_MEAN_BGR",
    "TORCH_MEAN",
    "TORCH_STD",
    "ImageFile",
    "UnreadableImage",
    "find_images",
    "read_image",
    "probe_image",
    "load_images",
    "parse_size",
    "preprocess_function",
    "preprocess",
    "load_labels",
]

#: The named conventions of ``--preprocess`` (keras.applications' ``preprocess_input`` modes).
PREPROCESS_CHOICES = ("none", "unit", "tf", "caffe", "torch")
#: ImageNet channel means in BGR order, subtracted by the "caffe" convention (VGG, ResNet50).
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
#: ImageNet RGB mean and standard deviation of the "torch" convention (DenseNet, EfficientNetV2 off).
TORCH_MEAN = (0.485, 0.456, 0.406)
TORCH_STD = (0.229, 0.224, 0.225)

_GLOB_CHARS = set("*?[")


class UnreadableImage(ValueError):
    """A file that is not a readable image; ``reason`` says why."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"cannot read image {path!r}: {reason}")
        self.path, self.reason = path, reason


@dataclass
class ImageFile:
    """One image read from disk: its path, and its pixels as uint8 (H, W, C) after resizing."""

    path: str
    pixels: np.ndarray


def parse_size(text: str) -> tuple[int, int]:
    """``"224x224"`` (or ``"224"``) -> ``(224, 224)``: height then width, both positive.

    Examples
    --------
    >>> parse_size("32x48")
    (32, 48)
    """
    parts = str(text).lower().replace("*", "x").split("x")
    try:
        if len(parts) == 1:
            height = width = int(parts[0])
        elif len(parts) == 2:
            height, width = int(parts[0]), int(parts[1])
        else:
            raise ValueError
    except ValueError:
        raise ValueError(f"--size must look like HxW (e.g. 224x224); got {text!r}") from None
    if height < 1 or width < 1:
        raise ValueError(f"--size must be positive; got {text!r}")
    return height, width


def _is_hidden(path: str) -> bool:
    return os.path.basename(path).startswith(".")


def find_images(specs: Sequence[str]) -> tuple[list[str], set[str]]:
    """Expand image arguments into file paths, in order, without duplicates.

    Each spec is a file, a directory (its files, sorted, not recursive; hidden files ignored) or a
    glob pattern. Returns ``(paths, discovered)`` where ``discovered`` holds the paths that came
    from a directory or a glob: those are skipped with a warning when they cannot be read, while a
    file named explicitly must be readable.
    """
    paths: list[str] = []
    discovered: set[str] = set()
    for spec in specs:
        spec = os.path.expanduser(str(spec))
        if os.path.isdir(spec):
            found = sorted(os.path.join(spec, name) for name in os.listdir(spec))
            found = [path for path in found if os.path.isfile(path) and not _is_hidden(path)]
            if not found:
                raise FileNotFoundError(f"image directory {spec!r} holds no files")
            discovered.update(found)
        elif os.path.isfile(spec):
            found = [spec]
        elif _GLOB_CHARS & set(spec):
            found = sorted(path for path in glob.glob(spec) if os.path.isfile(path) and not _is_hidden(path))
            if not found:
                raise FileNotFoundError(f"no files match the pattern {spec!r}")
            discovered.update(found)
        else:
            raise FileNotFoundError(f"image {spec!r} does not exist")
        for path in found:
            if path not in paths:
                paths.append(path)
    return paths, discovered


def probe_image(path: str) -> tuple[int, int]:
    """(H, W) of an image file from its header alone: a cheap check before slow work starts."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as handle:
            width, height = handle.size
    except UnidentifiedImageError:
        raise UnreadableImage(path, "not an image file") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise UnreadableImage(path, str(exc) or type(exc).__name__) from None
    return height, width


def read_image(path: str, channels: int = 3, size: tuple[int, int] | None = None) -> np.ndarray:
    """Read one image file as uint8 (H, W, channels), optionally resized (bilinear) to ``size`` = (H, W).

    EXIF orientation is applied, as a photo viewer would. Raises ValueError for a file that is not
    a readable image.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as handle:
            image = ImageOps.exif_transpose(handle)
            image = image.convert("L" if channels == 1 else "RGB")
            if size is not None and (image.height, image.width) != tuple(size):
                image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            pixels = np.asarray(image, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        reason = "not an image file" if isinstance(exc, UnidentifiedImageError) else str(exc) or type(exc).__name__
        raise UnreadableImage(path, reason) from None
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if channels not in (1, 3):
        raise ValueError(f"the model takes {channels}-channel images; only 1 (grayscale) or 3 (RGB) can be read from files")
    return pixels


def load_images(paths: Sequence[str], discovered: set[str] | None = None, channels: int = 3,
                size: tuple[int, int] | None = None, allow_empty: bool = False) -> list[ImageFile]:
    """Read image files; unreadable ones that came from a directory or glob are skipped with a warning.

    Without ``size`` every image keeps its own size, and all must then share one.
    """
    discovered = discovered or set()
    images: list[ImageFile] = []
    for path in paths:
        try:
            images.append(ImageFile(path, read_image(path, channels, size)))
        except UnreadableImage as exc:
            if path not in discovered:
                raise
            warnings.warn(f"skipped {path!r}: {exc.reason}", stacklevel=2)
    if not images:
        if allow_empty:
            return images
        raise ValueError("no readable images among the inputs")
    shapes = {image.pixels.shape for image in images}
    if len(shapes) > 1:
        listed = ", ".join(f"{h}x{w}" for h, w, _ in sorted(shapes))
        raise ValueError(f"the images have different sizes ({listed}) and the model accepts any size; give --size HxW")
    return images


def _caffe(batch: np.ndarray) -> np.ndarray:
    if batch.shape[-1] != 3:
        raise ValueError(f"--preprocess caffe needs RGB images; got {batch.shape[-1]} channel(s)")
    return batch[..., ::-1] - np.asarray(CAFFE_MEAN_BGR, dtype=np.float32)


def _torch(batch: np.ndarray) -> np.ndarray:
    if batch.shape[-1] != 3:
        raise ValueError(f"--preprocess torch needs RGB images; got {batch.shape[-1]} channel(s)")
    mean, std = np.asarray(TORCH_MEAN, dtype=np.float32), np.asarray(TORCH_STD, dtype=np.float32)
    return (batch / 255.0 - mean) / std


_NAMED: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "none": lambda batch: batch,
    "unit": lambda batch: batch / 255.0,
    "tf": lambda batch: batch / 127.5 - 1.0,
    "caffe": _caffe,
    "torch": _torch,
}


def preprocess_function(spec: str) -> Callable[[np.ndarray], np.ndarray]:
    """The function behind ``--preprocess``: a named convention or ``module:function``.

    Every function takes a float32 batch (N, H, W, C) with pixel values 0..255 in RGB order and
    returns the model's input. ``module:function`` is imported (e.g.
    ``keras.applications.mobilenet_v2:preprocess_input``).

    Examples
    --------
    >>> preprocess_function("numpy:sqrt")(np.array([4.0]))
    array([2.])
    """
    if spec in _NAMED:
        return _NAMED[spec]
    if ":" not in spec:
        raise ValueError(f"--preprocess must be one of {', '.join(PREPROCESS_CHOICES)} or module:function; got {spec!r}")
    module_name, _, function_name = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"--preprocess {spec!r}: cannot import module {module_name!r} ({exc})") from None
    function = getattr(module, function_name, None)
    if not callable(function):
        raise ValueError(f"--preprocess {spec!r}: module {module_name!r} has no function {function_name!r}")
    return function


def preprocess(pixels: np.ndarray, spec: str = "none") -> np.ndarray:
    """Apply a ``--preprocess`` convention to uint8 or 0..255 pixels (one image or a batch); float32 out.

    ``none``: x; ``unit``: x/255; ``tf``: x/127.5 - 1; ``caffe``: RGB->BGR then minus the ImageNet
    BGR means; ``torch``: x/255, minus the ImageNet mean, over its standard deviation. The input is
    never modified (a user function receives a copy: keras' own ``preprocess_input`` works in place).

    Examples
    --------
    >>> import numpy as np
    >>> preprocess(np.full((1, 1, 3), 255, np.uint8), "tf").ravel().tolist()
    [1.0, 1.0, 1.0]
    """
    function = preprocess_function(spec)
    batch = np.array(pixels, dtype=np.float32, copy=True)
    try:
        result = function(batch)
    except Exception as exc:  # a user function failing: say which
        if spec in _NAMED:
            raise
        raise ValueError(f"--preprocess {spec!r} raised {type(exc).__name__}: {exc}") from None
    if hasattr(result, "numpy") and not isinstance(result, np.ndarray):
        result = result.numpy()
    result = np.asarray(result, dtype=np.float32)
    if result.shape[:-1] != batch.shape[:-1]:
        raise ValueError(f"--preprocess {spec!r} changed the image shape from {batch.shape} to {result.shape}")
    return result


def load_labels(path: str) -> list[str]:
    """Class names from a labels file: one name a line, or JSON (a list, or a dict index -> name).

    A JSON dict value that is a list takes its last entry, so keras' ImageNet index file
    (``{"0": ["n01440764", "tench"], ...}``) works as is.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"labels file {path!r} does not exist")
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    if path.lower().endswith(".json") or text.lstrip()[:1] in ("[", "{"):
        try:
            content: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"labels file {path!r} is not valid JSON: {exc}") from None
        if isinstance(content, dict):
            try:
                indexed = {int(key): value for key, value in content.items()}
            except ValueError:
                raise ValueError(f"labels file {path!r}: JSON dict keys must be class indices") from None
            if sorted(indexed) != list(range(len(indexed))):
                raise ValueError(f"labels file {path!r}: JSON dict keys must be the indices 0..{len(indexed) - 1}")
            content = [indexed[i][-1] if isinstance(indexed[i], list) and indexed[i] else indexed[i]
                       for i in range(len(indexed))]
        if not isinstance(content, list) or not all(isinstance(name, (str, int, float)) for name in content):
            raise ValueError(f"labels file {path!r}: JSON must be a list of names or a dict index -> name")
        names = [str(name) for name in content]
    else:
        names = [line.strip() for line in text.splitlines()]
        while names and not names[-1]:
            names.pop()
        if "" in names:
            raise ValueError(f"labels file {path!r} has an empty line {names.index('') + 1}; give one name a line")
    if not names:
        raise ValueError(f"labels file {path!r} holds no class names")
    if len(set(names)) != len(names):
        duplicates = sorted({name for name in names if names.count(name) > 1})
        raise ValueError(f"labels file {path!r} repeats class names: {', '.join(duplicates[:5])}")
    return names
