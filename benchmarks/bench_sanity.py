"""Research reproduction of issue 8: Sensitivity-n, randomisation, deletion/insertion/ROAD, pointing, agreement.

On the demo model and planted-shapes data: Sensitivity-n curves on superpixels for every method
and the random map; cascading model-randomisation curves; deletion / insertion / ROAD / pointing /
relevance-mass tables; gradient-vs-perturbation agreement. Then Ancona et al.'s experiment on a
small CNN trained on scikit-learn's digits (upsampled to 32x32): Sensitivity-n on pixels for
Occlusion-1, gradient x input, integrated gradients, KernelSHAP and a random map. Figures are
written into docs/ by the full run (``quick=True`` writes them to a temporary folder).
"""
from __future__ import annotations

import os
import tempfile
import time

import numpy as np

from ._common import table

DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs")

GRADIENT = ("gradcam", "gradient_input", "integrated_gradients", "saliency", "smoothgrad", "guided_backprop")
PERTURBATION = ("lime", "kernelshap", "occlusion")


def _settings(quick: bool) -> dict:
    if quick:
        return dict(images=2, subsets=10, ns=[1, 4, 16], samples=100, random_images=1, random_samples=60,
                    digits_train=300, digits_epochs=1, digits_images=1, digits_ns=[1, 16, 256],
                    shap_samples=256, step=256, random_layers=["predictions", "last_conv", "conv1"])
    return dict(images=12, subsets=100, ns=None, samples=1000, random_images=6, random_samples=300,
                digits_train=1500, digits_epochs=15, digits_images=8, digits_ns=None, shap_samples=2048, step=None,
                random_layers=None)


def _explain_all(model, images, segments, settings):
    import superexplain
    from superexplain.metrics import edge_map, random_map

    out = {}
    for method in GRADIENT:
        options = {"steps": 128} if method == "integrated_gradients" else {}
        out[method] = superexplain.explain(model, images, method=method, verbose=0, random_state=0, **options)
    common = dict(verbose=0, random_state=0, hide_color=0.0, score="logit")
    out["lime"] = superexplain.explain(model, images, method="lime", segments=segments,
                                       num_samples=settings["samples"], **common)
    out["kernelshap"] = superexplain.explain(model, images, method="kernelshap", segments=segments,
                                             num_samples=settings["samples"], **common)
    out["occlusion"] = superexplain.explain(model, images, method="occlusion", segments=segments, verbose=0,
                                            hide_color=0.0, score="logit")
    out["random"] = [random_map(e.image, target=e.target, random_state=i) for i, e in enumerate(out["gradcam"])]
    # Per superpixel, a per-pixel random map summed over a segment grows with the segment's size;
    # the fair random control there draws one value per segment.
    out["random_segments"] = [random_map(e, random_state=i) for i, e in enumerate(out["lime"])]
    out["edge"] = [edge_map(e) for e in out["gradcam"]]
    return out


