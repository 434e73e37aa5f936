"""What the map-comparison metrics return: `LocalisationResult` (pointing game, relevance mass) and `AgreementResult`."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .results import _axes, mean_interval

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["LocalisationResult", "AgreementResult"]


@dataclass
class LocalisationResult:
    """Pointing game or relevance mass against ground-truth masks, per image and averaged.

    Attributes
    ----------
    name : {"pointing_game", "relevance_mass"}
    values : ndarray (n_images,)
        Pointing: 1 for a hit, 0 for a miss (a fraction when several pixels tie for the maximum).
        Relevance mass: the share of positive relevance inside the mask.
    area_fractions : ndarray (n_images,)
        The mask's share of the image: what a random map scores on average.
    score : float
        Mean of ``values``; ``interval`` its 95% bootstrap interval.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.metrics import pointing_game
    >>> mask = np.zeros((8, 8), bool); mask[2:4, 2:4] = True
    >>> heat = np.zeros((8, 8)); heat[3, 3] = 1.0
    >>> pointing_game(heat, mask).score
    1.0
    """

    name: str
    values: np.ndarray
    area_fractions: np.ndarray
    params: dict = field(default_factory=dict)

    @property
    def score(self) -> float:
        finite = self.values[~np.isnan(self.values)]
        return float(finite.mean()) if finite.size else float("nan")

    @property
    def interval(self) -> tuple[float, float]:
        _, low, high = mean_interval(self.values)
        return float(low), float(high)

    def plot(self, ax: Axes | None = None) -> Axes:
        """Per-image values beside each mask's area fraction (the random-map expectation)."""
        ax = _axes(ax)
        index = np.arange(self.values.size)
        ax.bar(index, self.values, color="tab:blue", label=self.name.replace("_", " "))
        ax.plot(index, self.area_fractions, "k_", markersize=12, label="mask area fraction")
        ax.set_ylim(0, 1.05)
        ax.set_xlabel("image")
        ax.set_title(f"{self.name.replace('_', ' ')}: {self.score:.3f}")
        ax.legend(fontsize="small")
        return ax


@dataclass
class AgreementResult:
    """Agreement between two explanations of the same image, per pixel and per superpixel.

    Attributes
    ----------
    pixel : dict
        ``spearman``, ``spearman_abs``, ``topk`` (overlap of the top-k pixels), ``ssim``.
    segment : dict or None
        The same on per-superpixel attributions (None when no segments were available).

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.metrics import agreement
    >>> a = np.random.default_rng(0).random((16, 16))
    >>> round(agreement(a, a ** 3).pixel["spearman"], 6)
    1.0
    """

    pixel: dict
    segment: dict | None
    names: tuple = ("a", "b")
    params: dict = field(default_factory=dict)

    def plot(self, ax: Axes | None = None) -> Axes:
        """Bars of each measure at pixel and superpixel level."""
        ax = _axes(ax)
        measures = list(self.pixel)
        index = np.arange(len(measures))
        width = 0.38 if self.segment else 0.7
        ax.bar(index - (width / 2 if self.segment else 0), [self.pixel[m] for m in measures], width, label="pixels")
        if self.segment:
            ax.bar(index + width / 2, [self.segment[m] for m in measures], width, label="superpixels")
        ax.set_xticks(index, measures, fontsize="small")
        ax.set_ylim(min(-0.05, min(self.pixel.values()) - 0.05), 1.05)
        ax.set_title(f"agreement {self.names[0]} vs {self.names[1]}")
        ax.legend(fontsize="small")
        return ax
