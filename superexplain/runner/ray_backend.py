"""The Ray backend: units of images flow to a pool of long-lived Ray actors that each load the model once."""
from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pickle
from collections.abc import Callable, Iterable, Iterator
from typing import Any

__all__ = ["import_ray", "start_ray", "run_on_ray", "ExplainActor", "shared_actors"]

_INSTALL = 'pip install "superexplain[ray]"'
#: Images of in-memory sources in flight on Ray at once, in bytes: bounds the object store's share
#: (at least one unit is always in flight, whatever its size).
CHUNK_BYTES = 256 * 2**20
#: Units queued on one actor at most: the next unit waits on the actor while it explains one, so
#: the actor does not idle during the driver's round trip.
UNITS_PER_ACTOR = 2
#: Models this process has built for an actor (read through ``ExplainActor.model_loads``).
_MODEL_LOADS = 0
#: The open :func:`shared_actors` blocks, innermost last: each maps a model and resources to its live actors.
_SHARED: list[dict] = []


def import_ray():
    """Import Ray and Ray Data, or say how to install them."""
    try:
        import ray
        import ray.data  # noqa: F401 - part of the ``ray`` extra; the docs' Ray set-up assumes it
    except ImportError as exc:
        if "NumPy 2" in str(exc):  # pyarrow 26 needs numpy 2 without declaring it; TensorFlow < 2.18 needs numpy 1
            raise ImportError(f'backend="ray" needs Ray Data, whose pyarrow does not run on this numpy ({exc}); '
                              'install a pyarrow that does: `pip install "pyarrow<26"`') from None
        raise ImportError(f'backend="ray" needs Ray with Ray Data, which is not installed ({exc}); install it with '
                          f"`{_INSTALL}`") from None
    return ray


class ExplainActor:
    """A Ray actor: builds its own Predictor once, then explains one unit per call, for the whole run."""

    def __init__(self, model_spec: tuple, plan: Any) -> None:
        # TensorFlow keeps its default thread pools: their size can change the last bits of a
        # convolution, and the results must equal the local backend's on the same machine
        import tensorflow as tf

        for gpu in tf.config.list_physical_devices("GPU"):
            try:  # this process is the actor's own; memory growth lets actors with fractional GPUs share one
                tf.config.experimental.set_memory_growth(gpu, True)
            except RuntimeError:  # TensorFlow already initialised the device: keep its setting
                pass
        self.model_spec = model_spec
        self.built_for: tuple[tuple, Any] | None = None  # (the model settings, the predictor built for them)
        self.explainer: Any = None  # the plan's UnitExplainer, which use_plan sets
        self.use_plan(plan)

    def use_plan(self, plan: Any) -> None:
        """Explain with ``plan`` from now on; the model is built again only if its class names, output or
        batch size changed (an actor kept by :func:`shared_actors` serves the next method this way)."""
        global _MODEL_LOADS
        from .model_spec import build_predictor
        from .worker import UnitExplainer

        wanted = (plan.class_names, plan.output, plan.model_batch_size)
        if self.built_for is None or self.built_for[0] != wanted:
            predictor = build_predictor(self.model_spec, *wanted)
            _MODEL_LOADS += 1
            self.built_for = (wanted, predictor)
        self.explainer = UnitExplainer(self.built_for[1], plan)

    def explain(self, unit: bytes) -> bytes:
        """One pickled unit's pickled results."""
        return pickle.dumps(self.explainer.explain_unit(pickle.loads(unit)))

    def model_loads(self) -> tuple[int, int]:
        """``(process id, models built in this process)``: one per actor."""
        return os.getpid(), _MODEL_LOADS


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
        # local workers must import superexplain even when it is not installed (a source checkout):
        # the folder holding the package (this file is superexplain/runner/ray_backend.py)
        package_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        python_path = os.pathsep.join(p for p in (package_parent, os.environ.get("PYTHONPATH")) if p)
        options["num_cpus"] = num_workers or os.cpu_count() or 1
        options["runtime_env"] = {"env_vars": {"PYTHONPATH": python_path, "TF_CPP_MIN_LOG_LEVEL": "2"}}
    else:
        options["address"] = ray_address
    ray.init(**options)
    return True


