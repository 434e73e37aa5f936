"""Every argument check in one place: images, batches, targets, segments, random state, options.

Public functions call these first, so that bad input fails with a message naming the argument,
what was expected and what came -- never with a traceback from deep inside TensorFlow.
"""
from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "check_image",
    "check_images",
    "check_segments",
    "check_random_state",
    "resolve_seed",
    "check_int",
    "check_float",
    "check_choice",
    "check_target",
    "describe",
]


def describe(value: Any) -> str:
    """A short description of a received value for error messages."""
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{type(value).__name__} {text}"


def _as_numeric_array(value: Any, name: str) -> np.ndarray:
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a numeric array; got {describe(value)}")
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):  # tf.Tensor and friends
        value = value.numpy()
    try:
        array = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} must be a numeric array; got {describe(value)} ({exc})") from None
    if array.dtype == bool:
        array = array.astype(np.uint8)
    if array.dtype.kind not in "uif":
        raise TypeError(f"{name} must be a numeric array (uint8 or float); got dtype {array.dtype}")
    return array


def _check_finite(array: np.ndarray, name: str) -> None:
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s); every pixel must be finite")


def check_image(image: Any, name: str = "image", channels: Sequence[int] = (1, 3, 4)) -> np.ndarray:
    """Validate one image and return it as a new (H, W, C) array (dtype kept).

    Accepts (H, W) grayscale and (H, W, C) with C in ``channels``.
    """
    array = _as_numeric_array(image, name)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3:
        raise ValueError(f"{name} must have shape (H, W) or (H, W, C); got shape {array.shape}")
    if array.shape[0] < 1 or array.shape[1] < 1:
        raise ValueError(f"{name} must not be empty; got shape {array.shape}")
    if array.shape[2] not in channels:
        raise ValueError(f"{name} must have {' or '.join(map(str, channels))} channels; got shape {array.shape}")
    _check_finite(array, name)
    return np.array(array, copy=True)


def check_images(images: Any, name: str = "images", channels: Sequence[int] | None = None) -> tuple[np.ndarray, bool]:
    """Validate one image or a batch; return ``(batch (N, H, W, C) float32 copy, was_single)``.

    A rank-3 array is one (H, W, C) image when its last axis is a channel count, a rank-2 array is
    one grayscale image, a rank-4 array is a batch. Lists of equally shaped images are stacked.
    """
    if isinstance(images, (list, tuple)):
        if len(images) == 0:
            raise ValueError(f"{name} is an empty batch; give at least one image")
        shapes = {np.shape(item) for item in images}
        if len(shapes) != 1:
            raise ValueError(f"{name}: all images in a batch must have the same shape; got shapes {sorted(shapes)}")
    array = _as_numeric_array(images, name)
    allowed = tuple(channels) if channels is not None else (1, 3, 4)
    if array.ndim == 2:
        single, array = True, array[None, :, :, None]
    elif array.ndim == 3:
        if array.shape[-1] in allowed:
            single, array = True, array[None]
        else:  # a stack of grayscale images (N, H, W)
            single, array = False, array[..., None]
    elif array.ndim == 4:
        single = False
    else:
        raise ValueError(
            f"{name} must be one image (H, W) / (H, W, C) or a batch (N, H, W, C); got shape {array.shape}"
        )
    if array.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch (shape {array.shape}); give at least one image")
    if array.shape[1] < 1 or array.shape[2] < 1:
        raise ValueError(f"{name} has an empty spatial size; got shape {array.shape}")
    if array.shape[-1] not in allowed:
        raise ValueError(f"{name} must have {' or '.join(map(str, allowed))} channels; got shape {array.shape}")
    _check_finite(array, name)
    return np.array(array, dtype=np.float32, copy=True), single


def check_segments(segments: Any, image_shape: tuple[int, ...], name: str = "segments") -> np.ndarray:
    """Validate a label image for an image of ``image_shape`` and relabel it to 0..K-1 (int32).

    The relabelling keeps the order of the original labels, so contiguous labels stay unchanged.
    """
    if isinstance(segments, (str, bytes)) or segments is None:
        raise TypeError(f"{name} must be an integer array of shape (H, W); got {describe(segments)}")
    array = np.asarray(segments)
    if array.dtype.kind not in "iub":
        if array.dtype.kind == "f" and np.all(np.isfinite(array)) and np.all(array == np.round(array)):
            array = array.astype(np.int64)
        else:
            raise TypeError(f"{name} must hold integer labels; got dtype {array.dtype}")
    if array.ndim != 2 or tuple(array.shape) != tuple(image_shape[:2]):
        raise ValueError(f"{name} must have shape {tuple(image_shape[:2])} (the image's H, W); got {array.shape}")
    _, labels = np.unique(array, return_inverse=True)
    return labels.reshape(array.shape).astype(np.int32)


