"""Shared benchmark helpers: timing, peak memory, machine description, markdown tables."""
from __future__ import annotations

import os
import platform
import resource
import time
from datetime import datetime, timezone
from typing import Callable, Sequence


def best_time(function: Callable[[], object], repeat: int = 3, warmup: int = 1) -> float:
    """The best wall-clock time of ``repeat`` runs after ``warmup`` untimed runs (seconds)."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def mobilenet_astronaut():
    """``keras.applications.MobileNetV2(weights=None)`` at 224x224 and skimage's astronaut at that size.

    The large-model case of the perturbation and adapter benchmarks (no weights can be downloaded
    here; an untrained MobileNetV2 costs the same to run).
    """
    import keras

    return keras.applications.MobileNetV2(weights=None, input_shape=(224, 224, 3)), astronaut_224()


def astronaut_224():
    """skimage's astronaut resized to 224x224, float32 in [0, 1]."""
    import numpy as np
    from skimage import data, transform

    return transform.resize(data.astronaut(), (224, 224), anti_aliasing=True).astype(np.float32)


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def machine() -> str:
    """One line naming the machine, for RESULTS.md."""
    import numpy

    parts = [platform.machine(), f"{os.cpu_count()} cores", f"Python {platform.python_version()}",
             f"numpy {numpy.__version__}"]
    try:
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        parts += [f"tensorflow {tf.__version__}", f"{len(gpus)} GPU" if gpus else "CPU only"]
    except ImportError:  # pragma: no cover
        pass
    try:
        import keras

        parts.append(f"keras {keras.__version__}")
    except ImportError:  # pragma: no cover
        pass
    return ", ".join(parts)


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table; floats get 3 significant digits."""
    def cell(value: object) -> str:
        if isinstance(value, float):
            return f"{value:.3g}"
        return str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
