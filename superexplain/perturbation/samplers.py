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

__all__ = ["MaskSample", "SAMPLERS", "bernoulli_masks", "paired_masks", "orthogonal_masks", "shapley_masks",
           "draw_masks"]

SAMPLERS = ("orthogonal", "paired", "bernoulli")


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


def _code_words(labels: np.ndarray, n_bits: int) -> np.ndarray:
    """All ``2**(n_bits + 1)`` words of the binary linear code whose generator matrix has an all-ones
    first row and the ``n_bits`` binary digits of ``labels`` below it, in counting order: word ``r``
    is the sum (mod 2) of the generator rows selected by the bits of ``r``, so words ``2i`` and
    ``2i + 1`` are complements."""
    generator = np.vstack([np.ones(labels.size, np.int64)] + [(labels >> bit) & 1 for bit in range(n_bits)])
    counts = np.arange(2 ** (n_bits + 1))
    selectors = (counts[:, None] >> np.arange(n_bits + 1)[None, :]) & 1
    return (selectors @ generator) % 2 == 1


def orthogonal_masks(rng: np.random.Generator, num_samples: int, num_segments: int) -> MaskSample:
    """Randomised orthogonal arrays of strength 3, in complementary pairs; the first row keeps everything.

    After the unperturbed first row come blocks of ``B = 2**(m + 1)`` rows, ``2**m >= K``. Each block
    lists the words of a binary linear code: its generator matrix has an all-ones row (the foldover,
    which makes consecutive rows complements) above the ``m``-bit binary labels of the ``K`` segments,
    distinct labels drawn at random for each block. Any three columns of such a generator are linearly
    independent, so within a block every three segments take each of their eight on/off patterns
    exactly ``B / 8`` times (an orthogonal array of strength 3): the design is balanced for every
    segment, pair and triple, where independent draws are only balanced on average. Each block is then
    XOR-ed with a uniform random on/off vector, which makes every row exactly uniform on
    ``{0, 1}^K`` (independent Bernoulli(1/2) segments, lime's distribution), so LIME's surrogate keeps
    lime's limit; only the dependence between rows changes, and it cancels sampling noise from the
    model's pairwise and three-way segment interactions that paired masks alone leave in. Prefixes are
    nested subcodes (rows ``1 .. 2**j`` of a block are an orthogonal array of strength 1 for
    ``j >= 1``), and a random labelling keeps partial blocks close to balanced. Rows of a complementary
    pair share one cluster for the standard errors.

    Examples
    --------
    >>> import numpy as np
    >>> sample = orthogonal_masks(np.random.default_rng(0), 65, 20)
    >>> masks = sample.masks
    >>> masks[0].all(), bool(np.all(masks[1::2] == ~masks[2::2]))
    (np.True_, True)
    >>> block = masks[1:].astype(int)  # one full block of 64 rows: every triple of segments balanced
    >>> patterns = 4 * block[:, 3] + 2 * block[:, 7] + block[:, 12]
    >>> np.bincount(patterns).tolist()
    [8, 8, 8, 8, 8, 8, 8, 8]
    """
    n_bits = max(1, int(np.ceil(np.log2(num_segments))))
    block = 2 ** (n_bits + 1)
    n_blocks = -(-(num_samples - 1) // block)
    parts = [np.ones((1, num_segments), dtype=bool)]
    for _ in range(n_blocks):
        labels = rng.choice(2**n_bits, size=num_segments, replace=False)
        parts.append(_code_words(labels, n_bits) ^ (rng.random(num_segments) < 0.5))
    masks = np.concatenate(parts)[:num_samples]
    clusters = np.concatenate([[0], 1 + np.arange(n_blocks * block) // 2])[:num_samples]
    return MaskSample(masks, clusters)


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
    """Masks from the named LIME sampler (``"orthogonal"``, ``"paired"`` or ``"bernoulli"``)."""
    check_choice(sampler, "sampler", SAMPLERS)
    draw = {"orthogonal": orthogonal_masks, "paired": paired_masks, "bernoulli": bernoulli_masks}[sampler]
    return draw(rng, num_samples, num_segments)
