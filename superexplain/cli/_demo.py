"""`superexplain demo`: the main job on the bundled model -- Grad-CAM vs LIME figure, superpixel grid, sanity summary."""
from __future__ import annotations

import argparse
import os

from typing import cast

import numpy as np

from ._common import UsageError, save_figure, wrap
from ._methods import samples_arg
from ._model import import_keras
from ._summary import finite_or_none, write_json

EXAMPLES = """\
examples:
  superexplain demo
  superexplain demo --out results/ --images 8 --num-samples 2000 --seed 1   # a fixed LIME run
  superexplain demo --json

Writes into DIR: comparison.png (each image, its Grad-CAM and its LIME explanation),
superpixels.png (the superpixel-tuning grid of the first image), summary.json and summary.md
(agreement between Grad-CAM and LIME, pointing game against the true object masks, deletion AUC
against a random map) and report/ (the evaluation report of `superexplain evaluate` on these
images: index.html with every check and the controls). Needs no network: the model and the images ship with superexplain.
"""


def add_parser(subparsers, common, model_input, formatter_class) -> None:
    parser = subparsers.add_parser(
        "demo", parents=[common], formatter_class=formatter_class, epilog=EXAMPLES,
        help="run the main job on the bundled demo model and images (start here)",
        description=wrap(
            "Explain the bundled demo CNN (64x64 planted-shapes images, 4 classes) with Grad-CAM and "
            "LIME, and check the explanations against the known object masks."))
    parser.add_argument("--out", default="superexplain-demo", metavar="DIR", help="folder for the outputs")
    parser.add_argument("--images", type=int, default=4, metavar="N", help="number of demo images (one per class first)")
    parser.add_argument("--num-samples", type=samples_arg, default="auto", metavar="N",
                        help="LIME samples per image: 'auto' (the default) stops when the top 5 superpixels are "
                             "stable; an integer runs exactly that many")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the images, LIME and the random map")
    parser.set_defaults(run=run)


def demo_images(count: int, seed: int):
    """``count`` planted-shapes images, cycling through the classes so every class appears early."""
    from superexplain.datasets import CLASS_NAMES, make_shapes

    pool = make_shapes(max(8 * count, 32), seed=seed)
    by_class = [list(np.flatnonzero(pool.labels == label)) for label in range(len(CLASS_NAMES))]
    chosen: list[int] = []
    while len(chosen) < count:
        for indices in by_class:
            if indices and len(chosen) < count:
                chosen.append(int(indices.pop(0)))
    chosen_array = np.asarray(chosen)
    return pool.images[chosen_array], pool.labels[chosen_array], pool.masks[chosen_array]


def _mean(values) -> float | None:
    values = np.asarray(values, dtype=float)
    return finite_or_none(np.nanmean(values)) if values.size else None


def sanity_summary(model, images, masks, gradcam, lime, seed: int) -> dict:
    """Agreement between the two methods, pointing game against the masks, deletion AUC vs a random map."""
    from superexplain import metrics

    agreement = [metrics.agreement(g, l, segments=l.segments) for g, l in zip(gradcam, lime)]
    random_maps = [metrics.random_map(g, random_state=seed + i) for i, g in enumerate(gradcam)]
    result: dict = {"agreement": {}, "pointing_game": {}, "deletion_auc": {}}
    for level in ("pixel", "segment"):
        rows = [getattr(a, level) for a in agreement if getattr(a, level)]
        if rows:
            result["agreement"][level] = {key: _mean([row[key] for row in rows]) for key in rows[0]}
    # Tolerance of one Grad-CAM feature-map cell, as in the evaluation plan: a coarse map cannot do better.
    tolerance = images.shape[1] / gradcam[0].feature_map.shape[0] if gradcam[0].feature_map is not None else 0.0
    for name, explanations in (("gradcam", gradcam), ("lime", lime), ("random", random_maps)):
        pointing = metrics.pointing_game(explanations, masks, tolerance=tolerance)
        result["pointing_game"][name] = finite_or_none(pointing.score)
        # Deletion in LIME's superpixels, the same for every map: removing scattered single pixels
        # would hurt the model more than any ordering and make a random map look good.
        aucs = [metrics.deletion(model, image, explanation, features="segments", segments=segments.segments,
                                 random_state=seed).auc
                for image, explanation, segments in zip(images, explanations, lime)]
        result["deletion_auc"][name] = _mean(aucs)
    result["pointing_tolerance_px"] = float(tolerance)
    result["mask_area_fraction"] = _mean(masks.mean(axis=(1, 2)))
    return result


