"""`LayerRanking`: the layer advisor's answer, best layer first, with every candidate's score per image."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["LayerRanking", "METRICS"]

#: The advisor's metrics: (label, higher is better, what it measures).
METRICS = {
    "insertion": ("insertion AUC (logit)", True,
                  "area under the target's logit as pixels are revealed on a blurred copy, most relevant first "
                  "(RISE, arXiv 1806.07421)"),
    "deletion": ("deletion AUC (logit)", False,
                 "area under the target's logit as pixels are set to 0, most relevant first"),
    "occlusion": ("Spearman with occlusion", True,
                  "rank correlation of the map with an occlusion map of the same image (Zeiler & Fergus)"),
}


@dataclass
class LayerRanking:
    """Which layer's map is most faithful to the model: the candidates, best first, with their scores.

    Attributes
    ----------
    layers : list of str
        Layer paths, best first (``"backbone/conv5_block3_out"`` for a nested layer).
    scores : ndarray (n_layers,)
        Each layer's mean score over the images, in the same order.
    values : ndarray (n_layers, n_images)
        The score of each layer on each image (its spread).
    metric : str
        ``"insertion"`` or ``"occlusion"`` (higher is better), ``"deletion"`` (lower is better).
    method : str
        The CAM method ranked.
    class_maps : set of str
        The candidates that are class maps (as many channels as classes, reaching the output only
        through parameter-free layers): Grad-CAM there equals the class map itself.
    automatic : str or None
        The layer ``layer=None`` would use.
    explanations : dict
        ``{layer: [Explanation per image]}``: the maps that were scored (for :meth:`plot`).
    """

    layers: list
    scores: np.ndarray
    values: np.ndarray
    metric: str
    method: str
    class_maps: set = field(default_factory=set)
    automatic: str | None = None
    explanations: dict = field(default_factory=dict, repr=False)

    @property
    def best(self) -> str:
        """The best layer's path: give it as ``layer=`` to any CAM method."""
        return self.layers[0]

    @property
    def higher_is_better(self) -> bool:
        return METRICS[self.metric][1]

    def interval(self, layer: str) -> tuple[float, float]:
        """The 95% bootstrap interval of ``layer``'s mean score over the images."""
        from ..metrics.results import mean_interval

        _, low, high = mean_interval(self.values[self.layers.index(layer)][None], axis=1)
        return float(low[0]), float(high[0])

    def to_dict(self) -> dict:
        """Plain data for ``Explanation.params["layer_ranking"]`` and JSON: metric, method, and per layer its
        mean, its 95% interval and whether it is a class map, best first."""
        rows = []
        for layer, score in zip(self.layers, self.scores):
            low, high = self.interval(layer)
            rows.append({"layer": layer, "score": float(score), "low": low, "high": high,
                         "class_map": layer in self.class_maps, "automatic": layer == self.automatic})
        return {"metric": self.metric, "label": METRICS[self.metric][0], "higher_is_better": self.higher_is_better,
                "method": self.method, "images": int(self.values.shape[1]), "layers": rows}

    def table(self) -> str:
        """The ranking as a text table, best first."""
        label = METRICS[self.metric][0] + (" (higher is better)" if self.higher_is_better else " (lower is better)")
        width = max([len(layer) for layer in self.layers] + [5])
        lines = [f"{self.method} layers ranked by {label} over {self.values.shape[1]} image(s)",
                 f"  rank  {'layer'.ljust(width)}  {'score':>9}  95% interval          note"]
        for rank, row in enumerate(self.to_dict()["layers"], 1):
            notes = [note for flag, note in ((row["class_map"], "class map"), (row["automatic"], "automatic layer"))
                     if flag]
            lines.append(f"  {rank:>4}  {row['layer'].ljust(width)}  {row['score']:>9.4g}  "
                         f"[{row['low']:>8.4g}, {row['high']:>8.4g}]  {', '.join(notes)}".rstrip())
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.table()

    def plot(self, images: int = 3, **options: Any) -> Figure:
        """Each candidate's map side by side with its score, one row per image (at most ``images`` rows).

        ``options`` go to :func:`superexplain.compare` (e.g. ``panel_size=2.5``). Returns the figure.
        """
        from ..plotting import compare

        if not self.explanations:
            raise ValueError("this LayerRanking holds no explanations to draw (it was built from numbers only)")
        count = min(int(images), self.values.shape[1])
        rows = [[self.explanations[layer][i] for layer in self.layers] for i in range(count)]
        options.setdefault("colorbar", False)
        figure = compare(rows, kind="heatmap", **options)
        panels = len(self.layers) + 1
        for i in range(count):
            for j, layer in enumerate(self.layers):
                notes = " (class map)" if layer in self.class_maps else ""
                figure.axes[i * panels + j + 1].set_title(
                    f"#{j + 1} {layer.rsplit('/', 1)[-1]}{notes}\n{self.metric} {self.values[j, i]:.3g}", fontsize=8)
        figure.suptitle(f"{self.method}: candidate layers ranked by {METRICS[self.metric][0]} (best first)")
        return figure
