"""`superexplain compare`: several methods on the same images -- a side-by-side figure and their agreement."""
from __future__ import annotations

import argparse
import itertools
import os

from ._common import UsageError, parse_list, save_figure, wrap
from ._inputs import check_inputs, check_target_names, parse_targets, read_all_inputs
from ._methods import (METHOD_CHOICES, auto_sampled_methods, images_per_call, method_options, methods_help,
                       methods_with, samples_arg, seed_arg, seeded_methods)
from ._model import load_model, make_predictor, tune_batch_size
from ._render import display_copy
from ._summary import finite_or_none, write_json

EXAMPLES = """\
examples:
  superexplain compare model.keras cat.jpg --methods gradcam,lime
  superexplain compare model.keras cat.jpg --methods gradcam,lime,integrated_gradients --layer conv5_block3_out
  superexplain compare model.keras cat.jpg dog.jpg --methods gradcam,gradcam++,lime,occlusion --seed 0 --out cmp.png
  superexplain compare resnet.keras cat.jpg --size 224x224 --preprocess caffe --methods gradcam,kernelshap --json

Agreement (per pair of methods, per image): Spearman rank correlation of the maps (signed and of their
magnitudes), overlap of the top pixels, SSIM -- at pixel level and per superpixel when a method has
superpixels.
"""


def add_parser(subparsers, common, model_input, formatter_class) -> None:
    parser = subparsers.add_parser(
        "compare", parents=[common, model_input], formatter_class=formatter_class, epilog=EXAMPLES,
        help="explain images with several methods: side-by-side figure and agreement numbers",
        description=wrap(
            "Explain each IMAGE with every method of --methods (same target for all), draw them side "
            "by side (one row per image) and measure how much they agree."))
    parser.add_argument("model", metavar="MODEL", help=".keras/.h5 file or SavedModel directory")
    parser.add_argument("images", metavar="IMAGE", nargs="+", help="image files, directories or glob patterns")
    parser.add_argument("--methods", default="gradcam,lime", metavar="LIST",
                        help=f"comma-separated methods: {methods_help()}")
    parser.add_argument("--target", metavar="T",
                        help="class to explain (index or name from --labels); default: each image's top class")
    parser.add_argument("--num-samples", type=samples_arg, metavar="N",
                        help="random draws per image of the sampling methods "
                             f"({', '.join(methods_with('samples_option'))}); 'auto' (the default of "
                             f"{', '.join(auto_sampled_methods())}): until the explanation is stable")
    parser.add_argument("--seed", type=seed_arg, metavar="S",
                        help=f"seed of the methods that draw random numbers ({', '.join(seeded_methods())}), "
                             "the same for every image (default 0)")
    parser.add_argument("--layer", metavar="L",
                        help=f"layer of the layer methods ({', '.join(methods_with('takes_layer'))}) among --methods: "
                             "a name, an index or a nested path like backbone/conv5 (default: the last layer with a "
                             "spatial output)")
    parser.add_argument("--out", default="superexplain-compare.png", metavar="FILE",
                        help="figure to write; the agreement numbers go beside it as FILE.json")
    parser.set_defaults(run=run)


def agreement_rows(explanations: dict, paths: list[str]) -> list[dict]:
    """Agreement of every pair of methods on every image."""
    from superexplain import metrics

    rows = []
    for (name_a, list_a), (name_b, list_b) in itertools.combinations(explanations.items(), 2):
        for index, (a, b) in enumerate(zip(list_a, list_b)):
            segments = next((e.segments for e in (b, a) if e.segments is not None), None)
            result = metrics.agreement(a, b, segments=segments)
            rows.append({"image": paths[index], "methods": [name_a, name_b],
                         "pixel": {k: finite_or_none(v) for k, v in result.pixel.items()},
                         "segment": None if result.segment is None else
                         {k: finite_or_none(v) for k, v in result.segment.items()}})
    return rows


def run(args: argparse.Namespace, summary) -> None:
    import superexplain

    methods = parse_list(args.methods, str, "--methods")
    unknown = [name for name in methods if name not in METHOD_CHOICES]
    if unknown:
        raise UsageError(f"--methods: unknown method {unknown[0]!r}; choose from {', '.join(METHOD_CHOICES)}")
    if len(set(methods)) != len(methods) or len(methods) < 2:
        raise UsageError(f"--methods needs at least two different methods; got {args.methods!r}")
    sampling, layered = methods_with("samples_option"), methods_with("takes_layer")
    for flag, value, takers in (("--num-samples", args.num_samples, sampling), ("--layer", args.layer, layered),
                                ("--seed", args.seed, seeded_methods())):
        if value is not None and not set(methods) & set(takers):
            raise UsageError(f"{flag} does not apply to --methods {','.join(methods)} "
                             f"(it applies to {', '.join(takers)})")
    options = {name: method_options(name, num_samples=args.num_samples if name in sampling else None,
                                    layer=args.layer if name in layered else None) for name in methods}
    seed = 0 if args.seed is None else args.seed
    target = parse_targets(args.target)
    class_names = check_inputs(args.images, args.labels, target)
    with summary.timed("load_model"):
        predictor = make_predictor(load_model(args.model, args.debug), class_names, args.output, args.batch_size)
    check_target_names(target, predictor.class_names, predictor.num_classes)
    inputs = read_all_inputs(args.images, predictor.input_shape, args.size, args.preprocess)
    predictor = tune_batch_size(predictor, args.batch_size, inputs.inputs[0], summary)
    if target is None:  # every method explains the same class: the top one of each image
        target = [int(row.argmax()) for row in predictor.predict(inputs.inputs)]
    else:
        target = target * len(inputs)
    verbose = 0 if args.quiet else 1
    explanations: dict = {}
    for name in methods:
        # the methods that draw random numbers take one image per call, each with the seed
        step = images_per_call(name) or len(inputs)
        explanations[name] = []
        with summary.timed(name):
            for start in range(0, len(inputs), step):
                result = superexplain.explain(predictor, inputs.inputs[start:start + step], method=name,
                                              target=target[start:start + step], random_state=seed,
                                              verbose=verbose, **options[name])
                explanations[name].extend([result] if isinstance(result, superexplain.Explanation) else result)
    with summary.timed("figure"):
        rows = [[display_copy(explanations[name][i], inputs.display[i]) for name in methods] for i in range(len(inputs))]
        figure_path = save_figure(superexplain.compare(rows if len(rows) > 1 else rows[0]), args.out)
    with summary.timed("agreement"):
        agreement = agreement_rows(explanations, inputs.paths)
    record = {"model": args.model, "methods": methods, "images": inputs.paths,
              "targets": [{"image": path, "target": explanations[methods[0]][i].target,
                           "target_name": explanations[methods[0]][i].target_name,
                           "scores": {name: finite_or_none(explanations[name][i].score) for name in methods}}
                          for i, path in enumerate(inputs.paths)],
              "agreement": agreement}
    json_path = write_json(record, os.path.splitext(args.out)[0] + ".json")
    summary.data.update({key: value for key, value in record.items() if key != "model"})
    summary.file(figure_path, "comparison figure")
    summary.file(json_path, "agreement (JSON)")
    for row in agreement:
        level = row["segment"] or row["pixel"]
        which = "per superpixel" if row["segment"] else "per pixel"
        summary.note(f"{os.path.basename(row['image'])}: {row['methods'][0]} vs {row['methods'][1]} "
                     f"Spearman {_fmt(level.get('spearman'))}, |Spearman| {_fmt(level.get('spearman_abs'))}, "
                     f"top-k overlap {_fmt(level.get('topk'))} ({which})")


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"
