"""`superexplain evaluate`: several methods, every check that applies and its controls, into one report folder
(index.html, results.json, results.md) with :func:`superexplain.evaluate`."""
from __future__ import annotations

import argparse
import importlib.util
import os

import numpy as np

from superexplain import image_files as _io

from ._common import UsageError, parse_list, wrap
from ._inputs import check_inputs, read_all_inputs
from ._methods import METHOD_CHOICES, seed_arg
from ._model import load_model, make_predictor, native_stderr_off, tune_batch_size
from ._summary import finite_or_none

DEFAULT_METHODS = "gradcam,lime,integrated_gradients"

EXAMPLES = """\
examples:
  superexplain evaluate model.keras images/ --methods gradcam,lime,integrated_gradients --out report/
  superexplain evaluate model.keras images/ --masks masks/ --seed 0 --out report/
  superexplain evaluate model.keras "images/*.png" --methods gradcam,saliency --checks deletion_auc,sparseness
  superexplain evaluate model.keras images/ --backend ray --out report/ --json

The report folder holds index.html (open it in a browser: it works offline, the figures and
thumbnails lie beside it in figures/ and thumbs/), results.json (every number, the settings and
versions) and results.md, plus explanations/<method>/: the methods' runs, so the same command
again resumes instead of explaining anew. --masks DIR holds one mask image per image, with the
same file name stem (cat.png -> masks/cat.png or masks/cat.jpg); nonzero pixels are the object.
The checks and their papers: deletion/insertion (arXiv 1806.07421), Sensitivity-n (1711.06104),
faithfulness correlation and complexity (2005.00631), ROAD (2202.00449), max-sensitivity
(1901.09392), random logit (1912.09818), model randomisation (1810.03292), and with masks the
pointing game (1608.00507) and relevance mass; each against a random-map and an edge-map control.
"""

def add_parser(subparsers, common, model_input, formatter_class) -> None:
    parser = subparsers.add_parser(
        "evaluate", parents=[common, model_input], formatter_class=formatter_class, epilog=EXAMPLES,
        help="evaluate several methods on a model with every check and its controls: one HTML report",
        description=wrap(
            "Explain every IMAGE with each method of --methods, run every evaluation check that applies "
            "(faithfulness, robustness, complexity, randomisation; localisation with --masks) against a "
            "random-map and an edge-map control, and write the report into --out: index.html, "
            "results.json and results.md. MODEL is a .keras/.h5 file or a SavedModel directory."))
    parser.add_argument("model", metavar="MODEL", help=".keras/.h5 file or SavedModel directory")
    parser.add_argument("images", metavar="IMAGE", nargs="+", help="image files, directories or glob patterns")
    parser.add_argument("--methods", default=DEFAULT_METHODS, metavar="LIST",
                        help="comma-separated methods to evaluate, from: " + ", ".join(METHOD_CHOICES))
    parser.add_argument("--checks", metavar="LIST",
                        help="comma-separated checks to run (default: every check that applies)")
    parser.add_argument("--masks", metavar="DIR",
                        help="folder of object masks, one per image with the same file name stem; enables the "
                             "localisation checks")
    parser.add_argument("--seed", type=seed_arg, default=0, metavar="S",
                        help="seed of the methods, the controls and every check's random draws")
    parser.add_argument("--backend", default="local", choices=("local", "ray"),
                        help="where the methods run: this process, or Ray actors (needs "
                             "pip install 'superexplain[ray]')")
    parser.add_argument("--out", default="superexplain-report", metavar="DIR",
                        help="the report folder (resumed when it holds the same run)")
    parser.set_defaults(run=run)


def parse_methods(text: str) -> list[str]:
    """``--methods``: known method names, each once.

    Examples
    --------
    >>> parse_methods("gradcam, lime")
    ['gradcam', 'lime']
    >>> parse_methods("gradcam,nope")
    Traceback (most recent call last):
    ...
    superexplain.cli._common.UsageError: --methods: unknown method 'nope'; choose from ...
    """
    methods = parse_list(text, str, "--methods")
    unknown = [name for name in methods if name not in METHOD_CHOICES]
    if unknown:
        raise UsageError(f"--methods: unknown method {unknown[0]!r}; choose from {', '.join(METHOD_CHOICES)}")
    repeated = sorted({name for name in methods if methods.count(name) > 1})
    if repeated:
        raise UsageError(f"--methods names {repeated[0]!r} twice; give each method once")
    return methods


def parse_checks(text: str) -> list[str]:
    """``--checks``: names of :data:`superexplain.evaluation.CHECKS`.

    Examples
    --------
    >>> parse_checks("deletion_auc,sparseness")
    ['deletion_auc', 'sparseness']
    """
    from superexplain.evaluation import CHECKS

    checks = parse_list(text, str, "--checks")
    unknown = [name for name in checks if name not in CHECKS]
    if unknown:
        raise UsageError(f"--checks: unknown check {unknown[0]!r}; choose from {', '.join(CHECKS)}")
    return checks


