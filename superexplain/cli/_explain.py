"""`superexplain explain`: explain a saved model's predictions on image files; PNG, npz or JSON per image and target."""
from __future__ import annotations

import argparse
import dataclasses
import os
import re

import numpy as np

from ._common import (
    GRADIENT_METHODS,
    METHOD_CHOICES,
    PERTURBATION_METHODS,
    check_inputs,
    check_target_names,
    finite_or_none,
    import_keras,
    load_model,
    model_batch_size,
    parse_list,
    parse_targets,
    read_inputs,
    safe_name,
    targets_for,
    tune_batch_size,
    wrap,
    write_json,
)

EXAMPLES = """\
examples:
  superexplain explain model.keras cat.jpg --method gradcam
  superexplain explain model.keras photos/ --method lime --num-samples 2000 --seed 0 --out out/
  superexplain explain model.keras "photos/*.png" --method gradcam++ --layer conv5_block3_out --top-labels 3
  superexplain explain resnet.keras cat.jpg --size 224x224 --preprocess caffe --labels imagenet.txt \\
      --target "tabby cat" --format png,npz
  superexplain explain mobilenet.keras cat.jpg \\
      --preprocess keras.applications.mobilenet_v2:preprocess_input --method scorecam --json

The PNG shows the original image under the explanation; the Explanation itself (--format npz) holds
the preprocessed input the model saw. Reload an .npz with superexplain.Explanation.load(path).
"""

FORMATS = ("png", "npz", "json")
#: Methods that draw random numbers: explained one image per call, each with the run's seed.
SAMPLING_METHODS = ("lime", "kernelshap", "rise")
KINDS = ("heatmap", "block", "outline")


def add_parser(subparsers, common, model_input, formatter_class) -> None:
    parser = subparsers.add_parser(
        "explain", parents=[common, model_input], formatter_class=formatter_class, epilog=EXAMPLES,
        help="explain a saved Keras model's predictions on image files",
        description=wrap(
            "Explain what MODEL looked at in each IMAGE. MODEL is a .keras/.h5 file or a SavedModel "
            "directory; IMAGE may be files, directories or glob patterns (unreadable files inside a "
            "directory or glob are skipped with a warning)."))
    parser.add_argument("model", metavar="MODEL", help=".keras/.h5 file or SavedModel directory")
    parser.add_argument("images", metavar="IMAGE", nargs="+", help="image files, directories or glob patterns")
    parser.add_argument("--method", default="gradcam", choices=METHOD_CHOICES, help="explanation method")
    targets = parser.add_mutually_exclusive_group()
    targets.add_argument("--target", action="append", metavar="T",
                         help="class to explain, an index or a name from --labels (repeat for several); "
                              "default: each image's top class")
    targets.add_argument("--top-labels", type=int, metavar="K", help="explain each image's K best classes")
    parser.add_argument("--seed", type=int, metavar="S",
                        help="random seed of the sampling methods (lime, kernelshap, rise), the same for every image "
                             "(default: a fresh one, recorded in the outputs)")
    parser.add_argument("--out", default="superexplain-out", metavar="DIR", help="folder for the outputs")
    parser.add_argument("--format", default="png", metavar="LIST",
                        help="comma-separated outputs per image and target: png (plot), npz (the Explanation), json")
    parser.add_argument("--kind", choices=KINDS,
                        help="plot kind (default: heatmap for gradient methods and rise, block for lime, "
                             "kernelshap and occlusion)")
    gradient = parser.add_argument_group("gradient methods (" + ", ".join(GRADIENT_METHODS) + ")")
    gradient.add_argument("--layer", metavar="L",
                          help="layer to explain: a name, an index or a nested path like backbone/conv5 "
                               "(default: the last layer with a spatial output)")
    parser.add_argument("--backend", default="local", choices=("local", "ray"),
                        help="local: this process; ray: superexplain.explain_dataset on Ray Data workers (needs "
                             "pip install 'superexplain[ray]'; writes a resumable run folder with index.jsonl)")
    parser.add_argument("--overwrite", action="store_true",
                        help="--backend ray: delete the run already in --out (its run.json, index.jsonl and "
                             "explanation files) and start afresh, instead of resuming it; a resume with other "
                             "images, another model or other settings is refused without it")
    perturbation = parser.add_argument_group("perturbation methods (" + ", ".join(PERTURBATION_METHODS) + ")")
    perturbation.add_argument("--num-samples", type=int, metavar="N",
                              help="perturbed samples (lime, kernelshap; default 1000) or masks (rise)")
    perturbation.add_argument("--segments", choices=("slic", "quickshift", "felzenszwalb", "watershed", "grid"),
                              metavar="ALGO", help="superpixel algorithm: slic (default), quickshift, felzenszwalb, "
                                                   "watershed or grid")
    perturbation.add_argument("--n-segments", type=int, metavar="K", help="superpixels asked for (slic, grid; default 50)")
    perturbation.add_argument("--compactness", type=float, metavar="W", help="SLIC compactness (default 10)")
    parser.set_defaults(run=run)


