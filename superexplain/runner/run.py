"""`explain_dataset`: explain every image of a dataset into a resumable directory, locally or on Ray, with identical results."""
from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from typing import Any, Callable

import numpy as np

from .index import (EXPLANATIONS_DIR, RunIndex, jsonable_options, read_index, read_settings,
                             temporary_name)
from .sources import STREAM_KINDS, Loader, image_digest, open_source, safe_stem, unit_of
from .worker import (Plan, UnitExplainer, build_predictor,
                              is_factory, model_fingerprint)
from .._progress import progress
from .._validation import check_choice, check_int, describe, resolve_seed
from ..explanation import Explanation, ExplanationFileError
from ..models.targets import check_target_spec
from ..registry import method_info

__all__ = ["explain_dataset", "DatasetResult"]

_DEFAULT_BATCH = 32  # images per call for methods that draw no random numbers
#: images per call for perturbation methods: their masked copies share full model batches, and a
#: unit is what a resumed run re-does, so it stays small
_DEFAULT_PERTURBATION_BATCH = 8


class DatasetResult:
    """A finished (or partly finished) run directory of :func:`explain_dataset`.

    Attributes
    ----------
    out : str
        The run directory.
    index : list of dict
        One entry per explanation (``status="done"``) and per image that could not be explained
        (``status="error"``), ordered by image index then target.
    settings : dict
        The run's settings, as recorded in ``run.json``.

    Examples
    --------
    >>> import tempfile, superexplain
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> out = tempfile.mkdtemp()
    >>> _ = superexplain.explain_dataset(load_demo_model(), make_shapes(2, seed=0).images, "gradcam",
    ...                                  out=out, verbose=0)
    >>> result = DatasetResult.open(out)
    >>> len(result), len(result.failed)
    (2, 0)
    >>> image, explanation = next(result.pairs())
    >>> image.shape, explanation.method
    ((64, 64, 3), 'gradcam')
    """

    def __init__(self, out: str, index: list[dict], settings: dict | None = None) -> None:
        self.out = out
        self.index = index
        self.settings = settings or {}

    @classmethod
    def open(cls, out: str | os.PathLike) -> "DatasetResult":
        """Reopen a run directory written by :func:`explain_dataset` (read only)."""
        if not isinstance(out, (str, os.PathLike)):
            raise TypeError(f"out must be a directory path; got {describe(out)}")
        out = os.fspath(out)
        settings = read_settings(out) if os.path.isdir(out) else None
        if settings is None:
            raise ValueError(f"{out!r} is not an explain_dataset output directory (no run.json)")
        return cls(out, read_index(out), settings)

    @property
    def done(self) -> list[dict]:
        """Index entries of the explanations written."""
        return [record for record in self.index if record["status"] == "done"]

    @property
    def failed(self) -> list[dict]:
        """Index entries of the images that could not be explained, with the ``error`` message."""
        return [record for record in self.index if record["status"] == "error"]

    def explanations(self) -> Iterator[Explanation]:
        """The explanations, loaded one at a time from disk, by image index then target.

        Raises
        ------
        ValueError
            At the first file that is missing or cannot be read (empty, cut short, damaged): the
            message names the file and its image. Such a file is not skipped, since a metric over
            the rest would silently average fewer images; delete it and call
            :func:`explain_dataset` again with the same ``out`` to explain that image again.
        """
        for record in self.done:
            path = os.path.join(self.out, record["file"])
            try:
                explanation = Explanation.load(path)
            except (ExplanationFileError, FileNotFoundError) as exc:
                problem = exc.problem if isinstance(exc, ExplanationFileError) else "the file is missing"
                raise ExplanationFileError(
                    path, f"{problem}. It is the explanation of image {record['index']} (id {record['id']!r}) of "
                          f"the run in {self.out!r}; delete it (if present) and call explain_dataset again with "
                          f"out={self.out!r} to explain that image again") from exc
            yield explanation

    def pairs(self) -> Iterator[tuple[np.ndarray, Explanation]]:
        """``(image, explanation)`` pairs; the image is the one the method explained (``explanation.image``).

        A missing or unreadable explanation file raises a ValueError naming it (see :meth:`explanations`).
        """
        for explanation in self.explanations():
            yield explanation.image, explanation

    def __len__(self) -> int:
        return len(self.done)

    def __repr__(self) -> str:
        return (f"DatasetResult(out={self.out!r}, method={self.settings.get('method')!r}, "
                f"explanations={len(self)}, failed={len(self.failed)})")


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


