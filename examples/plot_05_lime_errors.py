"""
LIME's standard errors and its stopping rule
============================================

LIME's weights are estimates from random samples: another seed gives other weights. superexplain
reports how far to trust each one (`weight_errors`, a standard error per superpixel) and, by
default (`num_samples="auto"`), samples until the top five superpixels are stable rather than
for a fixed 1000. This example reads both. The details are in
[Perturbation methods](../../perturbation.md#standard-errors).
"""

import matplotlib.pyplot as plt
import numpy as np

import superexplain
from superexplain.datasets import load_demo_model, make_shapes

model = load_demo_model()
data = make_shapes(6, seed=7)
image = data.images[0]

# %%
# Weights and their errors
# ------------------------
# `weight_errors` is a cluster-robust ("sandwich") standard error, clustered on the independent
# blocks of the mask design. A weight whose size is below about twice its error is noise: another
# seed may reorder it.

lime = superexplain.explain(model, image, method="lime", random_state=0, verbose=0)
order = np.argsort(-lime.weights)
print(f"class {lime.target_name}, {lime.weights.size} superpixels, {lime.params['samples_used']} samples")
for rank, segment_id in enumerate(order[:8], start=1):
    weight, error = lime.weights[segment_id], lime.weight_errors[segment_id]
    print(f"  {rank}. segment {segment_id:2d}: {weight:+.4f} ± {error:.4f}  (weight / error = {weight / error:5.1f})")

fig, (ax_map, ax_bars) = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [1, 1.6]})
superexplain.plot(lime, kind="outline", num_features=5, ax=ax_map)
shown = order[:12]
ax_bars.bar(np.arange(shown.size), lime.weights[shown], yerr=2 * lime.weight_errors[shown], capsize=3,
            color=["tab:red" if rank < 5 else "tab:gray" for rank in range(shown.size)])
ax_bars.set_xticks(np.arange(shown.size), [str(s) for s in shown])
ax_bars.set_xlabel("segment (by weight)")
ax_bars.set_ylabel("LIME weight ± 2 standard errors")
ax_bars.set_title("the top 5 (red) and the next ones")
fig.tight_layout()

# %%
# Do the errors mean what they say?
# ---------------------------------
# Run the same explanation with other seeds at a fixed number of samples: the spread of each
# weight across seeds should match the standard error one run reports. (The test suite checks
# this calibration on 200 seeds; six give a rough idea.)

runs = [superexplain.explain(model, image, method="lime", num_samples=300, random_state=seed, verbose=0)
        for seed in range(1, 7)]
weights = np.array([run.weights for run in runs])
reported = np.sqrt(np.mean([run.weight_errors ** 2 for run in runs], axis=0))
spread = weights.std(axis=0, ddof=1)
top = order[:5]
print("segment  spread over 6 seeds  reported error")
for segment_id in top:
    print(f"   {segment_id:2d}        {spread[segment_id]:.4f}           {reported[segment_id]:.4f}")
print(f"all segments: spread / reported = {np.sqrt(np.mean(spread ** 2) / np.mean(reported ** 2)):.2f}")

# %%
# The stopping rule
# -----------------
# With `num_samples="auto"` (the default) the samples are drawn in rounds of whole design blocks.
# After each round the run stops when the 5th and 6th weights are apart by at least a Student-t
# multiple of their combined error, for every explained class; otherwise it goes on, up to
# `max_samples` (4000). `params["stopping"]` records what happened; `margin` is the gap over its
# bar (the rule holds at 1).

for index in range(3):
    run = lime if index == 0 else superexplain.explain(model, data.images[index], method="lime", random_state=0,
                                                         verbose=0)
    stopping = run.params["stopping"]
    print(f"image {index} ({run.target_name:8s}): {run.params['samples_used']:4d} samples, "
          f"stopped by {stopping['stopped_by']:4s}, margin {stopping['margin']:.2f}")

# %%
# Image 1 stops at the floor (the first check, after two design blocks: no rule can stop sooner,
# since one block gives no error estimate); image 2 runs to the cap with a margin below 1. A run
# that stops at the cap has a 5th and 6th superpixel that even 4000 samples cannot tell apart:
# they are equally good, and the order of the last few of the top five is not to be trusted. That
# is what the errors are for: look at them before reading the order. A margin just above 1 at a
# stop is a close call too.
#
# Stricter, or fixed
# ------------------
# `convergence={"z": 2}` asks for two standard errors instead of one; an integer `num_samples` is
# a fixed run, like the reference lime's 1000 (with `convergence=True` it becomes the cap of an
# automatic run). Samplers are prefix-consistent: an automatic run that stopped after n samples
# draws the same masks as a fixed run of n samples with the same seed, so the weights agree (to the
# last bits of float32 arithmetic, which can depend on how the samples were cut into batches).

strict = superexplain.explain(model, image, method="lime", convergence={"z": 2}, random_state=0, verbose=0)
fixed = superexplain.explain(model, image, method="lime", num_samples=lime.params["samples_used"],
                             random_state=0, verbose=0)
print("z=2:", strict.params["samples_used"], "samples, stopped by", strict.params["stopping"]["stopped_by"])
print("largest difference from the fixed run of as many samples:", float(np.abs(fixed.weights - lime.weights).max()))
