"""The Ray backend: units of images flow through Ray Data `map_batches` into actors that each hold a model."""
from __future__ import annotations

import logging
import os
import pickle
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

__all__ = ["import_ray", "start_ray", "run_on_ray", "ExplainActor"]

_INSTALL = 'pip install "superexplain[ray]"'
#: Images of in-memory sources sent to Ray per pipeline, in bytes: bounds the object store's share.
CHUNK_BYTES = 256 * 2**20


def import_ray():
    """Import Ray and Ray Data, or say how to install them."""
    try:
        import ray
        import ray.data  # noqa: F401 - Ray Core alone lacks map_batches
    except ImportError as exc:
        raise ImportError(f'backend="ray" needs Ray with Ray Data, which is not installed ({exc}); install it with '
                          f"`{_INSTALL}`") from None
    return ray


class ExplainActor:
    """A Ray Data actor: builds its own Predictor once, then explains one unit per call."""

    def __init__(self, model_spec: tuple, plan: Any) -> None:
        # TensorFlow keeps its default thread pools: their size can change the last bits of a
        # convolution, and the results must equal the local backend's on the same machine
        import tensorflow as tf

        for gpu in tf.config.list_physical_devices("GPU"):
            try:  # this process is the actor's own; memory growth lets actors with fractional GPUs share one
                tf.config.experimental.set_memory_growth(gpu, True)
            except RuntimeError:  # TensorFlow already initialised the device: keep its setting
                pass
        from .model_spec import build_predictor
        from .worker import UnitExplainer

        predictor = build_predictor(model_spec, plan.class_names, plan.output, plan.model_batch_size)
        self.explainer = UnitExplainer(predictor, plan)

    def __call__(self, batch: dict) -> dict:
        import numpy as np

        results = [pickle.dumps(self.explainer.explain_unit(pickle.loads(unit))) for unit in batch["unit"]]
        return {"results": np.array(results, dtype=object)}


def _chunks(units: Iterable[list], max_bytes: int) -> Iterator[list[bytes]]:
    """Pickled units grouped so that a group's images stay under ``max_bytes`` (paths weigh almost nothing)."""
    chunk: list[bytes] = []
    size = 0
    for unit in units:
        chunk.append(pickle.dumps(unit))
        size += sum(entry.nbytes for entry in unit)
        if size >= max_bytes:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def start_ray(ray, ray_address: str | None, num_workers: int | None, verbose: int) -> bool:
    """Connect to (or start) Ray unless the caller already did; returns whether this call started it.

    ``ray_address=None`` starts a local Ray with ``num_workers`` CPUs (default: all), whose workers
    can import superexplain from this checkout; ``verbose > 1`` lets Ray log to the driver (below that,
    Ray's Python loggers report errors only).
    """
    if ray.is_initialized():
        return False
    options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": verbose > 1,
                               "logging_level": logging.INFO if verbose > 1 else logging.ERROR}
    if ray_address is None:
        import superexplain

        # local workers must import superexplain even when it is not installed (a source checkout)
        package_parent = os.path.dirname(os.path.dirname(os.path.abspath(superexplain.__file__)))
        python_path = os.pathsep.join(p for p in (package_parent, os.environ.get("PYTHONPATH")) if p)
        options["num_cpus"] = num_workers or os.cpu_count() or 1
        options["runtime_env"] = {"env_vars": {"PYTHONPATH": python_path, "TF_CPP_MIN_LOG_LEVEL": "2"}}
    else:
        options["address"] = ray_address
    ray.init(**options)
    return True


def _default_workers(ray, resources: dict) -> int:
    cluster = ray.cluster_resources()
    if resources.get("num_gpus"):
        return max(1, int(cluster.get("GPU", 0) // resources["num_gpus"]))
    return max(1, int(cluster.get("CPU", 1) // max(resources.get("num_cpus", 1), 1e-9)))


def run_on_ray(units: Iterable[list], model_spec: tuple, plan: Any, write: Callable[[list[dict]], None], *,
               ray_address: str | None, num_workers: int | None, worker_resources: dict | None,
               verbose: int) -> None:
    """Explain ``units`` on Ray; ``write`` receives each unit's results on the driver, as they come."""
    ray = import_ray()
    started = start_ray(ray, ray_address, num_workers, verbose)
    with warnings.catch_warnings():  # Ray Data's own deprecation notices, not the user's concern
        warnings.simplefilter("ignore", DeprecationWarning)
        context = ray.data.DataContext.get_current()
    saved = context.enable_progress_bars
    saved_order = context.execution_options.preserve_order
    data_logger = logging.getLogger("ray.data")
    saved_level = data_logger.level
    try:
        context.enable_progress_bars = verbose > 1
        # results reach the writer in the units' order, as on the local backend: index.jsonl is then the
        # same file whichever worker finished first
        context.execution_options.preserve_order = True
        if verbose <= 1:  # our bar counts images; Ray Data speaks only at verbose=2
            data_logger.setLevel(logging.ERROR)
        resources = dict(worker_resources or {"num_cpus": 1})
        workers = num_workers or _default_workers(ray, resources)
        for chunk in _chunks(units, CHUNK_BYTES):
            actors = min(workers, len(chunk))  # no idle actors (each one loads a model) for a short chunk
            # one unit per block: each unit's results reach the driver (and disk) as soon as it is done,
            # so a crash loses at most the units in flight and writing overlaps the workers' compute
            dataset = ray.data.from_items([{"unit": unit} for unit in chunk], override_num_blocks=len(chunk))
            dataset = dataset.map_batches(
                ExplainActor, fn_constructor_kwargs={"model_spec": model_spec, "plan": plan},
                batch_size=1, batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=actors), **resources,
            )
            for row in dataset.iter_rows():
                write(pickle.loads(row["results"]))
    finally:
        context.enable_progress_bars = saved
        context.execution_options.preserve_order = saved_order
        data_logger.setLevel(saved_level)
        if started:
            ray.shutdown()