def _fingerprint(model: Any, predictor: Any) -> dict:
    """The model's fingerprint: of the Predictor the local backend built, or (Ray) of the model as loaded here.

    Ray workers load their own copies, so the driver loads a model path or calls a factory once
    itself, to fingerprint the model as it is now (a changed file is caught; a file saved again
    from the same model is not taken as changed).
    """
    from ..models import Predictor, load_model
    from ..models.keras_model import is_keras_model

    if predictor is not None:
        return model_fingerprint(predictor)
    if isinstance(model, (str, os.PathLike)):
        return model_fingerprint(load_model(model))
    if isinstance(model, Predictor) or is_keras_model(model) or not is_factory(model):
        return model_fingerprint(model)
    built = model()
    if built is None:
        raise TypeError("the model factory returned None; it must return a Keras model or a callable")
    return model_fingerprint(built)


def _model_spec(model: Any, backend: str, out: str) -> tuple[tuple, Any]:
    """How workers get the model: the object itself (local), a file's bytes, a path, or a factory."""
    from ..models import Predictor
    from ..models.keras_model import is_keras_model

    class_names = getattr(model, "class_names", None)
    if isinstance(model, Predictor):
        class_names = model.class_names
        if backend == "local" or model.keras_model is None:
            if backend == "ray":
                raise TypeError('backend="ray" cannot ship a Predictor over a plain callable; give a model path '
                                "or a zero-argument factory that builds the model")
            return ("object", model), class_names
        model = model.keras_model
    if isinstance(model, (str, os.PathLike)):
        path = os.path.abspath(os.fspath(model))
        if not os.path.exists(path):
            raise ValueError(f"model path {path!r} does not exist")
        if backend == "ray" and os.path.isfile(path):
            with open(path, "rb") as handle:
                return ("bytes", handle.read(), os.path.splitext(path)[1]), None
        return ("path", path), None
    if is_keras_model(model):
        if backend == "local":
            return ("object", model), class_names
        # each Ray worker loads its own copy, so the model travels as a .keras file's bytes
        path = os.path.join(out, temporary_name("model.keras"))
        try:
            model.save(path)
            with open(path, "rb") as handle:
                data = handle.read()
        except Exception as exc:
            raise TypeError(f'backend="ray" must send the model to its workers, but saving it failed '
                            f"({type(exc).__name__}: {exc}); give a model path or a zero-argument factory") from None
        finally:
            if os.path.exists(path):
                os.remove(path)
        return ("bytes", data, ".keras"), class_names
    if is_factory(model):
        return ("factory", model), None
    if callable(model):
        if backend == "ray":
            raise TypeError('backend="ray" needs a model each worker can load: a Keras model, a model path or a '
                            f"zero-argument factory that builds the model; got a callable {describe(model)} that "
                            "takes arguments (a model function). Wrap it: factory = lambda: my_model_function")
        return ("object", model), None
    raise TypeError("model must be a Keras model, a model path, a zero-argument factory or (local backend) a "
                    f"callable images -> scores; got {describe(model)}")


def _pending_units(source, unit_size: int, done: dict, digests: dict | None = None, out: str = "") -> Iterator[list]:
    """Units with at least one image to do, whole: an image's batch mates are re-run (and not written twice)
    so that a batched method sees the same batches as an uninterrupted run.

    With ``digests`` (a stream, which cannot be hashed ahead), each image is hashed as it comes: an
    image already done must hash as the run's did, and the hashes of the others are left in
    ``digests`` for the writer to record.
    """
    unit: list = []
    current = None
    for entry in source.entries():
        if digests is not None and isinstance(entry.payload, np.ndarray):
            digest = image_digest(entry.payload)
            recorded = done[entry.index][0].get("image_hash") if entry.index in done else None
            if recorded is not None and recorded != digest:
                raise ValueError(
                    f"images: image {entry.index} differs from the image the run in out={out!r} explained at that "
                    "index (the stream yields other images than the run's); resuming would mix the two runs' "
                    "explanations. Start over with overwrite=True, or give another out directory")
            if entry.index not in done:  # only what the writer will record: a long stream's done images add nothing
                digests[entry.index] = digest
        number = unit_of(entry.index, unit_size)
        if current is not None and number != current:
            if any(e.index not in done for e in unit):
                yield unit
            unit = []
        current = number
        unit.append(entry)
    if unit and any(e.index not in done for e in unit):
        yield unit


