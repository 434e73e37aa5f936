"""Mask samplers: which superpixels each perturbed sample keeps (rows of a boolean (N, K) matrix).

Every sampler puts the unperturbed image (all ones) first, draws from one numpy Generator, and
is prefix-consistent: the first ``n`` rows of a draw of ``N > n`` rows equal a draw of ``n`` rows
from the same seed, so an automatic run (``num_samples="auto"``) that stops after ``n`` samples
draws the masks of a run with ``num_samples=n``. ``clusters`` label the independent units (a row, a pair, a
design block) for the standard errors and for where an automatic run's rounds may end.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._validation import check_choice

__all__ = ["MaskSample", "SAMPLERS", "bernoulli_masks", "paired_masks", "orthogonal_masks", "shapley_masks",
           "draw_masks"]

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


def _paley_prime(num_segments: int) -> int:
    """The smallest prime ``q >= num_segments`` (and ``>= 3``) with ``q % 4 == 3``."""
    q = max(num_segments, 3)
    while q % 4 != 3 or any(q % d == 0 for d in range(3, int(q**0.5) + 1, 2)):
        q += 1
    return q


def _paley_rows(rows: np.ndarray, columns: np.ndarray, q: int) -> np.ndarray:
    """Rows of a Paley orthogonal array OA(q + 1, q, 2, 2), restricted to ``columns``.

    Row 0 is all zeros; row ``r >= 1`` is the indicator of ``{0} U non-residues mod q`` shifted by
    ``r - 1``. That set is a cyclic difference set with parameters ``(q, (q + 1) / 2, (q + 1) / 4)``
    when ``q % 4 == 3``, so every two columns show each of their four on/off patterns in exactly
    ``(q + 1) / 4`` rows, and every column is on in half of them.
    """
    residues = np.zeros(q, dtype=bool)
    residues[(np.arange(1, q, dtype=np.int64) ** 2) % q] = True
    kept = ~residues  # zero and the non-residues
    shifted = kept[(columns[None, :] - (rows[:, None] - 1)) % q]
    return np.where(rows[:, None] == 0, False, shifted)


def orthogonal_masks(rng: np.random.Generator, num_samples: int, num_segments: int) -> MaskSample:
    """Randomised orthogonal arrays of strength 3, in complementary halves and pairs; the first row keeps everything.

    After the unperturbed first row come blocks in which every three segments take each of their eight
    on/off patterns equally often (an orthogonal array of strength 3): the design is balanced for every
    segment, pair and triple, where independent draws are only balanced on average. Each block is
    XOR-ed with a uniform random on/off vector, which makes every row exactly uniform on ``{0, 1}^K``
    (independent Bernoulli(1/2) segments, lime's distribution), so LIME's surrogate keeps lime's limit;
    only the dependence between rows changes, and it cancels sampling noise from the model's pairwise
    and three-way segment interactions.

    - The first block (``2(q + 1)`` rows, ``q`` the smallest prime ``>= K`` with ``q % 4 == 3``) is a
      Paley design: its first ``q + 1`` rows, in random order and with ``K`` of its ``q`` columns drawn
      at random, are an orthogonal array of strength 2 (every pair of segments balanced; ``K + 1``
      rows is the least any such array needs), and the next ``q + 1`` rows are their complements,
      which raise the strength to 3. So a run of only ``K + 2`` to about ``K + 6`` samples already has
      uncorrelated segments.
    - Later blocks have ``B = 2**(m + 1)`` rows, ``2**m >= K``: the words of a binary linear code whose
      generator matrix has an all-ones row (the foldover: consecutive rows are complements) above
      the ``m``-bit binary labels of the ``K`` segments, distinct labels drawn at random for each
      block. Any three columns of such a generator are linearly independent, hence strength 3.
      These regular blocks measured better than more Paley blocks beyond about 150 samples.

    Each block is one cluster for the standard errors (the unperturbed first row joins the first
    block): rows of a block are dependent, but blocks are randomised independently (fresh columns or
    labels, fresh flip), so they are independent replicates and the cluster-robust sandwich over
    blocks is consistent for the design actually used (clustering only the complementary pairs
    ignored the dependence between pairs and understated the error by up to a fifth).

    Examples
    --------
    >>> import numpy as np
    >>> sample = orthogonal_masks(np.random.default_rng(0), 1 + 24, 11)  # q = 11: a first block of 24
    >>> masks = sample.masks.astype(int)
    >>> bool(masks[0].all()), bool(np.all(masks[1:13] == 1 - masks[13:25]))
    (True, True)
    >>> np.bincount(2 * masks[1:13, 3] + masks[1:13, 7]).tolist()  # 12 rows: every pair balanced
    [3, 3, 3, 3]
    >>> np.bincount(4 * masks[1:, 3] + 2 * masks[1:, 7] + masks[1:, 9]).tolist()  # 24 rows: every triple
    [3, 3, 3, 3, 3, 3, 3, 3]
    """
    q = _paley_prime(num_segments)
    order, columns = rng.permutation(q + 1), rng.choice(q, size=num_segments, replace=False)
    flip = rng.random(num_segments) < 0.5
    needed = min(num_samples - 1, 2 * (q + 1))
    half = _paley_rows(order[:min(needed, q + 1)], columns, q)
    first = np.vstack([half, ~half[:needed - half.shape[0]]]) ^ flip
    parts = [np.ones((1, num_segments), dtype=bool), first]
    clusters = [np.zeros(1 + needed, np.int64)]
    n_bits = max(1, int(np.ceil(np.log2(num_segments))))
    block = 2 ** (n_bits + 1)
    n_blocks = -(-(num_samples - 1 - needed) // block)
    for _ in range(n_blocks):
        labels = rng.choice(2**n_bits, size=num_segments, replace=False)
        parts.append(_code_words(labels, n_bits) ^ (rng.random(num_segments) < 0.5))
    clusters.append(1 + np.arange(n_blocks * block) // block)
    masks = np.concatenate(parts)[:num_samples]
    return MaskSample(masks, np.concatenate(clusters)[:num_samples])


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


#: LIME's samplers by name, the default first.
_LIME_SAMPLERS = {"orthogonal": orthogonal_masks, "paired": paired_masks, "bernoulli": bernoulli_masks}
SAMPLERS = tuple(_LIME_SAMPLERS)


def draw_masks(sampler: str, rng: np.random.Generator, num_samples: int, num_segments: int) -> MaskSample:
    """Masks from the named LIME sampler (``"orthogonal"``, ``"paired"`` or ``"bernoulli"``)."""
    check_choice(sampler, "sampler", SAMPLERS)
    return _LIME_SAMPLERS[sampler](rng, num_samples, num_segments)
