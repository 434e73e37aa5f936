"""The result of a randomisation sanity check: per-layer similarities, the maps, and the paper's figure."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..metrics.results import mean_interval

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["RandomizationResult"]

#: One marker and one line style per similarity measure (cycled beyond that many).
_MARKERS = ("o", "s", "^", "D", "v", "x", "P")
_LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1)), (0, (1, 3)), (0, (8, 3)))


@dataclass
class RandomizationResult:
    """What :func:`superexplain.sanity.model_randomization` found.

    Attributes
    ----------
    layers : list of str
        The randomised layers, in the order they were randomised (output first).
    scores : dict
        ``{measure: ndarray (len(layers), n_images)}``; row i is the similarity to the original
        explanation after step i.
    original : ndarray (n_images, H, W)
        The trained model's heatmaps.
    maps : ndarray (len(layers), n_images, H, W)
        The heatmaps after each step.
    images : ndarray (n_images, H, W, C)
    params : dict
        ``mode``, ``reinit``, ``seed``, ``method``, ``targets``.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.sanity import RandomizationResult
    >>> r = RandomizationResult(["head"], {"spearman": np.array([[0.2]])}, np.zeros((1, 4, 4)),
    ...                         np.zeros((1, 1, 4, 4)), np.zeros((1, 4, 4, 3)), {"mode": "cascading"})
    >>> r.mean()["spearman"].tolist()
    [0.2]
    """

    layers: list
    scores: dict
    original: np.ndarray
    maps: np.ndarray
    images: np.ndarray
    params: dict = field(default_factory=dict)

    def mean(self) -> dict:
        """Per measure, the mean similarity over images after each step, (len(layers),)."""
        return {name: mean_interval(values, axis=1)[0] for name, values in self.scores.items()}

    def plot(self, image_index: int = 0, figsize: tuple | None = None) -> Figure:
        """The paper's figure: similarity against the randomised layer, and a row of heatmap thumbnails.

        The curves start at the trained model (similarity 1) and show each measure's mean over
        images with its 95% bootstrap interval, each with its own marker and line style so that
        curves which coincide stay visible; the thumbnails show ``image_index``'s heatmap for
        the trained model and after every step. Returns the matplotlib Figure.
        """
        import matplotlib.pyplot as plt

        steps = len(self.layers)
        figsize = figsize or (max(6.0, 1.0 * (steps + 1)), 5.0)
        figure = plt.figure(figsize=figsize)
        grid = figure.add_gridspec(2, steps + 1, height_ratios=[2.2, 1.0])
        curves = figure.add_subplot(grid[0, :])
        x = np.arange(steps + 1)
        for index, (name, values) in enumerate(self.scores.items()):
            mean, low, high = mean_interval(values, axis=1)
            mean, low, high = (np.concatenate([[1.0], v]) for v in (mean, low, high))
            # a distinct marker and dash per measure: curves that coincide (spearman_abs and spearman
            # of a one-signed map) stay visible one over the other
            marker, dashes = _MARKERS[index % len(_MARKERS)], _LINESTYLES[index % len(_LINESTYLES)]
            line, = curves.plot(x, mean, marker=marker, markersize=7 - 1.5 * (index % 3), linestyle=dashes,
                                markerfacecolor="none" if index % 2 else None, label=name)
            if values.shape[1] > 1:
                curves.fill_between(x, low, high, color=line.get_color(), alpha=0.15, linewidth=0)
        curves.set_xticks(x, ["trained"] + list(self.layers), rotation=30, ha="right", fontsize="small")
        curves.set_ylim(-1.05, 1.05)
        curves.axhline(0.0, color="0.7", linewidth=0.8)
        curves.set_ylabel("similarity to original")
        curves.set_title(f"{self.params.get('method', '')}: {self.params.get('mode', '')} randomisation")
        curves.legend(fontsize="small", loc="lower left")
        thumbnails = [self.original[image_index]] + [self.maps[s, image_index] for s in range(steps)]
        for column, heat in enumerate(thumbnails):
            ax = figure.add_subplot(grid[1, column])
            ax.imshow(np.abs(heat), cmap="inferno")
            ax.set_axis_off()
        figure.tight_layout()
        return figure
