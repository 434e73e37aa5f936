"""explain_dataset throughput (local vs Ray, 1 and 2 workers) and the local backend's memory over thousands of images."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from ._common import table

#: Images per method in the full run. LIME at 1000 samples costs about 1 s per image on 2 cores, so
#: its three runs over 500 images would take some 20 minutes: 100 images measure the same ratios.
FULL_IMAGES = {"gradcam": 500, "lime": 100}

_RSS_SCRIPT = """
import json, sys, numpy as np, superexplain
from benchmarks._common import peak_rss_mb
from superexplain.datasets import load_demo_model, make_shapes
total, early, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
marks = {}
def images():  # generated on the fly, so the source itself holds nothing
    for start in range(0, total, 100):
        for i, image in enumerate(make_shapes(100, seed=start).images):
            if start + i == early:
                marks["early"] = peak_rss_mb()
            yield image
superexplain.explain_dataset(load_demo_model(), images(), "gradcam", out=out, verbose=0)
marks["end"] = peak_rss_mb()
print(json.dumps(marks))
"""


def _rss(total: int, early: int) -> tuple[float, float]:
    """Peak RSS (MB) of a fresh process after ``early`` and after ``total`` images (Grad-CAM, local)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = tempfile.mkdtemp(prefix="bench-rss-")
    try:
        env = {**os.environ, "PYTHONPATH": root, "TF_CPP_MIN_LOG_LEVEL": "3"}
        done = subprocess.run([sys.executable, "-c", _RSS_SCRIPT, str(total), str(early), out], env=env, cwd=root,
                              capture_output=True, text=True, check=True)
        marks = json.loads(done.stdout.strip().splitlines()[-1])
        return marks["early"], marks["end"]
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _rate(run) -> float:
    start = time.perf_counter()
    count = len(run())
    return count / (time.perf_counter() - start)


def run(quick: bool = False) -> str:
    import ray

    import superexplain
    from superexplain._dataset.ray_backend import _start
    from superexplain.datasets import load_demo_model, make_shapes

    lime_samples = 50 if quick else 1000
    rss_total, rss_early = (300, 100) if quick else (2000, 200)
    model = load_demo_model()
    all_images = make_shapes(16 if quick else max(FULL_IMAGES.values()), seed=11).images
    early, end = _rss(rss_total, rss_early)

    start = time.perf_counter()
    _start(ray, None, 2, 0)
    ray_init_s = time.perf_counter() - start
    rows = []
    base = tempfile.mkdtemp(prefix="bench-dataset-")
    try:
        for method, options in (("gradcam", {}), ("lime", {"num_samples": lime_samples})):
            images = all_images if quick else all_images[:FULL_IMAGES[method]]
            n_images = len(images)
            def local(method=method, options=options, images=images):
                out = tempfile.mkdtemp(dir=base)
                return superexplain.explain_dataset(model, images, method, out=out, verbose=0, **options)

            def on_ray(workers, method=method, options=options, images=images):
                out = tempfile.mkdtemp(dir=base)
                return superexplain.explain_dataset(model, images, method, out=out, backend="ray",
                                                    num_workers=workers, verbose=0, **options)

            local_rate = _rate(local)
            ray1_rate = _rate(lambda: on_ray(1))
            ray2_rate = _rate(lambda: on_ray(2))
            label = method if method == "gradcam" else f"lime ({lime_samples} samples)"
            rows.append([label, n_images, local_rate, ray1_rate, ray2_rate, local_rate / ray1_rate - 1.0,
                         ray2_rate / ray1_rate])
    finally:
        ray.shutdown()
        shutil.rmtree(base, ignore_errors=True)
    return (
        "## explain_dataset: images per second, demo model (64x64)\n\n"
        "Each run starts with an empty output directory and includes writing every Explanation file; Ray "
        f"runs include starting the actors (each imports TensorFlow and loads the model) but not `ray.init` "
        f"({ray_init_s:.1f} s, measured separately). Overhead = local rate / Ray 1-worker rate - 1 "
        "(goal <= 10%).\n\n"
        + table(["method", "images", "local img/s", "Ray 1 worker img/s", "Ray 2 workers img/s",
                 "Ray 1-worker overhead", "Ray 2 / Ray 1"], rows)
        + f"\n\nLocal backend memory (Grad-CAM, images generated on the fly, fresh process): peak RSS "
        f"{early:.0f} MB after {rss_early} images, {end:.0f} MB after {rss_total} "
        f"(growth {end - early:+.0f} MB; goal: within 200 MB).\n"
    )
