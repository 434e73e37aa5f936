"""Token layers as grids: a vision transformer's tokens (N, tokens, c) laid out as a spatial map (N, h, w, c)."""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

__all__ = ["token_grid", "tokens_to_grid"]


def token_grid(tokens: int | None) -> tuple[int, int] | None:
    """``(side, leading)`` where ``tokens`` is a square grid ``side**2`` plus ``leading`` (0 or 1) class tokens.

    Examples
    --------
    >>> token_grid(196), token_grid(197), token_grid(12)
    ((14, 0), (14, 1), None)
    """
    if tokens is None:
        return None
    for leading in (0, 1):
        side = math.isqrt(tokens - leading) if tokens > leading else 0
        if side > 1 and side * side == tokens - leading:
            return side, leading
    return None


def tokens_to_grid(values: np.ndarray, reshape: Callable | None = None) -> np.ndarray:
    """Tokens (..., tokens, c) as a grid (..., h, w, c).

    Without ``reshape`` the token count must be a square grid, optionally after one leading class
    token, which is dropped. ``reshape`` maps an array (M, tokens, c) to (M, h, w, c) for any other layout.

    Examples
    --------
    >>> tokens = np.arange(10.0).reshape(1, 5, 2)       # a class token, then a 2x2 grid of 2 channels
    >>> tokens_to_grid(tokens)[0, :, :, 0].tolist()
    [[2.0, 4.0], [6.0, 8.0]]
    """
    values = np.asarray(values)
    lead, (tokens, channels) = values.shape[:-2], values.shape[-2:]
    flat = values.reshape((-1, tokens, channels))
    if reshape is not None:
        grid = np.asarray(reshape(flat))
        if grid.ndim != 4 or grid.shape[0] != flat.shape[0] or grid.shape[-1] != channels:
            raise ValueError(f"reshape must map tokens (M, {tokens}, {channels}) to a grid (M, h, w, {channels}); "
                             f"it returned shape {grid.shape}")
        return grid.reshape(lead + grid.shape[1:])
    found = token_grid(tokens)
    if found is None:
        raise ValueError(f"the layer outputs {tokens} tokens, not a square grid (with or without one class token); "
                         "pass reshape= a function mapping (M, tokens, c) to (M, h, w, c)")
    side, leading = found
    grid = flat[:, leading:].reshape((-1, side, side, channels))
    return grid.reshape(lead + grid.shape[1:])