def layer_option(layer: str | None):
    """``--layer 3`` is an index, ``--layer -2`` counts from the end, anything else is a name or path."""
    if layer is None:
        return None
    return int(layer) if re.fullmatch(r"-?\d+", layer.strip()) else layer


def method_options(method: str, *, layer=None, num_samples=None, segments=None, n_segments=None,
                   compactness=None) -> dict:
    """The library options for a method from the command-line flags; flags a method does not use are errors."""
    options: dict = {}
    given = {"--layer": layer, "--num-samples": num_samples, "--segments": segments, "--n-segments": n_segments,
             "--compactness": compactness}
    allowed = {"--layer"} if method in GRADIENT_METHODS else {"--segments", "--n-segments", "--compactness"}
    if method in ("lime", "kernelshap", "rise"):
        allowed.add("--num-samples")
    if method == "rise":
        allowed -= {"--segments", "--n-segments", "--compactness"}
    unused = [flag for flag, value in given.items() if value is not None and flag not in allowed]
    if unused:
        raise ValueError(f"{', '.join(unused)} does not apply to --method {method}")
    if layer is not None:
        options["layer"] = layer_option(layer)
    if num_samples is not None:
        options["num_masks" if method == "rise" else "num_samples"] = num_samples
    if segments is not None or n_segments is not None or compactness is not None:
        options.update(segmentation_option(segments or "slic", n_segments, compactness))
    return options


def segmentation_option(algorithm: str, n_segments: int | None, compactness: float | None) -> dict:
    """The perturbation methods' ``segmentation`` option for --segments/--n-segments/--compactness."""
    settings: dict = {}
    if n_segments is not None:
        if algorithm not in ("slic", "grid"):
            raise ValueError(f"--n-segments applies to --segments slic or grid, not {algorithm}")
        settings["n_segments"] = n_segments
    if compactness is not None:
        if algorithm != "slic":
            raise ValueError(f"--compactness applies to --segments slic, not {algorithm}")
        settings["compactness"] = compactness
    return {"segmentation": {"method": algorithm, **settings}}


def display_copy(explanation, display: np.ndarray):
    """The explanation with the original image (before preprocessing) in place of the model input, for plots."""
    return dataclasses.replace(explanation, image=display)


def render_png(explanation, display: np.ndarray, path: str, kind: str | None = None,
               segmentation: dict | None = None) -> str:
    """Plot an explanation over its original image into a PNG.

    A block or outline plot of a gradient explanation needs superpixels: they are computed on the
    original image with ``segmentation`` (default SLIC, 50 segments).
    """
    import matplotlib.pyplot as plt

    import superexplain

    from ._common import save_figure

    shown = display_copy(explanation, display)
    segments = None
    if kind in ("block", "outline") and explanation.segments is None:
        from superexplain.segmentation import segment

        settings = dict(segmentation or {"method": "slic"})
        segments = segment(display, settings.pop("method"), **settings)
    figure, axes = plt.subplots(figsize=(4.2, 4.2))
    superexplain.plot(shown, kind=kind, ax=axes, segments=segments)
    return save_figure(figure, path)


