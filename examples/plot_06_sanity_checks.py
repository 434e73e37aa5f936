"""
Sanity checks: Sensitivity-n and model randomisation
====================================================

An explanation is only useful if it says something about the **model**, not just the image. Two
checks from the literature, as their papers define them
(see [Metrics and sanity checks](../../sanity.md)):

- **Sensitivity-n** (Ancona et al., arXiv 1711.06104): hide n features at random; does the sum
  of their attributions track the drop in the score? ([`sensitivity_n`][superexplain.metrics.sensitivity_n])
- **Model-parameter randomisation** (Adebayo et al., arXiv 1810.03292): re-initialise the model's
  layers from the top down; an explanation of the model must change as its weights are destroyed.
  ([`model_randomization`][superexplain.sanity.model_randomization])

Both are read against two controls: a random map (every method should beat it) and an edge map of
the image (it ignores the model, so a check it passes measures the image, not the model).
"""

import matplotlib.pyplot as plt

import superexplain
from superexplain.datasets import load_demo_model, make_shapes
from superexplain.metrics import edge_map, random_map, sensitivity_n
from superexplain.sanity import model_randomization
from superexplain.segmentation import segment

model = load_demo_model()
data = make_shapes(6, seed=7)
image = data.images[0]

# %%
# Sensitivity-n on superpixels
# ----------------------------
# Superpixels are the fair feature space for comparing pixel maps with LIME (a pixel map is summed
# over each superpixel). Everything is scored on the same superpixels and the same random
# subsets. The perturbation methods are run the way the check removes features (hidden to 0, on
# the logit), so that they answer the question it asks.

segments = segment(image)
explanations = {
    "gradcam": superexplain.explain(model, image, method="gradcam", verbose=0),
    "integrated_gradients": superexplain.explain(model, image, method="integrated_gradients", verbose=0),
    "lime": superexplain.explain(model, image, method="lime", segments=segments, hide_color=0.0, score="logit",
                                 random_state=0, verbose=0),
    "occlusion": superexplain.explain(model, image, method="occlusion", segments=segments, hide_color=0.0,
                                      score="logit", verbose=0),
}
explanations["random (control)"] = random_map(explanations["lime"], random_state=0)  # one value per superpixel
explanations["edge (control)"] = edge_map(explanations["lime"])

result = sensitivity_n(model, image, explanations, num_subsets=50, random_state=0)
print("n:", result.ns)
for name, correlations in result.correlations.items():
    print(f"{name:22s} n=1: {correlations[0]:+.2f}   mean over n: {correlations.mean():+.2f}")
# the result draws into axes it is given; a constrained layout keeps the axis labels inside the figure
fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
ax = result.plot(ax=ax)

# %%
# Occlusion is exact at n = 1 by construction (its weight *is* the drop when that one superpixel
# is hidden), and its correlation falls as n grows, as the paper found: no method can satisfy
# Sensitivity-n for every n on a non-linear model. LIME, fitted on exactly this kind of masking,
# holds up best at large n. The random map hovers around 0, as a control should. The edge map is
# not far below Grad-CAM at small n: here the object's edges are where the evidence is, so for
# this image the check cannot fully separate "explains the model" from "finds edges".
#
# Model randomisation
# -------------------
# The model is cloned (yours is never changed) and its layers are re-initialised, cumulatively
# from the output down ("cascading"), with each layer's own initialisers. After each step the
# method explains the damaged model, and its map is compared with the trained model's map.

gradcam_check = model_randomization(model, data.images[:2], method="gradcam", mode="cascading", random_state=0)
print("layers, output first:", gradcam_check.layers)
print("Spearman |.| after each step:", gradcam_check.scores["spearman_abs"].mean(axis=1).round(2))
ax = gradcam_check.plot()

# %%
# Grad-CAM passes: its similarity to the trained model's map falls as the layers are randomised.
#
# Guided backpropagation is the paper's counterexample: it stays close to an edge detector, so it
# keeps looking like its trained self long after the weights are gone. The edge map is the test of
# the test: it ignores the model, so its similarity must stay exactly 1.

guided_check = model_randomization(model, data.images[:2], method="guided_backprop", mode="cascading",
                                   random_state=0)
edge_check = model_randomization(model, data.images[:2], method="edge", mode="cascading", random_state=0)
for name, check in {"gradcam": gradcam_check, "guided_backprop": guided_check, "edge (control)": edge_check}.items():
    print(f"{name:16s} SSIM after each step: {check.scores['ssim'].mean(axis=1).round(2)}")
ax = guided_check.plot()

# %%
# Read these curves with the critiques in mind (Tomsett et al., arXiv 1912.01451; Yona &
# Greenfeld, arXiv 2110.14297): the similarity measures themselves have biases, and two images are
# a demonstration, not a study. [`superexplain.evaluate`][superexplain.evaluate] runs these checks
# and the others on many images with intervals (next example).
