"""What the per-image scalar checks return (robustness, faithfulness correlation, monotonicity, complexity,
random-logit): one number per image and method, a mean with a 95% interval, and ``.plot()``."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .results import _axes, mean_interval

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["ScoreResult"]


@dataclass
class ScoreResult:
    """One scalar check of one or several methods, per image.

    Attributes
    ----------
    name : str
        The check (``"sparseness"``, ``"max_sensitivity"``, ...).
    values : dict
        ``{method: ndarray (n_images,)}``; NaN where the check is undefined for an image.
    higher_is_better : bool
        The direction in which the check favours a method (``False`` for the sensitivities,
        where lower is more robust).
    params : dict
        The settings that produced the numbers (seed, radius, draws, ...).

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.metrics import ScoreResult
    >>> r = ScoreResult("sparseness", {"a": np.array([1.0, 0.5]), "b": np.array([0.0, 0.25])})
    >>> r.methods, r.score, r.scores["b"], r.best
    (['a', 'b'], 0.75, 0.125, 'a')
    """

    name: str
    values: dict
    higher_is_better: bool = True
    params: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.values = {str(k): np.asarray(v, dtype=np.float64).reshape(-1) for k, v in self.values.items()}

    @property
    def methods(self) -> list[str]:
        return list(self.values)

    @property
    def scores(self) -> dict:
        """Per method, the mean over images (NaNs ignored)."""
        return {m: float(mean_interval(v)[0]) for m, v in self.values.items()}

    @property
    def score(self) -> float:
        """The first method's mean (the only one when a single method was checked)."""
        return self.scores[self.methods[0]]

    @property
    def intervals(self) -> dict:
        """Per method, the 95% bootstrap interval of the mean over images."""
        out = {}
        for method, values in self.values.items():
            _, low, high = mean_interval(values)
            out[method] = (float(low), float(high))
        return out

    @property
    def interval(self) -> tuple[float, float]:
        return self.intervals[self.methods[0]]

    @property
    def best(self) -> str:
        """The method with the best mean in the check's direction (NaN means never win)."""
        scores = {m: s for m, s in self.scores.items() if np.isfinite(s)}
        if not scores:
            return self.methods[0]
        pick = max if self.higher_is_better else min
        return pick(scores, key=scores.__getitem__)

    def summary(self) -> dict:
        """``{method: {"mean", "low", "high", "n"}}``: what a report table shows."""
        return {m: {"mean": self.scores[m], "low": self.intervals[m][0], "high": self.intervals[m][1],
                    "n": int(np.sum(np.isfinite(v)))} for m, v in self.values.items()}

    def plot(self, ax: Axes | None = None) -> Axes:
        """One bar per method (its mean) with the 95% interval, the better direction in the title."""
        ax = _axes(ax)
        methods = self.methods
        means = np.array([self.scores[m] for m in methods])
        low = np.array([self.intervals[m][0] for m in methods])
        high = np.array([self.intervals[m][1] for m in methods])
        errors = np.vstack([np.clip(means - low, 0, None), np.clip(high - means, 0, None)])
        ax.bar(np.arange(len(methods)), means, yerr=np.nan_to_num(errors), capsize=3, color="tab:blue")
        ax.set_xticks(np.arange(len(methods)), methods, rotation=30, ha="right", fontsize="small")
        arrow = "higher" if self.higher_is_better else "lower"
        ax.set_title(f"{self.name.replace('_', ' ')} ({arrow} is better)")
        return ax
