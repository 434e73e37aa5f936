"""`explain_dataset`: explain every image of a dataset into a resumable directory, locally or on Ray, with identical results."""
from __future__ import annotations

import os
import warnings
from typing import Any, Callable, cast

import numpy as np

from .._progress import progress
from .._validation import check_choice, check_int, describe, resolve_seed
from ..models.targets import check_target_spec
from ..registry import check_options, method_info
from .index import RunIndex, jsonable_options, read_index, read_settings
from .model_spec import build_predictor, fingerprint_of, model_spec
from .result import DatasetResult
from .sources import STREAM_KINDS, Loader, open_source
from .worker import Plan, UnitExplainer
from .writer import Writer, pending_units

__all__ = ["explain_dataset", "DatasetResult"]

_DEFAULT_BATCH = 32  # images per call for methods that draw no random numbers
#: images per call for perturbation methods: their masked copies share full model batches, and a
#: unit is what a resumed run re-does, so it stays small
_DEFAULT_PERTURBATION_BATCH = 8


def _check_out(out: Any) -> str:
    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"out must be a directory path (str or os.PathLike); got {describe(out)}")
    out = os.path.abspath(os.fspath(out))
    if os.path.exists(out) and not os.path.isdir(out):
        raise ValueError(f"out={out!r} exists and is not a directory; give a new or an existing run directory")
    if os.path.isdir(out) and os.listdir(out) and read_settings(out) is None:
        raise ValueError(f"out={out!r} already holds files but no run.json of explain_dataset; "
                         "give an empty or new directory (the run writes many files there)")
    return out


def _check_image_size(image_size: Any) -> list[int] | None:
    if image_size is None:
        return None
    if isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    if (not isinstance(image_size, (list, tuple)) or len(image_size) != 2
            or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0 for v in image_size)):
        raise ValueError(f"image_size must be None, an int or (height, width) of positive ints; got {image_size!r}")
    return [int(image_size[0]), int(image_size[1])]


def _check_preprocess(preprocess: Any) -> str | Callable:
    if callable(preprocess):
        return preprocess
    if not isinstance(preprocess, str):
        raise TypeError(f"preprocess must be a name (none, unit, tf, caffe, torch), 'module:function' or a "
                        f"callable; got {describe(preprocess)}")
    from ..image_files import preprocess_function

    preprocess_function(preprocess)  # fails now, with the reason, rather than on every image
    return preprocess


def _resolve_seed(random_state: Any, out: str, overwrite: bool) -> int:
    if random_state is None and not overwrite:
        previous = read_settings(out)
        if previous is not None and isinstance(previous.get("random_state"), int):
            return previous["random_state"]  # resuming a run that drew its seed: keep that seed
    if isinstance(random_state, np.random.Generator):
        raise TypeError("random_state must be an int seed (or None) for explain_dataset: each image's seed is "
                        "derived from it and the image's index; got a numpy Generator")
    return cast(int, resolve_seed(random_state))  # None only for a Generator, refused above


