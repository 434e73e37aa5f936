"""
A dataset on Ray with explain_dataset
=====================================

[`superexplain.explain_dataset`][superexplain.explain_dataset] explains every image of a
dataset into a run folder: one Explanation file per image and target, and an index. It streams
(the dataset is never held in memory), resumes after a crash, and runs on one machine or on a Ray
cluster with the same results bit for bit. See [Whole datasets and Ray](../../scale.md).

This example runs a small job on a local Ray with two CPUs, checks that it wrote the same files as
the local backend, and reads the run back.
"""

import json
import tempfile
from pathlib import Path

import numpy as np
import ray

import superexplain
from superexplain.datasets import load_demo_model, make_shapes
from superexplain.metrics import deletion
from superexplain.runner import DatasetResult

model = load_demo_model()
data = make_shapes(6, seed=3)
runs = Path(tempfile.mkdtemp())

# %%
# Start Ray
# ---------
# A Ray your script has started is used as it is; without one, `explain_dataset` starts a local
# Ray with `num_workers` CPUs and stops it at the end. On a cluster, pass
# `ray_address="auto"` and `worker_resources={"num_gpus": 1}` for one actor per GPU.

ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
print("Ray CPUs:", ray.cluster_resources().get("CPU"))

# %%
# Explain the dataset on Ray
# --------------------------
# The in-memory model is saved as a `.keras` file whose bytes go to the workers; each worker (a
# Ray actor) loads it once and explains units of images as they come. One worker here (this machine
# has two cores; each worker imports TensorFlow); a cluster would use one per GPU or several per
# node. Image `i` gets its own seed, derived from `random_state` and `i`, so the result depends
# neither on the backend nor on the number of workers.
#
# LIME explains the logit here (`score="logit"`): the demo model is so sure of these images that
# its probability is 1 to seven digits whatever is hidden, and LIME's weights on the probability
# would be about 1e-6, noise.

on_ray = superexplain.explain_dataset(model, data.images, method="lime", out=runs / "lime-ray", backend="ray",
                                      num_workers=1, num_samples=300, score="logit", random_state=0, verbose=0)
print(on_ray)
print("explanations written:", len(on_ray), "| failed:", len(on_ray.failed))
ray.shutdown()

# %%
# The run folder holds `run.json` (what a resume compares: the images, the model's fingerprint,
# the settings), `index.jsonl` (one line per image and target, with its seed) and the files.

print(sorted(path.name for path in (runs / "lime-ray").iterdir()))
first_line = (runs / "lime-ray" / "index.jsonl").read_text().splitlines()[0]
print(json.dumps(json.loads(first_line), indent=1))

# %%
# The same run, locally
# ---------------------
# The local backend writes the same folder. Each image's LIME weights are identical, bit for bit.

local = superexplain.explain_dataset(model, data.images, method="lime", out=runs / "lime-local",
                                     num_samples=300, score="logit", random_state=0, verbose=0)
identical = all(np.array_equal(a.weights, b.weights) and a.params["seed"] == b.params["seed"]
                for a, b in zip(on_ray.explanations(), local.explanations()))
print("Ray and local runs identical:", identical)

# %%
# Calling it again resumes: only what is missing is explained (here nothing), and a resume whose
# images or model changed stops with an error that says what changed.

again = superexplain.explain_dataset(model, data.images, method="lime", out=runs / "lime-local",
                                     num_samples=300, score="logit", random_state=0, verbose=0)
print("after the resume:", len(again), "explanations")

# %%
# Reading a run back
# ------------------
# `DatasetResult.open` reads a folder later, elsewhere; `pairs()` loads (image, explanation) one at a
# time. The metrics take a run in place of an image and an explanation and aggregate over its
# images: here the deletion AUC, with its mean and 95% interval.

result = DatasetResult.open(runs / "lime-ray")
explanations = [explanation for _, explanation in result.pairs()]
fig = superexplain.compare([[explanation] for explanation in explanations[:3]], panel_size=2.4)

curve = deletion(model, result)
print("deletion AUC per image:", np.round(curve.aucs, 3))
print(f"mean {curve.auc:.3f}, 95% interval [{curve.interval[0]:.3f}, {curve.interval[1]:.3f}]")