class _Writer:
    """Writes each image's explanations (atomically) and then its index lines, on the driver."""

    def __init__(self, out: str, index: RunIndex, method: str, bar, digests: dict | None = None) -> None:
        self.out, self.index, self.method, self.bar = out, index, method, bar
        self.digests = digests
        self.failed = 0

    def __call__(self, results: list[dict]) -> None:
        for result in results:
            digest = self.digests.pop(result["index"], None) if self.digests is not None else None
            if result["index"] in self.index.done:  # a batch mate re-run for identical batches
                continue
            base = {"index": result["index"], "id": result["key"], "method": self.method, "seed": result["seed"]}
            if digest is not None:  # a stream's image: a resume checks that the stream still yields it
                base["image_hash"] = digest
            if "error" in result:
                self.failed += 1
                self.index.append([{**base, "target": None, "target_name": None, "score": None, "file": None,
                                    "seconds": 0.0, "status": "error", "error": result["error"], "n_targets": 1}])
            else:
                records = []
                explanations = result["explanations"]
                for explanation in explanations:
                    name = _file_name(result["index"], result["key"], explanation.target)
                    path = os.path.join(self.out, name)
                    temporary = temporary_name(path)
                    explanation.save(temporary)
                    os.replace(temporary, path)
                    records.append({**base, "target": explanation.target, "target_name": explanation.target_name,
                                    "score": explanation.score, "file": name,
                                    "seconds": round(result["seconds"] / len(explanations), 6), "status": "done",
                                    "n_targets": len(explanations)})
                self.index.append(records)
                self.index.done[result["index"]] = records
            self.bar.update()


def _file_name(index: int, key: str, target: int) -> str:
    stem = safe_stem(key)
    middle = "" if stem == str(index) else f"_{stem}"
    return f"{EXPLANATIONS_DIR}/{index:06d}{middle}_t{target}.npz"


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
    return resolve_seed(random_state)


def explain_dataset(model: Any, images: Any, method: str = "gradcam", *, out: str | os.PathLike,
                    backend: str = "local", targets: Any = None, top_labels: int | None = None,
                    random_state: int | None = 0, batch_size: int | None = None,
                    image_size: Any = None, preprocess: str | Callable = "unit",
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
        ``"local"``: this process, streaming. ``"ray"``: Ray Data actors, each holding the model.
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
    loader = Loader(size=tuple(size) if size else None, preprocess=preprocess)
    os.makedirs(out, exist_ok=True)
    spec, model_class_names = _model_spec(model, backend, out)
    plan = Plan(method, method_options, targets, top_labels, seed, loader,
                class_names if class_names is not None else model_class_names, output)
    # the model is loaded (local) or fingerprinted (Ray) before the run directory is touched, so a
    # refused resume or a model that cannot load leaves the previous run as it was
    predictor = build_predictor(spec, plan.class_names, plan.output) if backend == "local" else None
    settings = {
        "format_version": 1, "method": method, "options": options, "targets": targets, "top_labels": top_labels,
        "random_state": seed, "batch_size": batch_size, "image_size": size,
        "preprocess": jsonable_options(preprocess, "preprocess"), "source": source.description,
        "source_identity": source.identity(), "model_fingerprint": _fingerprint(model, predictor),
    }
    digests = {} if source.kind in STREAM_KINDS else None
    index = RunIndex(out, settings, overwrite=bool(overwrite))
    try:
        with progress(source.length or 0, f"explain_dataset {method}", verbose) as bar:
            bar.update(len(index.done))
            writer = _Writer(out, index, method, bar, digests)
            units = _pending_units(source, batch_size, index.done, digests, out)
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
