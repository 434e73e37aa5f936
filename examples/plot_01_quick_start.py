"""
Quick start: Grad-CAM and LIME on one image
===========================================

Load the bundled demo model, make a test image whose object we know, and ask two very different
methods what the model looked at: Grad-CAM reads the gradients at the last convolutional layer,
LIME hides superpixels and fits a linear model to how the score changes. Both return the same
[`Explanation`][superexplain.Explanation] record and are drawn by the same
[`superexplain.plot`][superexplain.plot].
"""

import matplotlib.pyplot as plt

import superexplain
from superexplain.datasets import CLASS_NAMES, load_demo_model, make_shapes

# %%
# The model and an image
# ----------------------
# The demo model is a small CNN (64x64 RGB in [0, 1]) trained to tell four planted shapes apart;
# it ships inside the package, so nothing is downloaded. `make_shapes` draws test images with the
# true label and the object's pixel mask.

model = load_demo_model()
data = make_shapes(6, seed=7)
image = data.images[4]
print("classes:", CLASS_NAMES)
print("true label:", CLASS_NAMES[data.labels[4]])

fig, ax = plt.subplots(figsize=(3, 3))
ax.imshow(image)
ax.contour(data.masks[4], levels=[0.5], colors="red", linewidths=1)
ax.set_title(f"a {CLASS_NAMES[data.labels[4]]} (true mask outlined)")
ax.set_axis_off()

# %%
# Grad-CAM
# --------
# One call. With no `target`, the predicted class is explained; with no `layer`, the last layer with
# a spatial output is used, and `params` says which and why.

gradcam = superexplain.explain(model, image, method="gradcam", verbose=0)
print(gradcam)
print("explained class:", gradcam.target_name, "| score:", round(gradcam.score, 3), gradcam.params["score_kind"])
print("layer:", gradcam.params["layer"], "|", gradcam.params["layer_reason"])
print("map at the layer:", gradcam.feature_map.shape, "-> heatmap:", gradcam.heatmap.shape)

ax = superexplain.plot(gradcam, colorbar=True)

# %%
# LIME
# ----
# LIME needs a seed (it samples masks) and by default samples until the top five superpixels are
# stable (see the [LIME example](plot_05_lime_errors.md)). Each superpixel gets a weight, red
# for the class and blue against it.

lime = superexplain.explain(model, image, method="lime", random_state=0, verbose=0)
print("superpixels:", lime.weights.size, "| samples used:", lime.params["samples_used"])
print("top 5 segments:", lime.top_segments(5))
print("surrogate R^2:", round(lime.local_fit, 3))

ax = superexplain.plot(lime, colorbar=True)

# %%
# Side by side
# ------------
# [`compare`][superexplain.compare] gives each panel its own colour scale and a colour bar in
# that method's units, so the two are not forced onto one scale they do not share.

fig = superexplain.compare([gradcam, lime])

# %%
# Saving
# ------
# An Explanation saves to a `.npz` without pickle and loads back equal; it can then be drawn on a
# machine without TensorFlow.

import tempfile
from pathlib import Path

with tempfile.TemporaryDirectory() as folder:
    path = gradcam.save(Path(folder) / "gradcam.npz")
    again = superexplain.Explanation.load(path)
    print("round trip equal:", again == gradcam)
