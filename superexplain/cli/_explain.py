"""`superexplain explain`: a saved model's predictions on image files, explained into a resumable run folder by
:func:`superexplain.explain_dataset` (in this process or on Ray), then drawn as PNG/JSON per image and target."""
from __future__ import annotations

import argparse
import importlib.util
import os
import re
import warnings

from superexplain import image_files as _io

from ._common import UsageError, parse_list, positive_int, wrap
from ._layer_best import add_calibrate_flag, advise_layer, wants_best, write_ranking
from ._inputs import (check_inputs, check_target_names, first_model_input, input_size, parse_size, parse_targets,
                      targets_for)
from ._methods import (add_method_flags, check_option_names, default_kind, images_per_call, method_options,
                       methods_with, seeded_methods, segmentation_option)
from ._model import AUTO_BATCH, load_model, make_predictor, measure_batch_size
from ._model import native_stderr_off
from ._render import DRAW_AT, draw_run, plot_options

EXAMPLES = """\
examples:
  superexplain explain model.keras cat.jpg --method gradcam
  superexplain explain model.keras photos/ --method lime --num-samples 2000 --seed 0 --out out/
  superexplain explain model.keras "photos/*.png" --method gradcam++ --layer conv5_block3_out --top-labels 3
  superexplain explain model.keras cat.jpg --method integrated_gradients --option steps=100 --option baseline=blur
  superexplain explain resnet.keras cat.jpg --size 224x224 --preprocess caffe --labels imagenet.txt \\
      --target "tabby cat" --format png,json
  superexplain explain model.keras big_folder/ --method lime --seed 0 --out run/ --backend ray --num-workers 4
  superexplain explain model.keras wide_photo.jpg --method lime --kind outline --show-negative

--out is a run folder: run.json (the settings), index.jsonl (one line per explanation, with the
image's seed) and explanations/NNNNNN_IMAGE_tCLASS.npz (reload with superexplain.Explanation.load),
the PNG and JSON beside each (NNNNNN_IMAGE_tCLASS_NAME.png when the class has a name). The same
command again resumes the run; --overwrite starts afresh. The PNG shows the original photo at its
own size and aspect under the explanation (--draw-at model: the picture the model saw); the .npz
holds the preprocessed input the model saw. A bad command line exits 2, a failure while running 1.
"""

FORMATS = ("png", "npz", "json")
KINDS = ("heatmap", "block", "outline")


