"""
Gradients and perturbations: do they agree?
===========================================

Two families answer "what did the model look at?" in different ways. Gradient methods read the
model's derivatives: Grad-CAM at the last convolutional layer, integrated gradients at the pixels.
Perturbation methods hide parts of the image and watch the score: LIME fits a linear model to
many random hidings of superpixels, occlusion hides one superpixel at a time. Here all four
explain one image, [`superexplain.compare`][superexplain.compare] draws them side by side, and
[`superexplain.metrics.agreement`][superexplain.metrics.agreement] puts a number on how much
they agree.
"""

import numpy as np

import superexplain
from superexplain.datasets import load_demo_model, make_shapes
from superexplain.metrics import agreement, relevance_mass

model = load_demo_model()
data = make_shapes(6, seed=1)
image, mask = data.images[2], data.masks[2]

# %%
# Four explanations of one image
# ------------------------------
# Each method explains the predicted class. The seeded methods take `random_state`, so the page
# shows the same numbers on every build.

gradcam = superexplain.explain(model, image, method="gradcam", verbose=0)
integrated = superexplain.explain(model, image, method="integrated_gradients", verbose=0)
lime = superexplain.explain(model, image, method="lime", random_state=0, verbose=0)
occlusion = superexplain.explain(model, image, method="occlusion", verbose=0)
print("predicted:", gradcam.target_name, "| true:", model.class_names[data.labels[2]])

fig = superexplain.compare([gradcam, integrated, lime, occlusion])

# %%
# Each panel has its own colour scale and colour bar in its own units (a logit attribution, LIME
# weights in probability units, a probability drop), because the four are not on one scale.
#
# The integrated-gradients panel looks empty. Its map is there, but a pixel attribution is
# heavy-tailed: a few pixels hold the largest values, and the overlay's opacity grows linearly up
# to the largest, so most pixels are drawn almost transparent. Clipping the colour scale at the
# 99th percentile of |value| (captum's visualiser clips 2% by default) shows where the attribution
# lies:

magnitude = np.abs(integrated.heatmap)
print("|IG| quantiles 50/90/99/100%:", np.quantile(magnitude, [0.5, 0.9, 0.99, 1.0]).round(3))
limit = float(np.quantile(magnitude, 0.99))
ax = superexplain.plot(integrated, vmin=-limit, vmax=limit, colorbar=True,
                       title="integrated gradients, scale clipped at the 99th percentile")

# %%
# How much do they agree?
# -----------------------
# `agreement(a, b)` reports the Spearman rank correlation (signed, and of absolute values), the
# overlap of the top 10% of features and SSIM. It does so per pixel and per superpixel: there, a
# pixel map is summed over each superpixel and a perturbation method contributes its own weights.
# The superpixel level is the fair one between Grad-CAM and LIME, which cannot say anything finer
# than a superpixel.

rows = {"integrated gradients": integrated, "LIME": lime, "occlusion": occlusion}
print(f"{'Grad-CAM vs':22s} {'level':11s} {'spearman':>9s} {'|spearman|':>10s} {'top 10%':>8s} {'SSIM':>6s}")
for name, other in rows.items():
    result = agreement(gradcam, other)
    for level, values in (("pixels", result.pixel), ("superpixels", result.segment)):
        print(f"{name:22s} {level:11s} {values['spearman']:9.3f} {values['spearman_abs']:10.3f} "
              f"{values['topk']:8.3f} {values['ssim']:6.3f}")

ax = agreement(gradcam, lime).plot()

# %%
# Grad-CAM is never negative (a ReLU ends it), while the other three are signed, so the signed
# Spearman is low for all of them; the absolute one says whether they rank the same places as
# important. Per superpixel, integrated gradients and occlusion mostly do, LIME least.
#
# LIME's picture shows why. The cross is two superpixels: one gets a weight *against* the class,
# the other half the largest weight, and the largest goes to a superpixel that holds one arm's tip
# and some background. That is not sampling noise: the standard errors are a tenth of the largest
# weight. LIME hides a superpixel by painting it with its own mean colour (`hide_color="mean"`,
# the default of the reference `lime` package). A superpixel that is all flat-coloured cross is
# painted in its own colour: "hidden", that part of the cross is still there, so the samples say
# little about it. Only a superpixel that mixes the object with background changes much when hidden.
#
# What "hidden" means
# -------------------
# Hiding by a blur (`hide_color="blur"`) removes the object's shape instead. The explanations below
# differ only in that option.

lime_blur = superexplain.explain(model, image, method="lime", hide_color="blur", random_state=0, verbose=0)
occlusion_blur = superexplain.explain(model, image, method="occlusion", hide_color="blur", verbose=0)
fig = superexplain.compare([lime, lime_blur, occlusion_blur])

for name, other in {"LIME, mean": lime, "LIME, blur": lime_blur, "occlusion, blur": occlusion_blur}.items():
    values = agreement(gradcam, other).segment
    print(f"Grad-CAM vs {name:16s} superpixels: spearman {values['spearman']:.3f}, top 10% {values['topk']:.2f}")

# %%
# Agreement between two methods is not correctness: both can be wrong together. Against the true
# object mask, the share of each map's positive evidence that falls on the object
# ([`relevance_mass`][superexplain.metrics.relevance_mass]; the object covers about a tenth of
# the image):

for name, explanation in {"Grad-CAM": gradcam, "integrated gradients": integrated, "LIME, mean": lime,
                          "LIME, blur": lime_blur, "occlusion": occlusion}.items():
    print(f"{name:22s} relevance mass {relevance_mass(explanation, mask).score:.3f}")
print(f"object area fraction {mask.mean():.3f}")
