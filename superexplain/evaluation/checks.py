"""The table of checks `evaluate` runs: what each measures, its direction and paper, and how it is computed."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, cast

import numpy as np

from ..metrics import complexity, deletion, faithfulness_correlation, insertion, monotonicity_correlation, \
    pointing_game, relevance_mass, road, sensitivity_n, sparseness
from ..metrics.results import mean_interval
from ..metrics.sensitivity import default_ns
from ..sanity import data_randomization, max_sensitivity, model_randomization, random_logit

__all__ = ["Check", "CHECKS", "CheckOutput", "Context", "CONTROLS"]

#: The control rows every check is read against: a random map and a model-independent Sobel edge map.
CONTROLS = ("random", "edge")


@dataclass
class Context:
    """What every check reads: the model, the images, one explanation per image and row, and the settings."""

    predictor: Any
    images: np.ndarray  # (N, H, W, C)
    targets: np.ndarray  # (N,)
    maps: dict  # row (method or control) -> list of N Explanations
    masks: np.ndarray | None
    seed: int
    options: dict  # check name -> its settings (defaults merged with the user's)
    method_options: dict  # method -> options for the re-running checks
    rerun_images: np.ndarray  # indices of the images the re-running checks explain again
    train: tuple | None = None  # (train_fn, images, labels) for data randomisation
    curves: dict = field(default_factory=dict)


@dataclass
class CheckOutput:
    """One check's per-image values per row, and the result objects whose ``.plot()`` draws its figures."""

    values: dict  # row -> ndarray (n_images,)
    figures: list = field(default_factory=list)  # (file stem, title, object with .plot(), caption)


@dataclass(frozen=True)
class Check:
    """One row of the table of checks.

    ``compute(context, rows) -> CheckOutput``; ``controls`` are the control rows it applies to
    (re-running checks cannot re-draw a random map meaningfully: they use the edge control only).
    """

    name: str
    label: str
    family: str
    higher_is_better: bool
    paper: str
    description: str
    compute: Callable
    needs_masks: bool = False
    reruns_method: bool = False
    needs_keras: bool = False
    needs_training: bool = False
    controls: tuple = CONTROLS
    defaults: dict = field(default_factory=dict)

    def describe(self) -> dict:
        return {"name": self.name, "label": self.label, "family": self.family,
                "higher_is_better": self.higher_is_better, "paper": self.paper, "description": self.description}


def _column(ctx: Context, row: str) -> list:
    return ctx.maps[row]


def _curve_check(kind: Callable) -> Callable:
    def compute(ctx: Context, rows: list, options: dict) -> CheckOutput:
        values = {row: kind(ctx.predictor, ctx.images, _column(ctx, row), random_state=ctx.seed, **options).aucs
                  for row in rows}
        return CheckOutput(values)
    return compute


def _sensitivity(ctx: Context, rows: list, options: dict) -> CheckOutput:
    options = dict(options)
    points = options.pop("points")
    result = sensitivity_n(ctx.predictor, ctx.images, {row: _column(ctx, row) for row in rows},
                           ns=lambda count: default_ns(count, points), random_state=ctx.seed, **options)
    curve_rows = {}
    for row, (mean, low, high) in result.summary().items():
        curve_rows[row] = {"mean": mean.tolist(), "low": low.tolist(), "high": high.tolist()}
    ctx.curves["sensitivity_n"] = {"x": result.ns.tolist(), "xlabel": f"n ({result.params['features']} removed)",
                                   "rows": curve_rows}
    values = {row: _nanmean_rows(result.per_method[row]) for row in rows}
    return CheckOutput(values, [("sensitivity_n_curve", "Sensitivity-n", result,
                                 "Pearson correlation between summed attributions and output drops, per n.")])


def _nanmean_rows(values: np.ndarray) -> np.ndarray:
    finite = np.isfinite(values)
    totals = np.where(finite, values, 0.0).sum(axis=1)
    counts = finite.sum(axis=1)
    return np.where(counts > 0, totals / np.maximum(counts, 1), np.nan)


def _shared(metric: Callable) -> Callable:
    def compute(ctx: Context, rows: list, options: dict) -> CheckOutput:
        result = metric(ctx.predictor, ctx.images, {row: _column(ctx, row) for row in rows}, random_state=ctx.seed,
                        **options)
        return CheckOutput({row: result.values[row] for row in rows})
    return compute