def explanation_record(explanation) -> dict:
    """The JSON form of an Explanation (maps as nested lists)."""
    record = {
        "method": explanation.method,
        "target": explanation.target,
        "target_name": explanation.target_name,
        "score": finite_or_none(explanation.score),
        "params": explanation.params,
        "heatmap": explanation.heatmap,
    }
    for name in ("feature_map", "segments", "weights", "weight_errors"):
        value = getattr(explanation, name)
        if value is not None:
            record[name] = value
    for name in ("intercept", "local_prediction", "local_fit"):
        value = getattr(explanation, name)
        if value is not None:
            record[name] = finite_or_none(value)
    return record


def output_stems(paths: list[str]) -> list[str]:
    """File-name stems per image, made unique when two images share a name."""
    stems = [safe_name(os.path.splitext(os.path.basename(path))[0]) for path in paths]
    if len(set(stems)) == len(stems):
        return stems
    return [f"{index:04d}_{stem}" for index, stem in enumerate(stems)]


def run(args: argparse.Namespace, summary) -> None:
    import superexplain
    from superexplain._validation import resolve_seed
    from superexplain.models import as_predictor

    formats = parse_list(args.format, str, "--format")
    unknown = [name for name in formats if name not in FORMATS]
    if unknown:
        raise ValueError(f"--format must be a comma-separated list of {', '.join(FORMATS)}; got {args.format!r}")
    segment_flags = {"segments": args.segments, "n_segments": args.n_segments, "compactness": args.compactness}
    plot_segmentation = None
    if args.method in GRADIENT_METHODS and args.kind in ("block", "outline"):
        # the superpixel flags shape the plot's blocks, not the (segment-free) gradient method
        plot_segmentation = segmentation_option(args.segments or "slic", args.n_segments,
                                                args.compactness)["segmentation"]
        segment_flags = {}
    options = method_options(args.method, layer=args.layer, num_samples=args.num_samples, **segment_flags)
    target = parse_targets(args.target)
    class_names = check_inputs(args.images, args.labels, target)
    if args.overwrite and args.backend != "ray":
        raise ValueError("--overwrite is for --backend ray, whose --out is a resumable run folder; --backend local "
                         "writes its files afresh on every run")
    if args.backend == "ray":
        if args.batch_size is not None:
            raise ValueError("--batch-size is for --backend local; with --backend ray the dataset runner sets "
                             "the batches (see superexplain.explain_dataset)")
        run_on_ray(args, summary, formats, target, class_names, options, plot_segmentation)
        return
    with summary.timed("load_model"):
        model = load_model(args.model, args.debug)
        predictor = as_predictor(model, class_names=class_names, output=args.output,
                                 batch_size=model_batch_size(args.batch_size))
    check_target_names(target, predictor.class_names)
    verbose = 0 if args.quiet else 1
    seed = resolve_seed(args.seed, "--seed")  # None: one fresh seed for the whole run, recorded in the outputs
    os.makedirs(args.out, exist_ok=True)
    records, first = [], True
    for batch in read_inputs(args.images, predictor.input_shape, args.size, args.preprocess,
                             model_batch_size(args.batch_size)):
        if first:  # --batch-size auto: timed once, on the first image as the model sees it
            predictor, first = tune_batch_size(predictor, args.batch_size, batch.inputs[0], summary), False
        # Sampling methods explain one image per call with the run's seed, so an image's explanation
        # is the one `superexplain.explain(model, image, random_state=seed)` gives, whatever the batch.
        step = 1 if args.method in SAMPLING_METHODS else len(batch)
        explanations = []
        with summary.timed("explain"):
            for start in range(0, len(batch), step):
                found = superexplain.explain(predictor, batch.inputs[start:start + step], method=args.method,
                                             target=targets_for(target, min(step, len(batch) - start)),
                                             top_labels=args.top_labels, random_state=seed, verbose=verbose,
                                             **options)
                explanations.extend([found] if isinstance(found, superexplain.Explanation) else found)
        per_image = len(explanations) // len(batch)
        stems = output_stems(batch.paths)
        with summary.timed("write"):
            for index, explanation in enumerate(explanations):
                image_index = index // per_image
                label = safe_name(explanation.target_name or f"class{explanation.target}")
                base = os.path.join(args.out, f"{stems[image_index]}_{safe_name(args.method)}_{label}")
                files = []
                if "png" in formats:
                    files.append(summary.file(render_png(explanation, batch.display[image_index], base + ".png",
                                                         args.kind, plot_segmentation), "plot"))
                if "npz" in formats:
                    files.append(summary.file(explanation.save(base + ".npz"), "explanation"))
                if "json" in formats:
                    files.append(summary.file(write_json(explanation_record(explanation), base + ".json"), "json"))
                records.append({"image": batch.paths[image_index], "target": explanation.target,
                                "target_name": explanation.target_name, "score": finite_or_none(explanation.score),
                                "score_kind": explanation.params.get("score_kind"),
                                "seed": explanation.params.get("seed"), "files": files})
    summary.data.update(model=args.model, method=args.method, out=args.out, explanations=records)
    summary.note(f"explained {len({r['image'] for r in records})} image(s) with {args.method}: "
                 f"{len(records)} explanation(s) in {args.out}")