def explain_dataset(model: Any, images: Any, method: str = "gradcam", *, out: str | os.PathLike,
                    backend: str = "local", targets: Any = None, top_labels: int | None = None,
                    random_state: int | None = 0, batch_size: int | None = None,
                    model_batch_size: int | None = None, image_size: Any = None, preprocess: str | Callable = "unit",
                    ray_address: str | None = None, num_workers: int | None = None,
                    worker_resources: dict | None = None, overwrite: bool = False, verbose: int | bool = 1,
                    **method_options: Any) -> DatasetResult:
    """Explain every image of a dataset into ``out``: one Explanation file per image and target, resumable.

    Images stream through the method (never all in memory). Each image's seed is derived from
    ``random_state`` and the image's index, so its explanation is the same bit for bit whichever
    backend, worker count or order produced it, and whether or not the run was interrupted.
    Running again with the same ``out`` skips what is done: after a crash or Ctrl-C, call it again.
    A resume must explain the same images with the same model and settings; anything else is
    refused (a ValueError that says what changed), so that a directory never mixes two runs.

    Parameters
    ----------
    model : keras.Model, str, path or callable
        A Keras model, a model file or SavedModel directory, or a zero-argument factory that builds
        the model (each Ray worker calls it to get its own copy). The local backend also accepts a
        callable ``images -> scores`` (perturbation methods only). ``run.json`` records the model's
        fingerprint: hashes of its architecture (layer types, settings, wiring and weight shapes;
        not layer names) and of its weights, computed on the loaded model for a path or a factory
        (with ``backend="ray"`` the driver loads it once for that). A plain callable has no weights
        to hash: callables are compared by qualified name only.
    images : array_like, iterable, tf.data.Dataset, str or list of str
        An array (N, H, W, C); an iterable of images or batches (``(image, label)`` tuples take the
        image); a ``tf.data.Dataset``; an image directory, a glob pattern or a list of image files
        (sorted; an image's index is its position). ``run.json`` records what a resume compares:
        for files, each one's relative path, size and modification time; for an array, a hash of
        its contents (shape, dtype and bytes, read in chunks: a memmap is read once more, a
        strided array never copied whole). An iterable or a ``tf.data.Dataset`` can be read only
        once, so its images are hashed as they stream and a resume checks each image already done
        against the run's (an error then may come after the first new images were written).
    method : str
        A method name of :func:`superexplain.explain` (``"gradcam"``, ``"lime"``, ...).
    out : str or path
        The run directory (created; reused to resume, see ``overwrite``).
    backend : {"local", "ray"}
        ``"local"``: this process, streaming. ``"ray"``: a pool of Ray actors, each holding the model.
    targets : int, str or list, optional
        None (each image's top class), one class for every image, or one entry per image.
    top_labels : int, optional
        Explain each image's ``top_labels`` best classes instead.
    random_state : int or None
        The run's seed (None draws one, recorded in ``run.json`` and reused on resume).
    batch_size : int, optional
        Images per method call (a *unit*: what a resumed run re-does whole). Default: 32 for
        methods that draw no random numbers (Grad-CAM, saliency, ...); 8 for the perturbation
        methods (LIME, KernelSHAP, RISE, occlusion), which take one seed per image and score the
        masked copies of a unit's images together in full model batches; 1 for SmoothGrad and
        VarGrad, which draw from one seed per call. Results are identical bit for bit across
        backends, worker counts, orders and resumptions *for the same batch_size*: a model's
        last bits can depend on which images share its batch, so with perturbation methods and
        ``batch_size > 1`` an image's weights equal those of ``explain(model, image,
        random_state=its seed)`` to float32 rounding (about 1e-7 relative), not bit for bit
        (``batch_size=1`` gives those exactly).
    model_batch_size : int, optional
        Images per model call, on every worker: the Predictor's ``batch_size`` (default: the
        library's, 64, or a Predictor's own). A model's float32 scores can change in the last bit
        with the batch shape, so ``run.json`` records it and a resume must give the same. The
        command line's ``--batch-size`` (``auto``: the size
        :meth:`~superexplain.models.Predictor.fastest_batch_size` measures).
    image_size : int or (int, int), optional
        Image files are resized (bilinear) to (height, width); default: the model's input size.
    preprocess : str or callable
        How image file pixels (0..255 RGB) become model input: ``"unit"`` (x/255, the default),
        ``"none"``, ``"tf"``, ``"caffe"``, ``"torch"``, ``"module:function"`` or a callable on a
        float32 batch -- the command line's conventions. Arrays are used as given.
    ray_address : str, optional
        None starts a local Ray (``num_workers`` CPUs); ``"auto"`` or ``"ray://host:10001"`` joins a
        cluster. An already initialised Ray is used as is.
    num_workers : int, optional
        Ray actors, each with its own model (default: as many as the resources allow).
    worker_resources : dict, optional
        Ray resources of each actor, e.g. ``{"num_gpus": 1}`` (default ``{"num_cpus": 1}``).
    overwrite : bool
        False (the default): resume the run in ``out``, after checking that it was made with the
        same settings, images and model (a ValueError says what changed otherwise). True: delete
        that run's ``run.json``, ``index.jsonl`` and explanation files (only those: other files in
        ``out`` stay) and start afresh; ``random_state=None`` then draws a new seed. A ``run.json``
        written before these checks (no ``source_identity``/``model_fingerprint``) is resumed with a
        warning, and this call's images and model are recorded for the next resume.
    verbose : int or bool
        1: a progress bar over images; 2: also Ray's own logs and bars.
    **method_options
        Passed to the method (``layer=``, ``num_samples=``, ``class_names=``, ...); ``output=`` picks
        one of a multi-output model's outputs, as in :func:`superexplain.explain`.

    Returns
    -------
    DatasetResult
        The directory's index; ``.explanations()`` and ``.pairs()`` load lazily.

    Raises
    ------
    ValueError
        Resuming with other settings, images or model than the run in ``out`` (the message says
        what changed, e.g. which files were added, removed or changed, or that the weights
        changed); start over with ``overwrite=True`` or give another ``out``.

    Examples
    --------
    >>> import tempfile, superexplain
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> result = superexplain.explain_dataset(load_demo_model(), make_shapes(4, seed=0).images,
    ...                                       method="gradcam", out=tempfile.mkdtemp(), verbose=0)
    >>> len(result), result.index[0]["status"]
    (4, 'done')
    >>> lime = superexplain.explain_dataset(load_demo_model(), make_shapes(2, seed=0).images, method="lime",
    ...                                     out=tempfile.mkdtemp(), batch_size=1, model_batch_size=16,
    ...                                     num_samples=20, verbose=0)
    >>> [e.params["batch_size"] for e in lime.explanations()], lime.settings["model_batch_size"]
    ([16, 16], 16)
    """

    check_choice(backend, "backend", ["local", "ray"])
    info = method_info(method)  # an unknown method fails here, before any file is written
    if not isinstance(verbose, (bool, int, np.integer)):
        raise TypeError(f"verbose must be an int or a bool; got {describe(verbose)}")
    verbose = int(verbose)
    batchable = info.batches_images
    if batch_size is None:
        batch_size = (_DEFAULT_PERTURBATION_BATCH if info.per_image_seeds
                      else _DEFAULT_BATCH if batchable else 1)
    batch_size = check_int(batch_size, "batch_size", 1)
    if batch_size > 1 and not batchable:
        raise ValueError(f"batch_size must be 1 for method {method!r}: it draws random numbers from one seed per "
                         f"call, and each image keeps its own seed only with one image per call; got {batch_size}")
    if model_batch_size is not None:
        model_batch_size = check_int(model_batch_size, "model_batch_size", 1)
    if top_labels is not None:
        top_labels = check_int(top_labels, "top_labels", 1)
    if num_workers is not None:
        num_workers = check_int(num_workers, "num_workers", 1)
    if worker_resources is not None and not isinstance(worker_resources, dict):
        raise TypeError(f"worker_resources must be a dict of Ray resources; got {describe(worker_resources)}")
    if ray_address is not None and not isinstance(ray_address, str):
        raise TypeError(f"ray_address must be None or a str such as 'auto'; got {describe(ray_address)}")
    if not isinstance(overwrite, (bool, np.bool_)):
        raise TypeError(f"overwrite must be True or False; got {describe(overwrite)}")
    size = _check_image_size(image_size)
    preprocess = _check_preprocess(preprocess)
    out = _check_out(out)
    seed = _resolve_seed(random_state, out, bool(overwrite))
    source = open_source(images)
    targets = check_target_spec(targets, source.length)
    options = jsonable_options(method_options, "method_options")
    class_names = method_options.pop("class_names", None)
    output = method_options.pop("output", None)  # picks the model's scores, as in explain(); not a method option
    check_options(method, method_options)  # a misspelt option fails before any file is written
    if isinstance(method_options.get("layer"), str) and method_options["layer"] == "best":
        raise ValueError('explain_dataset explains every image at one layer: rank first, on held-out images, with '
                         "ranking = superexplain.gradcam.rank_layers(model, images), then give layer=ranking.best "
                         "(the command line's --layer best does this)")
    loader = Loader(size=(size[0], size[1]) if size else None, preprocess=preprocess)
    os.makedirs(out, exist_ok=True)
    spec, model_class_names = model_spec(model, backend, out)
    plan = Plan(method, method_options, targets, top_labels, seed, loader,
                class_names if class_names is not None else model_class_names, output, model_batch_size)
    # the model is loaded (local) or fingerprinted (Ray) before the run directory is touched, so a
    # refused resume or a model that cannot load leaves the previous run as it was
    predictor = (build_predictor(spec, plan.class_names, plan.output, model_batch_size) if backend == "local"
                 else None)
    settings = {
        "format_version": 1, "method": method, "options": options, "targets": targets, "top_labels": top_labels,
        "random_state": seed, "batch_size": batch_size, "model_batch_size": model_batch_size, "image_size": size,
        "preprocess": jsonable_options(preprocess, "preprocess"), "source": source.description,
        "source_identity": source.identity(), "model_fingerprint": fingerprint_of(model, predictor),
    }
    digests: dict | None = {} if source.kind in STREAM_KINDS else None
    index = RunIndex(out, settings, overwrite=bool(overwrite))
    try:
        with progress(source.length or 0, f"explain_dataset {method}", verbose) as bar:
            bar.skip(len(index.done))  # done before: on the bar, not in the rate
            writer = Writer(out, index, method, bar, digests)
            units = pending_units(source, batch_size, index.done, digests, out)
            if backend == "local":
                explainer = UnitExplainer(predictor, plan)
                for unit in units:
                    writer(explainer.explain_unit(unit))
            else:
                from .ray_backend import run_on_ray

                run_on_ray(units, spec, plan, writer, ray_address=ray_address, num_workers=num_workers,
                           worker_resources=worker_resources, verbose=verbose)
    finally:
        index.close()
    result = DatasetResult(out, read_index(out), settings)
    if writer.failed:
        warnings.warn(f"{writer.failed} image(s) could not be explained; see DatasetResult.failed or the 'error' "
                      f"lines of {os.path.join(out, 'index.jsonl')}", stacklevel=2)
    return result
