"""`superexplain sanity`: model-parameter randomisation curves and Sensitivity-n for a method, to PNG and JSON."""
from __future__ import annotations

import argparse
import os

import numpy as np

from ._common import UsageError, parse_list, save_figure, wrap
from ._inputs import check_inputs, read_all_inputs
from ._methods import (METHOD_CHOICES, auto_sampled_methods, method_options, methods_help, methods_with, option_arg,
                       samples_arg, seed_arg)
from ._model import load_model, make_predictor, tune_batch_size
from ._summary import finite_or_none, write_json

EXAMPLES = """\
examples:
  superexplain sanity model.keras images/ --method gradcam --mode cascading
  superexplain sanity model.keras a.png b.png --method lime --num-samples 500 --mode independent --seed 0
  superexplain sanity model.keras images/ --method gradcam --no-sensitivity --json

Randomisation (Adebayo et al., arXiv 1810.03292): the model's layers are re-initialised with their own
initialisers, from the top down (cascading) or one at a time (independent), on a copy of the model,
and each new explanation is compared with the original one. An explanation that does not change is
not explaining the model. Sensitivity-n (Ancona et al., arXiv 1711.06104): the correlation between the
attribution removed and the drop of the output, for random subsets of n superpixels.
"""

SIMILARITIES = ("spearman_abs", "spearman", "ssim", "hog")


def add_parser(subparsers, common, model_input, formatter_class) -> None:
    parser = subparsers.add_parser(
        "sanity", parents=[common, model_input], formatter_class=formatter_class, epilog=EXAMPLES,
        help="sanity checks of a method on a model: randomisation curves and Sensitivity-n",
        description=wrap(
            "Check that a method's explanations depend on the model's weights (model-parameter "
            "randomisation) and track its output (Sensitivity-n). Writes randomization.png, "
            "sensitivity_n.png and sanity.json into --out."))
    parser.add_argument("model", metavar="MODEL", help=".keras/.h5 file or SavedModel directory")
    parser.add_argument("images", metavar="IMAGE", nargs="+", help="image files, directories or glob patterns")
    parser.add_argument("--method", default="gradcam", choices=METHOD_CHOICES, metavar="NAME",
                        help=f"method to check: {methods_help()}")
    parser.add_argument("--mode", default="cascading", choices=("cascading", "independent"),
                        help="randomise layers cumulatively from the top, or one at a time")
    parser.add_argument("--similarity", default="spearman_abs,spearman,ssim", metavar="LIST",
                        help="comma-separated similarity measures: " + ", ".join(SIMILARITIES))
    parser.add_argument("--num-samples", type=samples_arg, metavar="N",
                        help="random draws per image of the sampling methods "
                             f"({', '.join(methods_with('samples_option'))}); 'auto' (the default of "
                             f"{', '.join(auto_sampled_methods())}): until the explanation is stable")
    parser.add_argument("--option", type=option_arg, action="append", metavar="KEY=VALUE",
                        help="another option of the method (as for superexplain explain --option); "
                             "repeat for several")
    parser.add_argument("--num-subsets", type=int, default=100, metavar="K", help="random subsets per n for Sensitivity-n")
    parser.add_argument("--no-sensitivity", action="store_true", help="skip Sensitivity-n")
    parser.add_argument("--seed", type=seed_arg, default=0, metavar="S",
                        help="seed of re-initialisation, subsets and methods")
    parser.add_argument("--out", default="superexplain-sanity", metavar="DIR", help="folder for the outputs")
    parser.set_defaults(run=run)


def _floats(values) -> list:
    return [finite_or_none(value) for value in np.asarray(values, dtype=float).ravel()]


def run(args: argparse.Namespace, summary) -> None:
    import superexplain
    from superexplain import metrics, sanity

    similarity = parse_list(args.similarity, str, "--similarity")
    unknown = [name for name in similarity if name not in SIMILARITIES]
    if unknown:
        raise UsageError(f"--similarity: unknown measure {unknown[0]!r}; choose from {', '.join(SIMILARITIES)}")
    num_samples = args.num_samples if args.method in methods_with("samples_option") else None
    options = method_options(args.method, num_samples=num_samples, extra=args.option)
    class_names = check_inputs(args.images, args.labels)
    with summary.timed("load_model"):
        model = load_model(args.model, args.debug)
        predictor = make_predictor(model, class_names, args.output, args.batch_size)
    inputs = read_all_inputs(args.images, predictor.input_shape, args.size, args.preprocess)
    predictor = tune_batch_size(predictor, args.batch_size, inputs.inputs[0], summary)
    verbose = 0 if args.quiet else 1
    os.makedirs(args.out, exist_ok=True)
    record: dict = {"model": args.model, "method": args.method, "mode": args.mode, "images": inputs.paths,
                    "seed": args.seed}
    with summary.timed("randomization"):
        randomized = sanity.model_randomization(model, inputs.inputs, method=args.method, mode=args.mode,
                                                similarity=tuple(similarity), random_state=args.seed,
                                                verbose=verbose, **options)
    figure = randomized.plot()
    figure = getattr(figure, "figure", figure)  # an Axes or a Figure
    summary.file(save_figure(figure, os.path.join(args.out, "randomization.png")), "randomisation curves")
    record["randomization"] = {
        "layers": list(randomized.layers),
        "scores": {name: np.asarray(values, dtype=float).tolist() for name, values in randomized.scores.items()},
        "mean": {name: _floats(np.nanmean(np.asarray(values, dtype=float), axis=1))
                 for name, values in randomized.scores.items()},
    }
    if not args.no_sensitivity:
        with summary.timed("sensitivity_n"):
            explanations = superexplain.explain(predictor, inputs.inputs, method=args.method, random_state=args.seed,
                                                verbose=verbose, **options)
            if isinstance(explanations, superexplain.Explanation):
                explanations = [explanations]
            result = metrics.sensitivity_n(predictor, inputs.inputs, explanations, num_subsets=args.num_subsets,
                                           random_state=args.seed)
        axes = result.plot()
        summary.file(save_figure(axes.figure, os.path.join(args.out, "sensitivity_n.png")), "Sensitivity-n curve")
        correlations = np.atleast_2d(np.asarray(result.correlations, dtype=float))
        record["sensitivity_n"] = {"ns": np.asarray(result.ns).tolist(), "correlations": correlations.tolist(),
                                   "mean": _floats(np.nanmean(correlations, axis=0)), "params": result.params}
    json_path = write_json(record, os.path.join(args.out, "sanity.json"))
    summary.file(json_path, "numbers (JSON)")
    summary.data.update({key: value for key, value in record.items() if key not in ("model",)})
    first = next(iter(record["randomization"]["mean"]), None)
    if first is not None and record["randomization"]["layers"]:
        summary.note(f"{first} similarity to the original after randomising "
                     f"{record['randomization']['layers'][-1]!r} ({args.mode}): "
                     f"{_fmt(record['randomization']['mean'][first][-1])} (near 1 means the method ignores the weights)")


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"
