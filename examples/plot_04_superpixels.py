"""
Choosing superpixels before LIME
================================

LIME, KernelSHAP and occlusion explain *superpixels*: whatever the segmentation makes a unit is
what the explanation can point at. Too few, and an object shares a superpixel with its
background; too many, and each one is a sliver the model cannot miss, with more samples needed.
Segmentation is cheap and the explanation is not, so look at the superpixels first. As in R's
lime, [`plot_superpixels`][superexplain.plot_superpixels] draws one setting and
[`plot_superpixels_grid`][superexplain.plot_superpixels_grid] a grid of them.
"""

import matplotlib.pyplot as plt
from skimage import data as skimage_data

import superexplain
from superexplain.datasets import load_demo_model, make_shapes
from superexplain.segmentation import segment, segment_stats

cat = skimage_data.chelsea()  # 300 x 451 RGB, uint8
print("image:", cat.shape, cat.dtype)

# %%
# One setting
# -----------
# SLIC with the settings LIME uses by default: about 50 superpixels, compactness ("weight", as in
# R lime) 10. The title gives what they produced: how many segments, and their mean, smallest and
# largest size in pixels.

ax = superexplain.plot_superpixels(cat, n_superpixels=50, weight=10, figsize=(6, 4))

# %%
# A grid of settings
# ------------------
# Columns are the number of superpixels asked for, rows the weight. A low weight lets segments
# follow colour edges (the cat's outline, the stripes); a high one makes them squarer and more
# even in size, closer to a grid that ignores the image.

fig = superexplain.plot_superpixels_grid(cat, n_superpixels=[25, 50, 100], weight=[3, 10, 30], panel_size=2.6)

# %%
# The same numbers without a figure: `segment` returns the labels LIME would use, and
# `segment_stats` summarises them.

for n_segments in (25, 50, 100):
    labels = segment(cat, "slic", n_segments=n_segments, compactness=10)
    print(f"n_segments={n_segments:3d}: {segment_stats(labels)}")

# %%
# Other segmentation methods
# --------------------------
# `method=` takes any of `segment`'s methods. Quickshift (the reference `lime` package's default)
# and Felzenszwalb take their own options instead of `n_superpixels` and `weight`; "grid" is the
# baseline that ignores the image. Each call draws into the axes it is given. (The photo is halved
# first: quickshift takes seconds per megapixel.)

coffee = skimage_data.coffee()[::2, ::2]
fig, axes = plt.subplots(1, 4, figsize=(14, 3.8))
superexplain.plot_superpixels(coffee, n_superpixels=50, weight=10, ax=axes[0])
superexplain.plot_superpixels(coffee, method="quickshift", kernel_size=4, max_dist=40, ax=axes[1])
superexplain.plot_superpixels(coffee, method="felzenszwalb", scale=200, ax=axes[2])
superexplain.plot_superpixels(coffee, method="grid", n_superpixels=48, ax=axes[3])
fig.tight_layout()

# %%
# What the choice does to an explanation
# --------------------------------------
# The same LIME run on a demo image with coarse, default and fine superpixels
# (`segmentation={"method": "slic", ...}`; `segments=` takes labels you computed yourself).
# Coarse superpixels merge the object with its surroundings; fine ones split it into pieces that
# each matter less: the largest weight falls from about 0.6 to a few thousandths (printed below;
# each panel has its own colour scale, or the finer two would look empty).

model = load_demo_model()
image = make_shapes(6, seed=7).images[4]
runs = [superexplain.explain(model, image, method="lime", segmentation={"method": "slic", "n_segments": n},
                             num_samples=500, random_state=0, verbose=0)
        for n in (15, 50, 120)]
for run in runs:
    print(f"{run.weights.size:3d} superpixels: largest weight {run.weights.max():.3f}, "
          f"surrogate R^2 {run.local_fit:.2f}")
fig = superexplain.compare(runs)