def _model_free(metric: Callable) -> Callable:
    def compute(ctx: Context, rows: list, options: dict) -> CheckOutput:
        result = metric({row: _column(ctx, row) for row in rows}, **options)
        return CheckOutput({row: result.values[row] for row in rows})
    return compute


def _road(ctx: Context, rows: list, options: dict) -> CheckOutput:
    values = {}
    for row in rows:
        result = road(ctx.predictor, ctx.images, _column(ctx, row), random_state=ctx.seed, **options)
        values[row] = np.mean(result.lerf_scores - result.morf_scores, axis=1) / 2.0
    return CheckOutput(values)


def _localisation(metric: Callable) -> Callable:
    def compute(ctx: Context, rows: list, options: dict) -> CheckOutput:
        return CheckOutput({row: metric(_column(ctx, row), ctx.masks, **options).values for row in rows})
    return compute


def _method(row: str) -> str:
    return "edge" if row in CONTROLS else row


def _full(ctx: Context, values: np.ndarray) -> np.ndarray:
    """Values of the re-explained images in place; NaN for the images not re-explained."""
    out = np.full(len(ctx.images), np.nan)
    out[ctx.rerun_images] = values
    return out


def _rerun(metric: Callable) -> Callable:
    def compute(ctx: Context, rows: list, options: dict) -> CheckOutput:
        images, targets = ctx.images[ctx.rerun_images], ctx.targets[ctx.rerun_images]
        values = {}
        for row in rows:
            method_options = {} if row in CONTROLS else dict(ctx.method_options[row])
            extra = {"options": method_options} if metric is max_sensitivity else method_options
            result = metric(ctx.predictor, images, _method(row), targets=targets, random_state=ctx.seed,
                            **options, **extra)
            values[row] = _full(ctx, result.values[_method(row)])
        return CheckOutput(values)
    return compute


def _randomization(ctx: Context, rows: list, options: dict) -> CheckOutput:
    options = dict(options)
    measure = options.pop("measure")
    images, targets = ctx.images[ctx.rerun_images], ctx.targets[ctx.rerun_images]
    values, figures, curve_rows, layers = {}, [], {}, []
    for row in rows:
        method_options = {} if row in CONTROLS else dict(ctx.method_options[row])
        result = model_randomization(ctx.predictor.keras_model, images, _method(row), similarity=(measure,),
                                     targets=targets, random_state=ctx.seed, **options, **method_options)
        scores = result.scores[measure]  # (layers, images)
        values[row] = _full(ctx, scores[-1])
        mean, low, high = mean_interval(scores, axis=1)
        curve_rows[row] = {"mean": mean.tolist(), "low": low.tolist(), "high": high.tolist()}
        layers = list(result.layers)
        if row in CONTROLS:  # its curve is flat at 1 by construction: in data["curves"], not drawn alone
            continue
        figures.append((f"randomization_{row}", f"Model randomisation: {row}", result,
                        f"{measure} similarity to the trained model's map as layers are re-initialised "
                        f"({options.get('mode', 'cascading')}, from the output down)."))
    ctx.curves["randomization"] = {"x": layers, "xlabel": "layers re-initialised (cumulative, from the output)",
                                   "rows": curve_rows}
    return CheckOutput(values, figures)


def _data_randomization(ctx: Context, rows: list, options: dict) -> CheckOutput:
    options = dict(options)
    measure = options.pop("measure")
    train_fn, train_images, train_labels = cast(tuple, ctx.train)  # a check that needs training runs with it
    images, targets = ctx.images[ctx.rerun_images], ctx.targets[ctx.rerun_images]
    values = {}
    for row in rows:
        method_options = {} if row in CONTROLS else dict(ctx.method_options[row])
        result = data_randomization(train_fn, train_images, train_labels, _method(row), explain_images=images,
                                    model=ctx.predictor.keras_model, similarity=(measure,), targets=targets,
                                    random_state=ctx.seed, **options, **method_options)
        values[row] = _full(ctx, result.scores[measure].values[_method(row)])
    return CheckOutput(values)