def run_on_ray(args: argparse.Namespace, summary, formats: list, target: list | None, class_names, options: dict,
               plot_segmentation: dict | None = None) -> None:
    """``--backend ray``: the images go through :func:`superexplain.explain_dataset` on Ray Data workers.

    The run folder (--out) holds one Explanation file per image and target and an ``index.jsonl``;
    running the same command again resumes it (refused, with what changed, when the images, the
    model or the settings differ; ``--overwrite`` starts afresh). PNGs, when asked for, are drawn
    afterwards here.
    """
    import importlib.util

    from ._common import check_model_file
    from ..image_files import find_images, parse_size, read_image

    if importlib.util.find_spec("ray") is None:
        raise ImportError("--backend ray needs Ray, which is not installed; install it with "
                          "pip install 'superexplain[ray]' (or use --backend local)")
    if "json" in formats:
        raise ValueError("--backend ray writes npz Explanation files; --format json is for --backend local")
    if not os.path.exists(args.model):
        raise FileNotFoundError(f"model {args.model!r} does not exist")
    check_model_file(args.model)
    paths, _ = find_images(args.images)
    import_keras(args.debug)
    import superexplain

    if target is not None:
        target = target[0] if len(target) == 1 else targets_for(target, len(paths))
    if class_names is not None:
        options = dict(options, class_names=class_names)
    if args.output is not None:
        options = dict(options, output=args.output)
    verbose = 0 if args.quiet else 1
    with summary.timed("explain"):
        result = superexplain.explain_dataset(
            args.model, paths, method=args.method, out=args.out, backend="ray", targets=target,
            top_labels=args.top_labels, random_state=args.seed, image_size=parse_size(args.size) if args.size else None,
            preprocess=args.preprocess, overwrite=args.overwrite, verbose=verbose, **options)
    records = []
    with summary.timed("write"):
        for record in result.done:
            files = [summary.file(os.path.join(result.out, record["file"]), "explanation")]
            if "png" in formats:
                explanation = superexplain.Explanation.load(files[0])
                display = read_image(paths[record["index"]], channels=3, size=explanation.heatmap.shape).astype(
                    np.float32) / 255.0
                if explanation.image.shape[-1] == 1:
                    display = display.mean(axis=-1, keepdims=True)
                files.append(summary.file(render_png(explanation, display, files[0][:-4] + ".png", args.kind,
                                                     plot_segmentation), "plot"))
            records.append({"image": paths[record["index"]], "target": record["target"],
                            "target_name": record.get("target_name"), "score": finite_or_none(record.get("score")),
                            "seed": record.get("seed"), "files": files})
    summary.data.update(model=args.model, method=args.method, out=result.out, backend="ray", explanations=records,
                        failed=[{"image": paths[r["index"]], "error": r.get("error")} for r in result.failed])
    summary.note(f"explained {len({r['image'] for r in records})} image(s) with {args.method} on Ray: "
                 f"{len(records)} explanation(s) in {result.out} (index.jsonl; rerun to resume)")
    if result.failed:
        summary.note(f"{len(result.failed)} image(s) failed; see {os.path.join(result.out, 'index.jsonl')}")
