"""`superexplain.evaluate` on 100 demo images with every method and every check: time per image and peak memory,
local vs Ray.

Each backend runs in a fresh process whose whole process tree (the driver, and with Ray its raylet and
worker processes) is sampled for resident memory every 0.2 s. The run has two phases, timed apart:
the explanations (every method through ``explain_dataset``: what Ray spreads) and the checks (every
check against the two controls, in the driver on either backend).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile

from ._common import table

FULL_IMAGES = 100

_SCRIPT = r"""
import json, os, sys, threading, time
import numpy as np

def tree_rss_mb(root):
    children = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as handle:
                    parent = int(handle.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(name))
            except (OSError, IndexError, ValueError):
                pass
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            with open(f"/proc/{pid}/status") as handle:
                total += next(int(l.split()[1]) for l in handle if l.startswith("VmRSS:"))
        except (OSError, StopIteration):
            pass
    return total / 1024

peak = {"mb": 0.0}
stop = threading.Event()
def sample():
    while not stop.is_set():
        peak["mb"] = max(peak["mb"], tree_rss_mb(os.getpid()))
        time.sleep(0.2)
threading.Thread(target=sample, daemon=True).start()

import superexplain
from superexplain.datasets import load_demo_model, make_shapes, train_on_labels
from superexplain.registry import METHODS

backend, count, out, quick = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4] == "1"
shapes = make_shapes(count, seed=21)
train = make_shapes(128, seed=0)
methods = list(METHODS)
options = {"lime": {"num_samples": 100}, "kernelshap": {"num_samples": 100}, "rise": {"num_masks": 100}} if quick else None
common = dict(masks=shapes.masks, random_state=0, backend=backend, method_options=options, verbose=0)
timings = {}
if backend == "ray":
    import ray
    from superexplain.runner.ray_backend import start_ray
    start = time.perf_counter()
    start_ray(ray, None, 2, 0)
    timings["ray_init"] = time.perf_counter() - start
model = load_demo_model()
start = time.perf_counter()
first = superexplain.evaluate(model if backend == "local" else load_demo_model, shapes.images, methods, out=out,
                              checks=["sparseness"], **common)
timings["explain"] = time.perf_counter() - start
timings["explain_per_method"] = first.data["settings"]["seconds"]["explain"]
peak_explain = peak["mb"]
start = time.perf_counter()
report = superexplain.evaluate(model if backend == "local" else load_demo_model, shapes.images, methods, out=out,
                               train_fn=train_on_labels, train_data=(train.images, train.labels), **common)
timings["checks"] = time.perf_counter() - start
timings["per_check"] = report.data["settings"]["seconds"]["checks"]
timings["resume"] = sum(report.data["settings"]["seconds"]["explain"].values())
stop.set()
print(json.dumps({"timings": timings, "peak_explain_mb": peak_explain, "peak_mb": max(peak["mb"], peak_explain),
                  "checks": [c["name"] for c in report.data["checks"]], "methods": methods,
                  "best": report.best}))
"""


def _run(backend: str, count: int, quick: bool) -> dict:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = tempfile.mkdtemp(prefix=f"bench-evaluate-{backend}-")
    try:
        env = {**os.environ, "PYTHONPATH": root, "TF_CPP_MIN_LOG_LEVEL": "3"}
        done = subprocess.run([sys.executable, "-c", _SCRIPT, backend, str(count), out, "1" if quick else "0"],
                              env=env, cwd=root, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"the {backend} run failed:\n{done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(out, ignore_errors=True)


def run(quick: bool = False) -> str:
    count = 6 if quick else FULL_IMAGES
    local, remote = _run("local", count, quick), _run("ray", count, quick)
    rows = []
    for name, result in (("local", local), ("Ray (2 workers)", remote)):
        t = result["timings"]
        rows.append([name, t["explain"] / count, t["checks"] / count, (t["explain"] + t["checks"]) / count,
                     result["peak_explain_mb"], result["peak_mb"]])
    per_method = sorted(local["timings"]["explain_per_method"].items(), key=lambda item: -item[1])
    per_check = sorted(local["timings"]["per_check"].items(), key=lambda item: -item[1])
    ray_methods = remote["timings"]["explain_per_method"]
    method_rows = [[m, s / count, ray_methods[m] / count, s / ray_methods[m]] for m, s in per_method]
    check_rows = [[c, s / count, s / local["timings"]["checks"]] for c, s in per_check]
    t_local, t_ray = local["timings"], remote["timings"]
    return (
        f"## evaluate: {count} demo images (64x64), all {len(local['methods'])} methods, all "
        f"{len(local['checks'])} checks\n\n"
        f"`superexplain.evaluate` with masks (so the localisation checks run) and `train_fn=train_on_labels` (so "
        "data randomisation runs; it trains the permuted-label demo CNN once, on 128 images, inside the timing). "
        "Methods at their defaults (LIME and KernelSHAP `num_samples=\"auto\"`; the re-running checks use "
        "the first 4 images, perturbation methods at 200 samples there). Each backend in a fresh process; "
        "peak memory is the resident set of the whole process tree (the driver, and with Ray its raylet and "
        "worker processes), sampled every 0.2 s. Phase 1 explains every image with every method "
        "(`explain_dataset`: what Ray distributes); phase 2 runs every check against the random and edge "
        "controls in the driver (the same work on both backends; it reads phase 1's files back, "
        f"{t_local['resume']:.1f} s local, {t_ray['resume']:.1f} s Ray). `ray.init` itself "
        f"({t_ray.get('ray_init', 0.0):.1f} s) is not counted. The machine has 2 cores: Ray's 2 workers share "
        "them with the driver, so Ray here shows its overhead, not the speed-up of a cluster.\n\n"
        + table(["backend", "explain s/image", "checks s/image", "total s/image", "peak MB (explain)",
                 "peak MB (whole run)"], rows)
        + f"\n\nTotal: local {t_local['explain'] + t_local['checks']:.0f} s, Ray "
        f"{t_ray['explain'] + t_ray['checks']:.0f} s; explanations alone: local / Ray time "
        f"{t_local['explain'] / t_ray['explain']:.2f}.\n\n"
        "Explanations, per method (seconds per image):\n\n"
        + table(["method", "local s/image", "Ray s/image", "local / Ray"], method_rows)
        + "\n\nChecks, local run (seconds per image, share of the checks phase):\n\n"
        + table(["check", "s/image", "share"], check_rows) + "\n"
    )
