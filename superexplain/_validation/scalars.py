"""Checks of plain values: ints, floats, choices, seeds; and `describe`, the received value in an error message."""
from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any, cast

import numpy as np

__all__ = ["describe", "check_int", "check_float", "check_choice", "resolve_seed", "check_random_state",
           "seeded_rng", "image_random_states"]


def describe(value: Any) -> str:
    """A short description of a received value for error messages."""
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{type(value).__name__} {text}"


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


def resolve_seed(random_state: Any, name: str = "random_state") -> int | None:
    """Turn ``random_state`` into an int seed that can be written into ``params``.

    None draws a fresh seed from the operating system's entropy *and returns it*, so every
    explanation records the seed that reproduces it. A Generator has no recoverable seed: None.
    """
    if random_state is None:
        return int(cast(int, np.random.SeedSequence().entropy) % (2**63))  # a fresh SeedSequence's entropy is an int
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
