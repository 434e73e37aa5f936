"""Compiled functions cached on the model object they belong to (one cache per model, gone with it)."""
from __future__ import annotations

from typing import Any, Callable, TypeVar

__all__ = ["compiled"]

_CACHE_ATTRIBUTE = "_superexplain_compiled"

_T = TypeVar("_T")


def compiled(model: Any, key: Any, build: Callable[[], _T]) -> _T:
    """Return the compiled function cached for ``(model, key)``, building it on first use.

    The cache lives on the model object itself (set past Keras' attribute tracking, so it is
    neither saved nor cloned with the model): the compiled functions refer to the model, and a
    cache held anywhere else would keep every explained model alive for ever.
    """
    cache = getattr(model, "__dict__", {}).get(_CACHE_ATTRIBUTE)
    if cache is None:
        cache = {}
        try:
            object.__setattr__(model, _CACHE_ATTRIBUTE, cache)
        except (AttributeError, TypeError):  # an object that takes no attributes: no caching
            return build()
    if key not in cache:
        cache[key] = build()
    return cache[key]