def markdown(summary: dict) -> str:
    """The sanity summary as a short markdown report."""
    lines = ["# superexplain demo", "",
             f"{summary['images']} planted-shapes images, bundled demo CNN; Grad-CAM and LIME "
             f"({_samples_text(summary)}, seed {summary['seed']}). "
             f"Model accuracy on these images: {summary['accuracy']:.0%}.", ""]
    sanity = summary["sanity"]
    lines += ["## Do Grad-CAM and LIME agree?", "", "| level | " + " | ".join(sanity["agreement"]["pixel"]) + " |",
              "|---|" + "---|" * len(sanity["agreement"]["pixel"])]
    for level, values in sanity["agreement"].items():
        lines.append(f"| {level} | " + " | ".join(_fmt(v) for v in values.values()) + " |")
    lines += ["", "Spearman: rank correlation of the two maps (abs: of their magnitudes); topk: overlap of the "
              "most relevant pixels or superpixels; ssim: structural similarity. Per-superpixel values compare "
              "the methods in LIME's own feature space.", "",
              "## Are they right, and better than chance?", "",
              "| map | pointing game (higher is better) | deletion AUC (lower is better) |", "|---|---|---|"]
    for name in ("gradcam", "lime", "random"):
        lines.append(f"| {name} | {_fmt(sanity['pointing_game'][name])} | {_fmt(sanity['deletion_auc'][name])} |")
    lines += ["", "Every check (faithfulness, robustness, localisation, complexity, randomisation) of both methods, "
              "with the random-map and edge-map controls beside: [report/index.html](report/index.html).", ""]
    lines += ["", f"Pointing game: is the map's maximum on the true object, within "
              f"{sanity['pointing_tolerance_px']:.0f} px (one Grad-CAM cell)? The objects cover "
              f"{_fmt(sanity['mask_area_fraction'])} of the image on average. "
              "Deletion: the model's probability as the most relevant superpixels (LIME's segments) are set to 0 "
              "first; the table gives the area under that curve (Petsiuk et al., arXiv 1806.07421).", ""]
    return "\n".join(lines)


def _samples_text(summary: dict) -> str:
    used = [e["lime_samples_used"] for e in summary["explanations"]]
    if summary["lime_num_samples"] != "auto":
        return f"{summary['lime_num_samples']} samples"
    return f"num_samples='auto': {min(used)}" + (f"-{max(used)}" if max(used) != min(used) else "") + " samples"


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def run(args: argparse.Namespace, summary) -> None:
    import superexplain
    from superexplain.datasets import load_demo_model

    if args.images < 1:
        raise UsageError(f"--images must be >= 1; got {args.images}")
    if args.num_samples != "auto" and args.num_samples < 2:
        raise UsageError(f"--num-samples must be >= 2; got {args.num_samples}")
    verbose = 0 if args.quiet else 1
    with summary.timed("load_model"):
        import_keras(args.debug)
        model = load_demo_model()
    images, labels, masks = demo_images(args.images, args.seed)
    with summary.timed("gradcam"):
        gradcam = cast(list, superexplain.explain(model, images, method="gradcam", verbose=verbose))  # a batch: a list
    with summary.timed("lime"):
        lime = cast(list, superexplain.explain(model, images, method="lime", num_samples=args.num_samples,
                                               random_state=args.seed, verbose=verbose))
    os.makedirs(args.out, exist_ok=True)
    with summary.timed("figures"):
        pairs = [[g, l] for g, l in zip(gradcam, lime)]
        comparison = save_figure(superexplain.compare(pairs), os.path.join(args.out, "comparison.png"))
        grid = save_figure(superexplain.plot_superpixels_grid(images[0], n_superpixels=[25, 50, 100],
                                                              weight=[5, 10, 20]),
                           os.path.join(args.out, "superpixels.png"))
    with summary.timed("sanity"):
        sanity = sanity_summary(model, images, masks, gradcam, lime, args.seed)
    with summary.timed("report"):
        # the same report as `superexplain evaluate` on these images: every check, the controls beside
        tolerance = sanity["pointing_tolerance_px"]
        report = superexplain.evaluate(
            model, images, methods=("gradcam", "lime"), masks=masks, out=os.path.join(args.out, "report"),
            random_state=args.seed, method_options={"lime": {"num_samples": args.num_samples}},
            check_options={"pointing_game": {"tolerance": tolerance}}, title="superexplain demo", verbose=verbose)
    predicted = np.array([g.target for g in gradcam])
    record = {
        "images": int(len(images)), "seed": args.seed, "lime_num_samples": args.num_samples,
        "accuracy": float(np.mean(predicted == labels)),
        "explanations": [{"image": i, "true_class": int(labels[i]), "gradcam_target": g.target,
                          "target_name": g.target_name, "gradcam_score": finite_or_none(g.score),
                          "lime_score": finite_or_none(l.score), "lime_local_fit": finite_or_none(l.local_fit),
                          "lime_samples_used": int(l.params["samples_used"]),
                          "gradcam_layer": g.params.get("layer")}
                         for i, (g, l) in enumerate(zip(gradcam, lime))],
        "sanity": sanity, "report": os.path.join(args.out, "report", "index.html"), "best": report.best,
    }
    json_path = write_json(record, os.path.join(args.out, "summary.json"))
    md_path = os.path.join(args.out, "summary.md")
    with open(md_path, "w", encoding="utf-8") as handle:
        handle.write(markdown(record))
    summary.data.update(out=args.out, **{key: record[key] for key in ("images", "seed", "accuracy", "sanity")})
    summary.file(comparison, "Grad-CAM vs LIME figure")
    summary.file(grid, "superpixel-tuning grid")
    summary.file(json_path, "sanity summary (JSON)")
    summary.file(md_path, "sanity summary (markdown)")
    summary.file(record["report"], "evaluation report: every check, the controls beside (open in a browser)")
    agree = sanity["agreement"].get("segment") or sanity["agreement"].get("pixel") or {}
    summary.note(f"Grad-CAM vs LIME Spearman {_fmt(agree.get('spearman'))}; pointing game Grad-CAM "
                 f"{_fmt(sanity['pointing_game']['gradcam'])}, LIME {_fmt(sanity['pointing_game']['lime'])}, "
                 f"random {_fmt(sanity['pointing_game']['random'])}")
