"""`evaluate`: explain a set of images with several methods, run every check that applies, collect one report."""
from __future__ import annotations

import contextlib
import os
import tempfile
import time
import warnings
from typing import Any, Callable, cast

import numpy as np

from .._progress import progress
from .._validation import check_choice, check_int, describe
from .arguments import check_checks, check_methods, check_nested, resolve_models
from .checks import CHECKS, CONTROLS, CheckOutput, Context
from .masks import check_masks, is_mask_directory
from .report import EvaluationReport, build_data

__all__ = ["evaluate", "DEFAULT_METHODS"]

DEFAULT_METHODS = ("gradcam", "lime", "integrated_gradients")
#: Samples of LIME and KernelSHAP when a robustness or randomisation check re-runs it,
#: unless ``method_options`` sets an integer ``num_samples`` ("auto", the default, counts as unset): each re-run
#: explains every image again, several times.
RERUN_NUM_SAMPLES = 200


def _explain(model: Any, images: Any, methods: list[str], out: str, backend: str, targets: Any, seed: int,
             method_options: dict, verbose: int, extra: dict) -> tuple[dict, list, dict]:
    """Each method through explain_dataset into ``out/explanations/<method>`` (resumed when done before)."""
    from ..runner import explain_dataset

    maps, ids, seconds = {}, [], {}
    for method in methods:
        start = time.perf_counter()
        result = explain_dataset(model, images, method, out=os.path.join(out, "explanations", method),
                                 backend=backend, targets=targets, random_state=seed, verbose=verbose,
                                 **extra, **method_options[method])
        explanations = [explanation for _, explanation in result.pairs()]
        indices = [record["index"] for record in result.done]
        if len(set(indices)) != len(indices):
            raise ValueError("evaluate explains one target per image; give targets= with one class per image")
        maps[method] = [explanations[k] for k in np.argsort(indices)]
        seconds[method] = round(time.perf_counter() - start, 3)
        ids = [result.done[k]["id"] for k in np.argsort(indices)]
        if result.failed:
            raise ValueError(f"method {method!r} could not explain {len(result.failed)} image(s): "
                             f"{result.failed[0].get('error')}")
    return maps, ids, seconds


def _actors(backend: str):
    if backend != "ray":
        return contextlib.nullcontext()
    from ..runner.ray_backend import shared_actors

    return shared_actors()


def _controls(maps: dict, methods: list[str], seed: int) -> tuple[dict, str]:
    """The random map (per superpixel of the first method that has superpixels) and the edge map, per image."""
    from ..metrics import edge_map, random_map

    segmented = next((m for m in methods if maps[m][0].segments is not None), None)
    like = maps[segmented] if segmented is not None else maps[methods[0]]
    seeds = np.random.default_rng(seed).integers(0, 2**31 - 1, size=len(like))
    random = [random_map(e if segmented else e.image, target=e.target, random_state=int(s))
              for e, s in zip(like, seeds)]
    edge = [edge_map(e.image, target=e.target) for e in like]
    how = f"per superpixel of {segmented}" if segmented else "per pixel"
    return {"random": random, "edge": edge}, how


def _applicable(names: list[str] | None, masks: Any, keras: bool, train: Any) -> tuple[list[str], list[str]]:
    chosen = list(CHECKS) if names is None else names
    applied, skipped = [], []
    for name in chosen:
        check = CHECKS[name]
        reason = ("no masks were given" if check.needs_masks and masks is None
                  else "it needs a Keras model" if check.needs_keras and not keras
                  else "it needs train_fn= and train_data=" if check.needs_training and train is None else None)
        if reason is None:
            applied.append(name)
        elif names is not None:  # asked for by name: say why it is missing
            skipped.append(f"{name} was skipped: {reason}")
    return applied, skipped


def _rerun_options(methods: list[str], method_options: dict) -> dict:
    from ..registry import method_info

    out = {}
    for method in methods:
        options = dict(method_options[method])
        # LIME's and KernelSHAP's default "auto" stops when the ranking is stable: a re-run treats it as unset
        # (RISE's num_masks and occlusion's windows keep their defaults)
        info = method_info(method)
        if (info.family == "perturbation" and info.samples_option == "num_samples"
                and options.get("num_samples", "auto") == "auto"):
            options["num_samples"] = RERUN_NUM_SAMPLES
        options.pop("batch_size", None)
        out[method] = options
    return out


def _trained_once(train_fn: Callable) -> Callable:
    """``train_fn`` that trains once per (labels, seed): every row of data randomisation compares the same model."""
    trained: dict = {}

    def build_and_train(images, labels, seed):
        key = (np.asarray(labels).tobytes(), int(seed))
        if key not in trained:
            trained[key] = train_fn(images, labels, seed)
        return trained[key]
    return build_and_train