@contextlib.contextmanager
def shared_actors(ray_address: str | None = None, num_workers: int | None = None, verbose: int = 0) -> Iterator[None]:
    """Inside the block, Ray runs keep their actors for the next run with the same model and resources.

    Each :func:`superexplain.explain_dataset` call on Ray otherwise starts its own actors, and each
    imports TensorFlow and loads the model (seconds per actor); several methods on one model (as
    :func:`superexplain.evaluate` runs them) then pay that once. Ray is started on entry unless it
    is running (``ray_address``, ``num_workers`` and ``verbose`` as for ``explain_dataset``), and the
    actors are stopped on exit, and Ray too if the block started it. Not thread-safe: one block per
    driver thread.

    Examples
    --------
    Three methods, one model load per actor (starting Ray takes seconds, so this is not run here):

    >>> from superexplain.runner.ray_backend import shared_actors
    >>> with shared_actors(num_workers=2):  # doctest: +SKIP
    ...     for method in ("gradcam", "saliency", "lime"):
    ...         superexplain.explain_dataset("model.keras", "images/", method, out=f"runs/{method}",
    ...                                      backend="ray", num_workers=2)
    """
    ray = import_ray()
    started = start_ray(ray, ray_address, num_workers, verbose)
    pool: dict = {}
    _SHARED.append(pool)
    try:
        yield
    finally:
        _SHARED.remove(pool)
        for actors in pool.values():
            for actor in actors:
                ray.kill(actor)
        if started:
            ray.shutdown()


def _pool_key(model_spec: tuple, resources: dict, workers: int) -> tuple:
    """What must match for a run to reuse actors: the model (a file's bytes by hash), resources, worker count."""
    kind = model_spec[0]
    model = hashlib.sha256(model_spec[1]).hexdigest() if kind == "bytes" else model_spec[1]
    return kind, model, tuple(sorted(resources.items())), workers


def _default_workers(ray, resources: dict) -> int:
    cluster = ray.cluster_resources()
    if resources.get("num_gpus"):
        return max(1, int(cluster.get("GPU", 0) // resources["num_gpus"]))
    return max(1, int(cluster.get("CPU", 1) // max(resources.get("num_cpus", 1), 1e-9)))


def run_on_ray(units: Iterable[list], model_spec: tuple, plan: Any, write: Callable[[list[dict]], None], *,
               ray_address: str | None, num_workers: int | None, worker_resources: dict | None,
               verbose: int) -> dict:
    """Explain ``units`` on Ray; ``write`` receives each unit's results on the driver, in the units' order.

    Up to ``num_workers`` actors are started, as units arrive (a short run starts no idle
    actor), and each loads the model once for the whole run. Each unit goes to the actor with
    the fewest units queued (at most ``UNITS_PER_ACTOR``), while the images in flight stay under
    ``CHUNK_BYTES`` (image files weigh almost nothing: the actors read them). Results that finish
    early wait on the driver for the units before them, so ``index.jsonl`` is the same file
    whichever actor finished first, as on the local backend.

    Returns ``{"actors": [(pid, model loads), ...], "units": n, "peak_bytes": b}``: what the run
    took (one model load per actor; the most image bytes in flight at once).
    """
    ray = import_ray()
    started = start_ray(ray, ray_address, num_workers, verbose)
    resources = dict(worker_resources or {"num_cpus": 1})
    workers = num_workers or _default_workers(ray, resources)
    remote_actor = ray.remote(ExplainActor).options(**resources)
    spec_ref, plan_ref = ray.put(model_spec), ray.put(plan)  # a model file's bytes go to the store once
    pool = _SHARED[-1] if _SHARED else None
    actors: list = [] if pool is None else pool.setdefault(_pool_key(model_spec, resources, workers), [])
    ray.get([actor.use_plan.remote(plan_ref) for actor in actors])  # actors kept from an earlier run
    queued: list[int] = [0] * len(actors)  # units queued per actor
    pending: dict = {}  # object ref -> (position, actor number, bytes)
    finished: dict[int, list[dict]] = {}  # results waiting for an earlier unit's
    written = submitted = in_flight = peak = 0

    def collect(block: bool) -> None:
        nonlocal written, in_flight
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=None if block else 0)
        for ref in ready:
            position, actor, size = pending.pop(ref)
            finished[position] = pickle.loads(ray.get(ref))  # a method's error is raised here
            queued[actor] -= 1
            in_flight -= size
        while written in finished:
            write(finished.pop(written))
            written += 1

    try:
        for unit in units:
            size = sum(entry.nbytes for entry in unit)
            while pending and (in_flight + size > CHUNK_BYTES or min(queued) >= UNITS_PER_ACTOR):
                collect(block=True)
            actor = min(range(len(actors)), key=queued.__getitem__, default=None)
            if actor is None or (queued[actor] and len(actors) < workers):
                actors.append(remote_actor.remote(spec_ref, plan_ref))
                queued.append(0)
                actor = len(actors) - 1
            pending[actors[actor].explain.remote(pickle.dumps(unit))] = (submitted, actor, size)
            queued[actor] += 1
            submitted += 1
            in_flight += size
            peak = max(peak, in_flight)
            collect(block=False)  # write what is done as it comes
        while pending:
            collect(block=True)
        loads = ray.get([actor.model_loads.remote() for actor in actors])
        return {"actors": [tuple(load) for load in loads], "units": submitted, "peak_bytes": peak}
    finally:
        if pool is None:  # kept actors are stopped when their shared_actors block ends
            for actor in actors:
                ray.kill(actor)
        if started:
            ray.shutdown()