_CHECKS = [
    Check("deletion_auc", "Deletion AUC", "faithfulness", False, "arXiv 1806.07421",
          "Area under the target's probability as pixels are set to 0, most relevant first (RISE).",
          _curve_check(deletion), defaults={"features": "pixels", "score": "probability"}),
    Check("insertion_auc", "Insertion AUC", "faithfulness", True, "arXiv 1806.07421",
          "Area under the target's probability as pixels are revealed on a blurred copy, most relevant first.",
          _curve_check(insertion), defaults={"features": "pixels", "score": "probability"}),
    Check("sensitivity_n", "Sensitivity-n (mean over n)", "faithfulness", True, "arXiv 1711.06104",
          "Pearson correlation between the attributions summed over random feature subsets and the logit drop "
          "when they are removed, averaged over the subset sizes n.",
          _sensitivity, defaults={"points": 8, "num_subsets": 30, "features": "segments", "score": "logit"}),
    Check("faithfulness_correlation", "Faithfulness correlation", "faithfulness", True, "arXiv 2005.00631",
          "Sensitivity-n at one subset size (20% of the features).",
          _shared(faithfulness_correlation),
          defaults={"subset_size": 0.2, "num_subsets": 30, "features": "segments", "score": "logit"}),
    Check("monotonicity_correlation", "Monotonicity correlation", "faithfulness", True, "arXiv 2007.07584",
          "Spearman correlation between |attribution| and the squared score change of randomising each superpixel.",
          _shared(monotonicity_correlation), defaults={"num_draws": 3, "features": "segments"}),
    Check("road", "ROAD (LeRF - MoRF) / 2", "faithfulness", True, "arXiv 2202.00449",
          "Probability gap between removing the least and the most relevant pixels, imputed by noisy linear "
          "imputation, averaged over the percentages.",
          _road, defaults={"percentiles": (20, 40, 60, 80), "features": "pixels"}),
    Check("sparseness", "Sparseness (Gini)", "complexity", True, "arXiv 1810.06583",
          "Gini index of |attribution| over pixels: 1 when one pixel holds everything.",
          _model_free(sparseness), defaults={"features": "pixels"}),
    Check("complexity", "Complexity (entropy)", "complexity", False, "arXiv 2005.00631",
          "Entropy (nats) of each pixel's share of |attribution|.",
          _model_free(complexity), defaults={"features": "pixels"}),
    Check("pointing_game", "Pointing game", "localisation", True, "arXiv 1608.00507",
          "Does the map's maximum fall on the object's mask?",
          _localisation(pointing_game), needs_masks=True, defaults={"tolerance": 0.0}),
    Check("relevance_mass", "Relevance mass", "localisation", True, "arXiv 2003.07258",
          "Share of the positive relevance inside the object's mask.",
          _localisation(relevance_mass), needs_masks=True),
    Check("max_sensitivity", "Max-sensitivity", "robustness", False, "arXiv 1901.09392",
          "Largest relative change of the map under uniform input noise (2% of the value range).",
          _rerun(max_sensitivity), reruns_method=True, controls=("edge",),
          defaults={"radius": 0.02, "num_samples": 3}),
    Check("random_logit", "Random logit (SSIM)", "randomisation", False, "arXiv 1912.09818",
          "SSIM between the maps of the explained class and of a random other class.",
          _rerun(random_logit), reruns_method=True, controls=("edge",), defaults={"similarity": "ssim"}),
    Check("model_randomization", "Model randomisation (all layers)", "randomisation", False, "arXiv 1810.03292",
          "Spearman rank correlation of |map| with the trained model's after every layer is re-initialised "
          "(cascading, from the output down).",
          _randomization, reruns_method=True, needs_keras=True, controls=("edge",),
          defaults={"mode": "cascading", "measure": "spearman_abs"}),
    Check("data_randomization", "Data randomisation", "randomisation", False, "arXiv 1810.03292",
          "Spearman rank correlation of |map| with that of the same architecture trained on permuted labels.",
          _data_randomization, reruns_method=True, needs_keras=True, needs_training=True, controls=("edge",),
          defaults={"measure": "spearman_abs", "min_train_accuracy": 0.9}),
]

#: Every check, by name, in the report's column order.
CHECKS = {check.name: check for check in _CHECKS}