def _demo_sensitivity(model, images, segments, explanations, settings, figures):
    import matplotlib.pyplot as plt

    from superexplain.metrics import sensitivity_n

    chosen = ("gradcam", "lime", "kernelshap", "occlusion", "gradient_input", "integrated_gradients",
              "random_segments")
    rows, results = [], []
    for i in range(len(images)):
        results.append(sensitivity_n(model, images[i], {m: explanations[m][i] for m in chosen},
                                     ns=settings["ns"], num_subsets=settings["subsets"], segments=segments[i],
                                     random_state=i))
    ns = results[0].ns
    per_method = {m: np.stack([r.correlations[m] for r in results]) for m in chosen}
    from superexplain.metrics.results import SensitivityResult

    pooled = SensitivityResult(ns=ns, per_method=per_method, single_image=False,
                               num_features=[r.num_features for r in results], params=results[0].params)
    figure, ax = plt.subplots(figsize=(6, 4))
    pooled.plot(ax=ax)
    ax.set_title(f"Sensitivity-n on SLIC superpixels, demo CNN ({len(images)} images)")
    figure.tight_layout()
    figure.savefig(os.path.join(figures, "sanity_sensitivity_n.png"), dpi=110)
    plt.close(figure)
    picks = sorted({0, len(ns) // 4, len(ns) // 2, len(ns) - 1})
    for m in chosen:
        mean, low, high = pooled.summary()[m]
        rows.append([m] + [f"{mean[j]:.2f} [{low[j]:.2f}, {high[j]:.2f}]" for j in picks])
    return table(["method"] + [f"n={ns[j]}" for j in picks], rows)


def _demo_tables(model, images, masks, explanations, step):
    from superexplain.metrics import deletion, insertion, pointing_game, relevance_mass, road

    rows = []
    for method, expl in explanations.items():
        if method == "random_segments":
            continue
        rows.append([
            method,
            deletion(model, images, expl, step=step, random_state=0).auc,
            deletion(model, images, expl, step=step, baseline="blur", random_state=0).auc,
            insertion(model, images, expl, step=step, random_state=0).auc,
            road(model, images, expl, random_state=0).combined,
            pointing_game(expl, masks).score,
            pointing_game(expl, masks, tolerance=8).score,
            relevance_mass(expl, masks).score,
        ])
    rows.sort(key=lambda row: -row[3])
    header = ["method", "deletion (0) ↓", "deletion (blur) ↓", "insertion (blur) ↑", "ROAD combined ↑",
              "pointing ↑", "pointing ±8px ↑", "relevance mass ↑"]
    return table(header, rows)


def _agreement_table(explanations, segments):
    from superexplain.metrics import agreement

    pairs = [("gradcam", "lime"), ("gradcam", "occlusion"), ("gradient_input", "lime"),
             ("integrated_gradients", "kernelshap"), ("lime", "kernelshap"), ("gradcam", "random_segments")]
    rows = []
    for a, b in pairs:
        results = [agreement(x, y, segments=s) for x, y, s in zip(explanations[a], explanations[b], segments)]
        mean = lambda level, key: float(np.mean([getattr(r, level)[key] for r in results]))
        rows.append([f"{a} vs {b}", mean("pixel", "spearman"), mean("pixel", "ssim"), mean("segment", "spearman"),
                     mean("segment", "spearman_abs"), mean("segment", "topk")])
    return table(["pair", "pixel Spearman", "pixel SSIM", "superpixel Spearman", "superpixel |Spearman|",
                  "superpixel top-10% overlap"], rows)


def _randomization(model, images, settings, figures):
    import matplotlib.pyplot as plt

    from superexplain.sanity import model_randomization

    methods = ("gradcam", "lime", "saliency", "smoothgrad", "integrated_gradients", "guided_backprop", "edge")
    rows, results = [], {}
    for method in methods:
        options = {"num_samples": settings["random_samples"]} if method == "lime" else {}
        results[method] = model_randomization(model, images, method=method, mode="cascading", random_state=0,
                                              layers=settings["random_layers"], **options)
        scores = results[method].scores
        rows.append([method] + [float(scores["spearman_abs"][step].mean()) for step in (0, 1, -1)]
                    + [float(scores["ssim"][-1].mean()), float(scores["hog"][-1].mean())])
    layers = results["gradcam"].layers
    figure, ax = plt.subplots(figsize=(7, 4))
    x = np.arange(len(layers) + 1)
    for method, result in results.items():
        ax.plot(x, np.concatenate([[1.0], result.scores["spearman_abs"].mean(axis=1)]), marker="o", markersize=3,
                label=method, linestyle="--" if method == "edge" else "-")
    ax.set_xticks(x, ["trained"] + layers, rotation=30, ha="right", fontsize="small")
    ax.set_ylabel("Spearman |rank| correlation to original")
    ax.set_ylim(-0.3, 1.05)
    ax.set_title(f"Cascading randomisation, demo CNN ({len(images)} images)")
    ax.legend(fontsize="small", ncol=2)
    figure.tight_layout()
    figure.savefig(os.path.join(figures, "sanity_randomization.png"), dpi=110)
    plt.close(figure)
    for method in ("gradcam", "guided_backprop"):
        figure = results[method].plot()
        figure.savefig(os.path.join(figures, f"sanity_randomization_{method}.png"), dpi=100)
        plt.close(figure)
    header = ["method", f"after {layers[0]}", f"after {layers[1]}", "all layers", "SSIM all", "HOG all"]
    return table(header, rows)


def _digits_model(settings):
    from ._digits import digits_data, train_digits

    images, labels, order = digits_data()
    train, test = order[:settings["digits_train"]], order[1500:]
    model = train_digits(images[train], labels[train], 0, settings["digits_epochs"])
    accuracy = float(model.evaluate(images[test], labels[test], verbose=0)[1])
    return model, images[test], accuracy


def _digits_sensitivity(settings, figures):
    import matplotlib.pyplot as plt

    import superexplain
    from superexplain.metrics import random_map, sensitivity_n

    model, images, accuracy = _digits_model(settings)
    images = images[:settings["digits_images"]]
    pixels = np.arange(32 * 32).reshape(32, 32)
    explanations = {
        "occlusion_1": superexplain.explain(model, images, method="occlusion", window=1, stride=1, hide_color=0.0,
                                            score="logit", verbose=0),
        "gradient_input": superexplain.explain(model, images, method="gradient_input", verbose=0),
        "integrated_gradients": superexplain.explain(model, images, method="integrated_gradients", steps=128,
                                                     verbose=0),
        "kernelshap": superexplain.explain(model, images, method="kernelshap", segments=pixels, hide_color=0.0,
                                           score="logit", num_samples=settings["shap_samples"], random_state=0,
                                           verbose=0),
    }
    explanations["random"] = [random_map(e.image, target=e.target, random_state=i)
                              for i, e in enumerate(explanations["gradient_input"])]
    result = sensitivity_n(model, images, explanations, ns=settings["digits_ns"], num_subsets=settings["subsets"],
                           features="pixels", random_state=0)
    figure, ax = plt.subplots(figsize=(6, 4))
    result.plot(ax=ax)
    ax.set_title(f"Sensitivity-n on pixels, digits CNN (test accuracy {accuracy:.3f})")
    figure.tight_layout()
    figure.savefig(os.path.join(figures, "sanity_digits_sensitivity_n.png"), dpi=110)
    plt.close(figure)
    summary = result.summary()
    ns = result.ns
    picks = sorted({0, 1, len(ns) // 2, len(ns) - 1})
    rows = [[m] + [f"{summary[m][0][j]:.2f}" for j in picks] for m in explanations]
    return table(["method"] + [f"n={ns[j]}" for j in picks], rows), summary, ns, accuracy


def _digits_findings(summary, ns) -> str:
    mean = {m: values[0] for m, values in summary.items()}
    large = ns >= max(4, ns[-1] // 8)
    lines = []
    lines.append(f"- Occlusion-1 at n=1: {mean['occlusion_1'][0]:.3f} (the paper: satisfies Sensitivity-1 by "
                 "construction) -> " + ("holds" if mean["occlusion_1"][0] > 0.99 else "does not hold"))
    best_small = max(mean, key=lambda m: mean[m][0])
    lines.append(f"- Best method at n=1: {best_small} (the paper: Occlusion-1) -> "
                 + ("holds" if best_small == "occlusion_1" else "does not hold"))
    big = {m: float(np.nanmean(mean[m][large])) for m in mean}
    contenders = ("occlusion_1", "gradient_input", "integrated_gradients")
    best_large = max(contenders, key=big.get)
    best_last = max(contenders, key=lambda m: mean[m][-1])
    lines.append(f"- Mean correlation for n >= {int(ns[large][0])}: "
                 + ", ".join(f"{m} {v:.2f}" for m, v in big.items())
                 + f"; at the largest n={int(ns[-1])}: "
                 + ", ".join(f"{m} {mean[m][-1]:.2f}" for m in mean)
                 + ". The paper: IG/DeepLIFT better than Occlusion-1 at large n -> "
                 + ("holds" if best_large == "integrated_gradients" else
                    "holds only at the largest n" if best_last == "integrated_gradients" else "does not hold"))
    falls = all(mean[m][-1] < mean[m][0] for m in ("occlusion_1", "gradient_input", "integrated_gradients"))
    lines.append("- Correlation falls from n=1 to the largest n for every gradient/occlusion method (the paper: "
                 "yes) -> " + ("holds" if falls else "does not hold"))
    lines.append(f"- Random map: mean {float(np.nanmean(mean['random'])):.2f} over n (expected ~0)")
    return "\n".join(lines)


def run(quick: bool = False) -> str:
    import superexplain  # noqa: F401  (fail early if the package is missing)
    from superexplain.datasets import load_demo_model, make_shapes
    from superexplain.segmentation import segment

    settings = _settings(quick)
    figures = tempfile.mkdtemp(prefix="bench_sanity_") if quick else DOCS
    os.makedirs(figures, exist_ok=True)
    started = time.perf_counter()
    model = load_demo_model()
    data = make_shapes(settings["images"], seed=2024)
    images, masks = data.images, data.masks
    segments = [segment(image) for image in images]
    timings = {}
    tick = time.perf_counter()
    explanations = _explain_all(model, images, segments, settings)
    timings["explanations"] = time.perf_counter() - tick
    tick = time.perf_counter()
    sensitivity = _demo_sensitivity(model, images, segments, explanations, settings, figures)
    timings["sensitivity-n"] = time.perf_counter() - tick
    tick = time.perf_counter()
    tables = _demo_tables(model, images, masks, explanations, settings["step"])
    timings["deletion/insertion/ROAD/pointing"] = time.perf_counter() - tick
    tick = time.perf_counter()
    agreement = _agreement_table(explanations, segments)
    timings["agreement"] = time.perf_counter() - tick
    tick = time.perf_counter()
    randomization = _randomization(model, images[:settings["random_images"]], settings, figures)
    timings["randomisation"] = time.perf_counter() - tick
    tick = time.perf_counter()
    digits_table, summary, ns, accuracy = _digits_sensitivity(settings, figures)
    timings["digits"] = time.perf_counter() - tick
    total = time.perf_counter() - started
    where = "docs/" if not quick else f"{figures} (quick run: not docs/)"
    return "\n\n".join([
        "### Sanity checks and evaluation metrics (issue 8)",
        f"Demo CNN, {len(images)} planted-shapes images (seed 2024); LIME/KernelSHAP {settings['samples']} samples "
        "on shared SLIC segments with hide colour 0 and logit scores (the metric's baseline and score); "
        f"Sensitivity-n with {settings['subsets']} subsets per n. Figures in {where}.",
        "#### Sensitivity-n on superpixels (mean [95% bootstrap interval] over images)",
        sensitivity,
        "#### Deletion, insertion (RISE), ROAD and localisation (mean over images; probability of the explained class)",
        tables,
        "#### Gradient vs perturbation agreement (mean over images)",
        agreement,
        f"#### Cascading model randomisation (mean similarity over {settings['random_images']} images)",
        randomization,
        f"#### Digits CNN (load_digits upsampled to 32x32, test accuracy {accuracy:.3f}): Sensitivity-n on pixels, "
        f"{settings['digits_images']} test images",
        digits_table,
        "Against Ancona et al. (arXiv 1711.06104), Figure 4:\n\n" + _digits_findings(summary, ns),
        "Time: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()) + f"; total {total:.0f} s.",
    ])