def evaluate(model: Any, images: Any, methods: Any = DEFAULT_METHODS, *, out: str | os.PathLike | None = None,
             masks: Any = None, checks: Any = None, targets: Any = None, random_state: int = 0,
             backend: str = "local", num_subsets: int = 30, method_options: dict | None = None,
             check_options: dict | None = None, rerun_images: int = 4, train_fn: Callable | None = None,
             train_data: tuple | None = None, class_names: Any = None, output: Any = None,
             model_batch_size: int | None = None, title: str | None = None,
             verbose: int | bool = 1) -> EvaluationReport:
    """Explain ``images`` with every method, run every check that applies against two controls, write one report.

    The methods run through :func:`superexplain.explain_dataset` into ``out/explanations/<method>/``,
    so a second call with the same ``out`` resumes (only what is missing is explained) and
    ``backend="ray"`` spreads them over a cluster. Every check (:data:`CHECKS
    <superexplain.evaluation.checks.CHECKS>`) then scores every method and the two controls -- a
    random map (per superpixel when a method uses superpixels) and the model-independent Sobel
    edge map (:func:`superexplain.metrics.random_map`, :func:`~superexplain.metrics.edge_map`) --
    per image, with the mean and a 95% bootstrap interval over images: faithfulness (deletion and
    insertion, arXiv 1806.07421; Sensitivity-n, 1711.06104; faithfulness correlation, 2005.00631;
    monotonicity correlation, 2007.07584; ROAD, 2202.00449), complexity (sparseness, complexity),
    localisation with ``masks`` (pointing game, 1608.00507; relevance mass), robustness
    (max-sensitivity, 1901.09392) and randomisation (random logit, 1912.09818; model and, with
    ``train_fn``, data randomisation, 1810.03292).

    Parameters
    ----------
    model : keras.Model, Predictor, path or callable
        As for :func:`superexplain.explain_dataset`: a Keras model, a model file or SavedModel
        directory, a zero-argument factory that builds the model, or (local backend) a callable
        ``images -> scores`` (then only the checks that need no Keras model run). Locally it is
        loaded once for every method and check; with ``backend="ray"`` each worker loads its own
        copy for the explanations and the checks run here.
    images : array_like (N, H, W, C), directory, glob or list of image files
    methods : str or sequence of str
        Method names of :func:`superexplain.explain`.
    out : str or path, optional
        The report directory: explanations, ``results.json``, ``results.md``, figures, thumbnails
        and ``index.html``. None: the explanations go to a temporary directory and nothing is
        written (call :meth:`EvaluationReport.write` to write the report).
    masks : array_like (N, H, W) bool, or a directory, optional
        The object in each image; the localisation checks run only with them. A directory holds
        one mask image per image file, of the same name (any extension; non-zero = object),
        resized to the explained image's size.
    checks : str or sequence of str, optional
        The checks to run (default: all that apply).
    targets : int, str or list, optional
        The class explained per image (default: the top class).
    random_state : int
        One seed for the explanations, the controls and every check's draws.
    backend : {"local", "ray"}
    num_subsets : int
        Random subsets per n for Sensitivity-n and per image for faithfulness correlation (30;
        the papers use 100-1000: a cheaper, noisier estimate).
    method_options : dict, optional
        ``{method: {option: value}}`` passed to the method (e.g. ``{"lime": {"num_samples": 500}}``).
    check_options : dict, optional
        ``{check: {option: value}}`` overriding a check's settings (recorded in ``data["settings"]``).
    rerun_images : int
        The checks that run the method again (max-sensitivity, random logit, randomisation) use the
        first ``rerun_images`` images only (default 4), and LIME and KernelSHAP with
        ``num_samples=200`` unless ``method_options`` sets an integer; the other images are NaN there.
    train_fn : callable, optional
        ``(images, labels, seed) -> model`` of the same architecture: enables data randomisation
        (:func:`superexplain.sanity.data_randomization`); needs ``train_data``. Trained once, on
        the permuted labels; ``model`` is the true-label model it is compared with.
    train_data : (images, labels), optional
        The training set whose labels are permuted.
    class_names : list or dict, optional
    output : int or str, optional
        The output holding the class scores, for a model with several.
    model_batch_size : int, optional
        Images per model call (default 64). As for :func:`superexplain.models.as_predictor`.
    title : str, optional
    verbose : int or bool
        Progress bars (explanations, then checks), on stderr.

    Returns
    -------
    EvaluationReport
        ``.data`` (what ``results.json`` holds), ``.table()``, ``.best``, ``.to_markdown()``,
        ``.write(out)``.

    Examples
    --------
    >>> import superexplain
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> shapes = make_shapes(2, seed=0)
    >>> report = superexplain.evaluate(load_demo_model(), shapes.images, ["gradcam"], masks=shapes.masks,
    ...                                checks=["sparseness", "pointing_game"], verbose=0)
    >>> sorted(report.data["table"]["pointing_game"]), report.best["sparseness"]
    (['edge', 'gradcam', 'random'], 'gradcam')
    """
    methods = check_methods(methods)
    names = check_checks(checks)
    backend = check_choice(backend, "backend", ("local", "ray"))
    seed = check_int(random_state, "random_state", 0)
    num_subsets = check_int(num_subsets, "num_subsets", 2)
    rerun_count = check_int(rerun_images, "rerun_images", 1)
    options = check_nested(method_options, "method_options", methods)
    overrides = check_nested(check_options, "check_options", list(CHECKS))
    if train_fn is not None and not callable(train_fn):
        raise TypeError(f"train_fn must be a callable (images, labels, seed) -> model; got {describe(train_fn)}")
    if (train_fn is None) != (train_data is None):
        raise ValueError("data randomisation needs both train_fn= and train_data=(images, labels)")
    if train_data is not None and (not isinstance(train_data, (tuple, list)) or len(train_data) != 2):
        raise TypeError(f"train_data must be a pair (images, labels); got {describe(train_data)}")
    if out is not None and not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"out must be None or a directory path; got {describe(out)}")
    if masks is not None and isinstance(images, np.ndarray) and images.ndim == 4:
        check_masks(masks, images.shape[0], images.shape[1:3])  # before any image is explained
    elif is_mask_directory(masks) and not os.path.isdir(masks):
        raise ValueError(f"masks must be an array (N, H, W) or a directory of mask images; got {masks!r}")
    if not isinstance(verbose, (bool, int, np.integer)):
        raise TypeError(f"verbose must be an int or a bool; got {describe(verbose)}")
    verbose = int(verbose)
    if model_batch_size is not None:
        model_batch_size = check_int(model_batch_size, "model_batch_size", 1)
    explained_model, predictor, extra = resolve_models(model, backend, class_names, output, model_batch_size)
    report_dir = None if out is None else os.path.abspath(os.fspath(out))
    work_dir = report_dir if report_dir is not None else tempfile.mkdtemp(prefix="superexplain-evaluate-")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with _actors(backend):  # on Ray, every method's run reuses the same actors and their loaded models
            maps, ids, explain_seconds = _explain(explained_model, images, methods, work_dir, backend, targets, seed,
                                                  options, verbose, extra)
        first = maps[methods[0]]
        batch = np.stack([e.image for e in first])
        masks = check_masks(masks, len(batch), batch.shape[1:3], ids if isinstance(images, (str, os.PathLike, list)) else None)
        controls, random_how = _controls(maps, methods, seed)
        maps.update(controls)
        train = None if train_fn is None else (_trained_once(train_fn), *cast(tuple, train_data))  # checked: both
        applied, skipped = _applicable(names, masks, predictor.keras_model is not None, train)
        settings_by_check = {name: {**CHECKS[name].defaults, **overrides[name]} for name in applied}
        for name in ("sensitivity_n", "faithfulness_correlation"):
            if name in settings_by_check and "num_subsets" not in overrides[name]:
                settings_by_check[name]["num_subsets"] = num_subsets
        context = Context(predictor, batch, np.array([e.target for e in first]), maps, masks, seed, settings_by_check,
                          _rerun_options(methods, options), np.arange(min(rerun_count, len(batch))), train)
        outputs: dict[str, CheckOutput] = {}
        check_seconds = {}
        with progress(len(applied), "evaluate", verbose) as bar:
            for name in applied:
                check = CHECKS[name]
                rows = methods + [c for c in CONTROLS if c in check.controls]
                start = time.perf_counter()
                outputs[name] = check.compute(context, rows, settings_by_check[name])
                check_seconds[name] = round(time.perf_counter() - start, 3)
                bar.update()
    settings = {"model": describe(model) if not isinstance(model, (str, os.PathLike)) else os.fspath(model),
                "images": images if isinstance(images, str) else len(batch), "methods": methods,
                "method_options": {m: options[m] for m in methods}, "seed": seed, "backend": backend,
                "model_batch_size": predictor.batch_size,
                "score": "logit", "num_subsets": num_subsets, "random_control": random_how,
                "rerun_images": int(len(context.rerun_images)), "rerun_method_options": context.method_options,
                "checks": settings_by_check, "masks": masks is not None,
                # wall time of each method's explanations (a resumed run reads them back) and of each check
                "seconds": {"explain": explain_seconds, "checks": check_seconds}}
    messages = skipped + [f"{w.category.__name__}: {w.message}" for w in caught]
    data = build_data(title or "Explanation evaluation", settings, methods, applied, outputs, context, messages)
    report = EvaluationReport(data, out=None, results=outputs, explanations=maps)
    if report_dir is not None:
        report.write(report_dir)
    return report
