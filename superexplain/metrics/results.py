"""What the faithfulness metrics return (Sensitivity-n, deletion/insertion, ROAD): the numbers, a mean with a
95% interval over images (`mean_interval`), and `.plot()`. The map-comparison results are in `map_results`."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "mean_interval",
    "SensitivityResult",
    "CurveResult",
    "RoadResult",
]


def mean_interval(values: np.ndarray, axis: int = 0, resamples: int = 1000, seed: int = 0) -> tuple:
    """Mean over ``axis`` (NaNs ignored) and a 95% percentile-bootstrap interval of that mean.

    With one value the interval is the value itself. The bootstrap uses its own fixed seed, so
    the interval of the same numbers is always the same.
    """
    values = np.moveaxis(np.asarray(values, dtype=np.float64), axis, 0)
    with np.errstate(invalid="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns give NaN, as they should
            mean = np.nanmean(values, axis=0)
            if values.shape[0] < 2:
                return mean, mean.copy(), mean.copy()
            rng = np.random.default_rng(seed)
            picks = rng.integers(0, values.shape[0], size=(resamples, values.shape[0]))
            means = np.nanmean(values[picks], axis=1)
            low, high = np.nanpercentile(means, [2.5, 97.5], axis=0)
    return mean, low, high


def _axes(ax, figsize=(4.5, 3.2)):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")  # room for the axis labels
    return ax


@dataclass
class SensitivityResult:
    """Sensitivity-n (Ancona et al., arXiv 1711.06104) of one or several methods.

    Attributes
    ----------
    ns : ndarray (len(ns),)
        Subset sizes, in features.
    correlations : ndarray or dict
        Pearson correlation per n: shape (len(ns),) for one image, (n_images, len(ns)) for several;
        a dict ``{method: array}`` when several methods were compared.
    mean, low, high : dict
        Per method, the mean over images and the 95% bootstrap interval, each (len(ns),).
    num_features : int or list
        Features per image (pixels or superpixels).
    params : dict
        The settings used (features, baseline, num_subsets, score kind, seed).

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.metrics import sensitivity_n
    >>> w = np.random.default_rng(0).normal(size=(8, 8, 1))
    >>> image = np.ones((8, 8, 1))
    >>> result = sensitivity_n(lambda x: (x * w).sum(axis=(1, 2)), image, (w * image)[:, :, 0],
    ...                        features="pixels", num_subsets=20, random_state=0)
    >>> bool(np.allclose(result.correlations, 1.0, atol=1e-4))
    True
    """

    ns: np.ndarray
    per_method: dict
    single_image: bool
    num_features: Any
    params: dict = field(default_factory=dict)

    @property
    def methods(self) -> list[str]:
        return list(self.per_method)

    @property
    def correlations(self) -> np.ndarray | dict[str, np.ndarray]:
        out = {name: (values[0] if self.single_image else values) for name, values in self.per_method.items()}
        return next(iter(out.values())) if len(out) == 1 else out

    def summary(self) -> dict:
        """Per method: (mean, low, high) arrays over images, each (len(ns),)."""
        return {name: mean_interval(values) for name, values in self.per_method.items()}

    @property
    def mean(self) -> dict:
        return {name: stats[0] for name, stats in self.summary().items()}

    def plot(self, ax: Axes | None = None) -> Axes:
        """Correlation against n (log scale), one line per method with its 95% band."""
        ax = _axes(ax)
        for name, (mean, low, high) in self.summary().items():
            line, = ax.plot(self.ns, mean, marker="o", markersize=3, label=name)
            if not self.single_image:
                ax.fill_between(self.ns, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
        ax.set_xscale("log")
        ax.set_ylim(-1.05, 1.05)
        ax.axhline(0.0, color="0.6", linewidth=0.8)
        ax.set_xlabel(f"n ({self.params.get('features', 'features')} removed)")
        ax.set_ylabel("Pearson correlation")
        ax.set_title("Sensitivity-n")
        ax.legend(fontsize="small")
        return ax


@dataclass
class CurveResult:
    """A RISE deletion or insertion curve (Petsiuk et al., arXiv 1806.07421) per image, and its AUC.

    Attributes
    ----------
    kind : {"deletion", "insertion"}
    fractions, scores : list of ndarray
        Per image, the fraction of features changed and the target's score after each step.
    aucs : ndarray (n_images,)
        Trapezoid area under each curve over x in [0, 1].
    auc : float
        Mean area over images; ``interval`` its 95% bootstrap interval.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.metrics import deletion
    >>> kept = lambda x: (x != 0).mean(axis=(1, 2, 3))[:, None]   # output: fraction of pixels kept
    >>> result = deletion(kept, np.ones((8, 8, 1)), np.random.default_rng(0).random((8, 8)), step=1,
    ...                   target=0, random_state=0)
    >>> round(result.auc, 6)
    0.5
    """

    kind: str
    fractions: list
    scores: list
    aucs: np.ndarray
    method: str = "map"
    params: dict = field(default_factory=dict)

    @property
    def auc(self) -> float:
        return float(np.mean(self.aucs))

    @property
    def interval(self) -> tuple[float, float]:
        _, low, high = mean_interval(self.aucs)
        return float(low), float(high)

    def plot(self, ax: Axes | None = None) -> Axes:
        """The curve (the mean curve over images on a common grid when there are several)."""
        ax = _axes(ax)
        grid = np.linspace(0.0, 1.0, 101)
        curves = np.stack([np.interp(grid, x, y) for x, y in zip(self.fractions, self.scores)])
        if len(self.scores) == 1:
            ax.plot(self.fractions[0], self.scores[0], label=f"{self.method} (AUC {self.auc:.3f})")
            ax.fill_between(self.fractions[0], self.scores[0], alpha=0.2)
        else:
            mean, low, high = mean_interval(curves)
            line, = ax.plot(grid, mean, label=f"{self.method} (AUC {self.auc:.3f})")
            ax.fill_between(grid, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
        verb = "removed" if self.kind == "deletion" else "revealed"
        ax.set_xlabel(f"fraction of {self.params.get('features', 'pixels')} {verb}")
        ax.set_ylabel(f"target {self.params.get('score_kind', 'score')}")
        ax.set_title(self.kind.capitalize())
        ax.legend(fontsize="small")
        return ax


@dataclass
class RoadResult:
    """ROAD (Rong et al., arXiv 2202.00449): scores after noisy linear imputation of MoRF / LeRF pixels.

    Attributes
    ----------
    percentiles : ndarray
        Percent of features imputed at each step.
    morf, lerf : ndarray
        Target score after imputing the most / least relevant features: (len(percentiles),) for
        one image, (n_images, len(percentiles)) for several.
    original : ndarray or float
        The target's score on the unmodified image(s).
    combined : float
        Mean over images and percentiles of (LeRF - MoRF) / 2: higher is better.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.metrics import road
    >>> w = np.zeros((8, 8, 1)); w[:2] = 1.0
    >>> model = lambda x: (x * w).sum(axis=(1, 2))
    >>> image = np.random.default_rng(0).random((8, 8, 1))
    >>> result = road(model, image, w[:, :, 0] * image[:, :, 0], target=0, random_state=0)
    >>> bool(result.combined != 0)
    True
    """

    percentiles: np.ndarray
    morf_scores: np.ndarray  # (n_images, P)
    lerf_scores: np.ndarray
    original_scores: np.ndarray  # (n_images,)
    single_image: bool
    method: str = "map"
    params: dict = field(default_factory=dict)

    @property
    def morf(self) -> np.ndarray:
        return self.morf_scores[0] if self.single_image else self.morf_scores

    @property
    def lerf(self) -> np.ndarray:
        return self.lerf_scores[0] if self.single_image else self.lerf_scores

    @property
    def original(self) -> float | np.ndarray:
        return float(self.original_scores[0]) if self.single_image else self.original_scores

    @property
    def combined(self) -> float:
        return float(np.mean(self.lerf_scores - self.morf_scores) / 2.0)

    def plot(self, ax: Axes | None = None) -> Axes:
        """MoRF and LeRF score against the percentage imputed."""
        ax = _axes(ax)
        for label, values in (("MoRF", self.morf_scores), ("LeRF", self.lerf_scores)):
            mean, low, high = mean_interval(values)
            line, = ax.plot(self.percentiles, mean, marker="o", markersize=3, label=label)
            if values.shape[0] > 1:
                ax.fill_between(self.percentiles, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
        ax.set_xlabel("% of pixels imputed")
        ax.set_ylabel(f"target {self.params.get('score_kind', 'score')}")
        ax.set_title(f"ROAD {self.method} (combined {self.combined:.3f})")
        ax.legend(fontsize="small")
        return ax