def read_masks(folder: str, image_paths: list[str], size: tuple[int, int]) -> np.ndarray:
    """Boolean masks (N, H, W) for the images, read from ``folder`` by file name stem, resized to ``size``.

    Examples
    --------
    >>> import os, tempfile
    >>> from PIL import Image
    >>> folder = tempfile.mkdtemp()
    >>> pixels = np.zeros((4, 4), np.uint8); pixels[:2, :2] = 255
    >>> Image.fromarray(pixels).save(os.path.join(folder, "cat.png"))
    >>> read_masks(folder, ["photos/cat.jpg"], (2, 2)).astype(int).tolist()
    [[[1, 0], [0, 0]]]
    """
    if not os.path.isdir(folder):
        raise UsageError(f"--masks must be a folder of mask images; got {folder!r}")
    by_stem: dict[str, str] = {}
    for path in sorted(_io.find_images([folder])[0]):
        by_stem.setdefault(os.path.splitext(os.path.basename(path))[0], path)
    masks = []
    for path in image_paths:
        stem = os.path.splitext(os.path.basename(path))[0]
        if stem not in by_stem:
            raise UsageError(f"--masks: no mask named {stem}.* in {folder!r} for the image {path!r}")
        pixels = _io.read_image(by_stem[stem], channels=1, size=None)[:, :, 0]
        if pixels.shape != tuple(size):
            from PIL import Image

            # nearest: a mask stays a mask (no grey edge that a threshold would move)
            pixels = np.asarray(Image.fromarray(pixels).resize((size[1], size[0]), Image.Resampling.NEAREST))
        masks.append(pixels > 0)
    return np.stack(masks)


def _table_means(data: dict) -> dict:
    return {check: {row: finite_or_none((cell or {}).get("mean")) for row, cell in rows.items()}
            for check, rows in (data.get("table") or {}).items()}


def run(args: argparse.Namespace, summary) -> None:
    import superexplain

    methods = parse_methods(args.methods)
    checks = parse_checks(args.checks) if args.checks is not None else None
    if args.backend == "ray" and importlib.util.find_spec("ray") is None:
        raise ImportError("--backend ray needs Ray, which is not installed; install it with "
                          "pip install 'superexplain[ray]' (or use --backend local)")
    class_names = check_inputs(args.images, args.labels)
    with summary.timed("load_model"):
        model = load_model(args.model, args.debug)
        predictor = make_predictor(model, class_names, args.output, args.batch_size)
    inputs = read_all_inputs(args.images, predictor.input_shape, args.size, args.preprocess)
    predictor = tune_batch_size(predictor, args.batch_size, inputs.inputs[0], summary)
    masks = read_masks(args.masks, inputs.paths, inputs.inputs.shape[1:3]) if args.masks else None
    quiet_ray = args.backend == "ray" and not (getattr(args, "verbose", False) or args.debug)
    if quiet_ray:
        import ray  # noqa: F401 - imported now, Ray's log handlers write to the stderr silenced below
    # locally the loaded model serves every method and check; Ray workers load the file themselves
    given = ({"model": predictor} if args.backend == "local" else
             {"model": args.model, "class_names": class_names, "output": args.output,
              "model_batch_size": predictor.batch_size})
    with summary.timed("evaluate"), native_stderr_off(quiet_ray):
        report = superexplain.evaluate(
            images=inputs.inputs, methods=tuple(methods), out=args.out, masks=masks, checks=checks,
            random_state=args.seed, backend=args.backend, **given,
            title=f"Evaluation of {os.path.basename(os.path.normpath(args.model))}", verbose=0 if args.quiet else 1)
    # the library saw a loaded model and an array: the report names the files they came from
    report.data.setdefault("settings", {}).update(model=args.model, images=" ".join(args.images))
    with summary.timed("write"):
        page = report.write(args.out)
    for name, what in (("index.html", "report page"), ("results.json", "numbers (JSON)"),
                       ("results.md", "table (Markdown)")):
        path = os.path.join(args.out, name)
        if os.path.isfile(path):
            summary.file(path, what)
    data = report.data
    summary.data.update(model=args.model, images=inputs.paths, methods=methods, out=args.out, seed=args.seed,
                        backend=args.backend, masks=args.masks, best=dict(data.get("best") or {}),
                        table=_table_means(data), warnings_in_report=list(data.get("warnings") or []))
    best = ", ".join(f"{check}: {method}" for check, method in (data.get("best") or {}).items())
    summary.note(f"evaluated {len(methods)} method(s) on {len(inputs)} image(s) with "
                 f"{len(data.get('checks') or [])} check(s); best per check: {best or 'none'}")
    summary.note(f"open {page} in a browser")
