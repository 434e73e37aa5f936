"""Mask samplers: which superpixels each perturbed sample keeps (rows of a boolean (N, K) matrix).

Every sampler puts the unperturbed image (all ones) first, draws from one numpy Generator, and
is prefix-consistent: the first ``n`` rows of a draw of ``N > n`` rows equal a draw of ``n`` rows
from the same seed, so convergence stopping after ``n`` samples equals a run with
``num_samples=n``.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._validation import check_choice

__all__ = ["MaskSample", "SAMPLERS", "bernoulli_masks", "paired_masks", "shapley_masks", "draw_masks"]

SAMPLERS = ("paired", "bernoulli")


class MaskSample(NamedTuple):
    """Boolean masks (N, K) and the cluster each row was drawn with (rows drawn together share one)."""

    masks: np.ndarray
    clusters: np.ndarray


def bernoulli_masks(rng: np.random.Generator, num_samples: int, num_segments: int) -> MaskSample:
    """Independent Bernoulli(1/2) masks, lime's design; the first row keeps everything.

    Examples
    --------
    >>> import numpy as np
    >>> sample = bernoulli_masks(np.random.default_rng(0), 4, 3)
    >>> sample.masks[0].tolist(), sample.masks.shape
    ([True, True, True], (4, 3))
    """
    masks = rng.random((num_samples, num_segments)) < 0.5
    masks[0] = True
    return MaskSample(masks, np.arange(num_samples))


def paired_masks(rng: np.random.Generator, num_samples: int, num_segments: int) -> MaskSample:
    """Antithetic Bernoulli(1/2) masks: each draw ``z`` is followed by its complement ``1 - z``.

    Every row is still Bernoulli(1/2) in each segment, so LIME's surrogate converges to the same
    limit as with independent masks; but within a pair the segment indicators are perfectly
    anti-correlated, which cancels the part of the model's response that is even under
    ``z -> 1 - z`` (pairwise interactions between segments, the main source of LIME's
    sampling noise). Covert & Lee (AISTATS 2021) showed the same pairing speeds up KernelSHAP.
    The first pair is the unperturbed image and the fully hidden one.

    Examples
    --------
    >>> import numpy as np
    >>> masks = paired_masks(np.random.default_rng(0), 4, 3).masks
    >>> bool(np.all(masks[2] == ~masks[3])), masks[:2].tolist()
    (True, [[True, True, True], [False, False, False]])
    """
    half = (num_samples + 1) // 2
    draws = rng.random((half, num_segments)) < 0.5
    draws[0] = True
    masks = np.empty((2 * half, num_segments), dtype=bool)
    masks[0::2] = draws
    masks[1::2] = ~draws
    return MaskSample(masks[:num_samples], np.arange(num_samples) // 2)


def shapley_masks(rng: np.random.Generator, num_samples: int, num_segments: int) -> MaskSample:
    """Coalitions drawn from the Shapley kernel, paired with their complements.

    Rows 0 and 1 are the full and the empty coalition (the constraints of KernelSHAP); the rest
    come in complementary pairs whose size ``k`` is drawn with probability proportional to
    ``(K - 1) / (k (K - k))`` (the Shapley kernel summed over the ``C(K, k)`` coalitions of size
    ``k``) and whose members are uniform given ``k``, so each row may then carry weight 1.

    Examples
    --------
    >>> import numpy as np
    >>> masks = shapley_masks(np.random.default_rng(0), 6, 4).masks
    >>> masks.sum(axis=1)[:2].tolist(), bool(np.all(masks[2] == ~masks[3]))
    ([4, 0], True)
    """
    sizes = np.arange(1, num_segments)
    size_probability = 1.0 / (sizes * (num_segments - sizes))
    cumulative = np.cumsum(size_probability / size_probability.sum())
    n_pairs = max((num_samples - 2 + 1) // 2, 0)
    draws = rng.random((n_pairs, num_segments + 1))
    size = sizes[np.minimum(np.searchsorted(cumulative, draws[:, 0], side="right"), sizes.size - 1)]
    ranks = np.argsort(np.argsort(draws[:, 1:], axis=1, kind="stable"), axis=1, kind="stable")
    chosen = ranks < size[:, None]
    masks = np.empty((2 + 2 * n_pairs, num_segments), dtype=bool)
    masks[0], masks[1] = True, False
    masks[2::2], masks[3::2] = chosen, ~chosen
    return MaskSample(masks[:num_samples], np.arange(num_samples) // 2)


def draw_masks(sampler: str, rng: np.random.Generator, num_samples: int, num_segments: int) -> MaskSample:
    """Masks from the named LIME sampler (``"paired"`` or ``"bernoulli"``)."""
    check_choice(sampler, "sampler", SAMPLERS)
    draw = paired_masks if sampler == "paired" else bernoulli_masks
    return draw(rng, num_samples, num_segments)