def resolve_seed(random_state: Any, name: str = "random_state") -> int | None:
    """Turn ``random_state`` into an int seed that can be written into ``params``.

    None draws a fresh seed from the operating system's entropy *and returns it*, so every
    explanation records the seed that reproduces it. A Generator has no recoverable seed: None.
    """
    if random_state is None:
        return int(np.random.SeedSequence().entropy % (2**63))
    if isinstance(random_state, np.random.Generator):
        return None
    if isinstance(random_state, (bool, np.bool_)) or not isinstance(random_state, numbers.Integral):
        raise TypeError(f"{name} must be None, an int seed or a numpy.random.Generator; got {describe(random_state)}")
    if random_state < 0:
        raise ValueError(f"{name} must be a non-negative int; got {random_state}")
    return int(random_state)


def check_random_state(random_state: Any, name: str = "random_state") -> np.random.Generator:
    """Return a ``numpy.random.Generator`` for None, an int seed, or a Generator (used as is)."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None:
        return np.random.default_rng()
    return np.random.default_rng(resolve_seed(random_state, name))


def seeded_rng(random_state: Any, name: str = "random_state") -> tuple[np.random.Generator, int | None]:
    """The Generator to draw from and the seed to record: ``(rng, seed)``.

    None draws a fresh seed and records it; an int seeds a new Generator; a Generator is used as
    is and records None (its seed cannot be recovered).
    """
    seed = resolve_seed(random_state, name)
    rng = check_random_state(random_state if isinstance(random_state, np.random.Generator) else seed, name)
    return rng, seed


def image_random_states(random_state: Any, n_images: int,
                        name: str = "random_state") -> tuple[list[np.random.Generator], list[int | None]]:
    """One Generator and one recorded seed per image of a batch.

    ``random_state`` is None, an int or a Generator (one stream, drawn from image by image in
    order), or a sequence of ``n_images`` int seeds: image ``i`` then draws from its own
    ``default_rng(seeds[i])``, exactly as a call with that image alone and that seed would.
    """
    if isinstance(random_state, (list, tuple, np.ndarray)):
        seeds = list(np.asarray(random_state, dtype=object).ravel()) if isinstance(random_state, np.ndarray) \
            else list(random_state)
        if len(seeds) != n_images:
            raise ValueError(f"{name} holds {len(seeds)} seed(s) for {n_images} image(s); give one int seed per "
                             "image, or one int for all")
        if any(isinstance(s, np.random.Generator) for s in seeds):
            raise TypeError(f"{name} as a sequence must hold int seeds; got a numpy Generator in it")
        resolved = [resolve_seed(s, f"{name}[{i}]") for i, s in enumerate(seeds)]
        return [np.random.default_rng(s) for s in resolved], resolved
    rng, seed = seeded_rng(random_state, name)
    return [rng] * n_images, [seed] * n_images


def check_int(value: Any, name: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """An integer within ``[minimum, maximum]``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int; got {describe(value)}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}; got {value}")
    return value


def check_float(
    value: Any, name: str, minimum: float | None = None, maximum: float | None = None, strict: bool = False
) -> float:
    """A finite real number within the bounds (``strict`` excludes the minimum)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number; got {describe(value)}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value}")
    if minimum is not None and (value < minimum or (strict and value == minimum)):
        raise ValueError(f"{name} must be {'>' if strict else '>='} {minimum}; got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}; got {value}")
    return value


def check_choice(value: Any, name: str, choices: Sequence[str]) -> str:
    """One of a fixed set of strings."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_target(
    target: Any, num_classes: int, class_names: Sequence[str] | None = None, name: str = "target"
) -> int:
    """Resolve one class given as an index or a class name to an index in ``0..num_classes-1``."""
    if isinstance(target, str):
        if not class_names:
            raise ValueError(f"{name}={target!r} is a class name, but the model has no class names attached")
        try:
            return list(class_names).index(target)
        except ValueError:
            import difflib

            close = difflib.get_close_matches(target, list(class_names), n=3)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            shown = ", ".join(map(repr, list(class_names)[:10])) + (", ..." if len(class_names) > 10 else "")
            raise ValueError(f"{name}={target!r} is not a known class name (known: {shown}){hint}") from None
    if isinstance(target, (bool, np.bool_)) or not isinstance(target, numbers.Integral):
        raise TypeError(f"{name} must be a class index (int) or a class name (str); got {describe(target)}")
    index = int(target)
    if not 0 <= index < num_classes:
        raise ValueError(f"{name}={index} is out of range: the model has {num_classes} classes (0..{num_classes - 1})")
    return index