def add_parser(subparsers, common, model_input, formatter_class) -> None:
    parser = subparsers.add_parser(
        "explain", parents=[common, model_input], formatter_class=formatter_class, epilog=EXAMPLES,
        help="explain a saved Keras model's predictions on image files",
        description=wrap(
            "Explain what MODEL looked at in each IMAGE, with superexplain.explain_dataset: one "
            "Explanation file per image and target in a resumable run folder, the same on both backends. "
            "MODEL is a .keras/.h5 file or a SavedModel directory; IMAGE may be files, directories or glob "
            "patterns (unreadable files inside a directory or glob are skipped with a warning and listed "
            "in index.jsonl)."))
    parser.add_argument("model", metavar="MODEL", help=".keras/.h5 file or SavedModel directory")
    parser.add_argument("images", metavar="IMAGE", nargs="+", help="image files, directories or glob patterns")
    add_method_flags(parser)
    add_calibrate_flag(parser)
    targets = parser.add_mutually_exclusive_group()
    targets.add_argument("--target", action="append", metavar="T",
                         help="class to explain, an index or a name from --labels (repeat for several); "
                              "default: each image's top class")
    targets.add_argument("--top-labels", type=positive_int, metavar="K", help="explain each image's K best classes")
    parser.add_argument("--out", default="superexplain-out", metavar="DIR",
                        help="the run folder: run.json, index.jsonl and explanations/ (resumed when it holds "
                             "the same run; see --overwrite)")
    parser.add_argument("--format", default="png", metavar="LIST",
                        help="comma-separated drawings per image and target, beside its .npz (always written): "
                             "png (the plot over the original image), json (the maps as lists, score and settings); "
                             "npz alone draws nothing")
    parser.add_argument("--kind", choices=KINDS,
                        help=f"plot kind (default: block for the superpixel methods, "
                             f"{', '.join(methods_with('takes_segments'))}; heatmap for the others)")
    parser.add_argument("--draw-at", default="photo", choices=DRAW_AT,
                        help="photo: the PNG shows the photo at its own size and aspect, the map resized back over "
                             "it; model: the picture the model saw (resized to its input size)")
    parser.add_argument("--show-negative", action="store_true",
                        help="block and outline plots mark the superpixels against the class too (the default; "
                             "kept for scripts that give it)")
    parser.add_argument("--positive-only", action="store_true",
                        help="block and outline plots mark only the superpixels for the class (the positive weights)")
    parser.add_argument("--backend", default="local", choices=("local", "ray"),
                        help="local: this process; ray: Ray actors on this machine, one model each (needs "
                             "pip install 'superexplain[ray]'); both write the same files")
    parser.add_argument("--num-workers", type=positive_int, metavar="N",
                        help="--backend ray: Ray workers, each with its own model (default: one per CPU)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="--backend ray: also show Ray's own log lines and progress bars")
    parser.add_argument("--overwrite", action="store_true",
                        help="delete the run already in --out (its run.json, index.jsonl and explanations/ files, "
                             "nothing else) and start afresh, instead of resuming it; a resume with other images, "
                             "another model or other settings is refused without it")
    parser.set_defaults(run=run)


def _method_flags(args: argparse.Namespace) -> tuple[dict, dict | None]:
    """``(library options, plot segmentation)`` from the method flags.

    For a method without superpixels, --segments/--n-segments/--compactness shape the blocks of a
    block or outline plot instead.
    """
    segment_flags = {"segments": args.segments, "n_segments": args.n_segments, "compactness": args.compactness}
    plot_segmentation = None
    if args.method not in methods_with("takes_segments") and args.kind in ("block", "outline"):
        plot_segmentation = segmentation_option(args.segments or "slic", args.n_segments,
                                                args.compactness)["segmentation"]
        segment_flags = {}
    options = method_options(args.method, layer=args.layer, num_samples=args.num_samples, extra=args.option,
                             **segment_flags)
    if args.seed is not None and args.method not in seeded_methods():
        raise UsageError(f"--seed does not apply to --method {args.method}: it draws no random numbers "
                         f"(--seed applies to {', '.join(seeded_methods())})")
    if args.num_workers is not None and args.backend != "ray":
        raise UsageError("--num-workers applies to --backend ray")
    return options, plot_segmentation


def _already_done(out: str, overwrite: bool) -> int | None:
    """Images the run in ``out`` has explained already (None: no run there to resume)."""
    from superexplain.runner.index import read_index, read_settings

    if overwrite or not os.path.isdir(out) or read_settings(out) is None:
        return None
    return len({record["index"] for record in read_index(out) if record["status"] == "done"})


def _resumed_batch_size(out: str) -> int | None:
    """The model batch size recorded by the run in ``out``, if any (``--batch-size auto`` resumes with it)."""
    from superexplain.runner.index import read_settings

    settings = read_settings(out) if os.path.isdir(out) else None
    return (settings or {}).get("model_batch_size")


def _batch_size(args: argparse.Namespace, predictor, paths: list[str], summary) -> int | None:
    """The model batch size of the run: --batch-size, or for ``auto`` the run's own (resuming) or one measured."""
    if args.batch_size != AUTO_BATCH:
        return args.batch_size
    recorded = None if args.overwrite else _resumed_batch_size(args.out)
    if recorded is not None:
        summary.data["batch_size"] = recorded
        summary.note(f"--batch-size auto: {recorded} images per model call, as recorded by the run resumed")
        return recorded
    image = first_model_input(paths, predictor.input_shape, args.size, args.preprocess)
    return measure_batch_size(predictor, image, summary)


def _forget_failed_start(out: str, error: Exception) -> None:
    """A new run that failed before any image was explained (a bad option, say) leaves nothing behind,
    so that the corrected command starts afresh rather than being refused as another run."""
    from superexplain.runner.index import LOCK_FILE, read_index, read_settings, remove_run

    if isinstance(error, RuntimeError) and "another explain_dataset run" in str(error):
        return  # the folder is another process's
    if not os.path.isdir(out) or read_settings(out) is None:
        return  # refused before the run began (e.g. a folder of other files): nothing of ours to remove
    if any(record["status"] == "done" for record in read_index(out)):
        return
    remove_run(out)
    if os.path.exists(os.path.join(out, LOCK_FILE)):
        os.remove(os.path.join(out, LOCK_FILE))
    if not os.listdir(out):
        os.rmdir(out)


def run(args: argparse.Namespace, summary) -> None:
    import superexplain
    from superexplain.runner.index import read_settings

    formats = parse_list(args.format, str, "--format")
    if any(name not in FORMATS for name in formats):
        raise UsageError(f"--format must be a comma-separated list of {', '.join(FORMATS)}; got {args.format!r}")
    options, plot_segmentation = _method_flags(args)
    drawing = plot_options(args.show_negative, args.positive_only)
    target = parse_targets(args.target)
    class_names = check_inputs(args.images, args.labels, target)
    _io.preprocess_function(args.preprocess)  # a bad --preprocess fails before the model load
    paths, _ = _io.find_images(args.images)
    if args.backend == "ray" and importlib.util.find_spec("ray") is None:
        raise ImportError("--backend ray needs Ray, which is not installed; install it with "
                          "pip install 'superexplain[ray]' (or use --backend local)")
    with summary.timed("load_model"):
        model = load_model(args.model, args.debug)
        predictor = make_predictor(model, class_names, args.output, args.batch_size)
    check_target_names(target, predictor.class_names, predictor.num_classes)
    input_size(predictor.input_shape, args.size)  # --size must fit a fixed-size model
    check_option_names(args.method, options)
    batch_size = _batch_size(args, predictor, paths, summary)
    ranking = None
    if wants_best(options):
        ranking = advise_layer(args, predictor, paths, target, summary)
        options["layer"] = ranking["layers"][0]["layer"]
    elif args.calibrate:
        raise UsageError("--calibrate applies to --layer best")
    if target is not None:
        target = target[0] if len(target) == 1 else targets_for(target, len(paths))
    if class_names is not None:
        options["class_names"] = class_names
    if args.output is not None:
        options["output"] = args.output
    new_run = not (os.path.isdir(args.out) and read_settings(args.out) is not None) or args.overwrite
    resumed = _already_done(args.out, args.overwrite)
    # a method that draws no random numbers gets the fixed seed 0 (recorded, so two runs give the same
    # files), or the seed of the run it resumes
    seed = args.seed if args.method in seeded_methods() else (None if resumed is not None else 0)
    quiet_ray = args.backend == "ray" and not (args.verbose or args.debug)
    if quiet_ray:
        import ray  # noqa: F401 - imported now, Ray's log handlers write to the stderr silenced below
    try:
        # Ray's processes write their own log lines to this process's stderr: off unless --verbose/--debug
        with summary.timed("explain"), warnings.catch_warnings(), native_stderr_off(quiet_ray):
            # each image that could not be read is reported below, by name
            warnings.filterwarnings("ignore", message=r"\d+ image\(s\) could not be explained")
            result = superexplain.explain_dataset(
                model if args.backend == "local" else args.model, paths, method=args.method, out=args.out,
                backend=args.backend, targets=target, top_labels=args.top_labels, random_state=seed,
                batch_size=images_per_call(args.method), model_batch_size=batch_size,
                image_size=parse_size(args.size) if args.size else None, preprocess=args.preprocess,
                num_workers=args.num_workers, overwrite=args.overwrite,
                verbose=0 if args.quiet else 2 if args.verbose else 1, **options)
    except Exception as error:
        if new_run:
            _forget_failed_start(args.out, error)
        raise
    failed = [{"image": paths[record["index"]], "error": record.get("error")} for record in result.failed]
    for record in failed:
        # "UnreadableImage: cannot read image '/abs/path': not an image file" -> "not an image file"
        reason = re.sub(r"^UnreadableImage: cannot read image '.*?': ", "", str(record["error"]))
        warnings.warn(f"skipped {record['image']!r}: {reason}", stacklevel=2)
    if not result.done:
        raise ValueError(f"no readable images among the inputs (see {os.path.join(result.out, 'index.jsonl')})")
    if ranking is not None:
        write_ranking(ranking, result.out, summary)
    with summary.timed("draw"):
        records = draw_run(result, paths, formats, args.kind, default_kind(args.method), plot_segmentation, summary,
                           args.draw_at, drawing)
    summary.data.update(model=args.model, method=args.method, backend=args.backend, out=result.out,
                        seed=result.settings.get("random_state"), explanations=records, failed=failed)
    if resumed is not None:
        summary.data["resumed"] = {"done": resumed, "total": len(paths)}
        summary.note(f"resuming: {resumed} of {len(paths)} already done")
    seeded = f", seed {result.settings.get('random_state')}" if images_per_call(args.method) == 1 else ""
    summary.note(f"explained {len({r['image'] for r in records})} image(s) with {args.method} "
                 f"({args.backend} backend{seeded}): {len(records)} explanation(s) in {result.out} "
                 "(run.json, index.jsonl; the same command resumes)")
    if failed:
        summary.note(f"{len(failed)} image(s) could not be read; listed in {os.path.join(result.out, 'index.jsonl')}")
