"""
Your own Keras model: nested backbone, preprocessing, mixed precision
=====================================================================

The transfer-learning pattern: a backbone used as *one layer* of a functional model, the
preprocessing built into the model as a layer, a pooling + Dense head, and the whole model run in
`mixed_float16`. superexplain needs nothing special for any of it: the automatic layer is found
inside the backbone, inner layers are named by path, and the float16 model's maps equal the
float32 model's within float16 rounding.
"""

import keras
import numpy as np
from skimage import data as skimage_data
from skimage.transform import resize

import superexplain
from superexplain.datasets import build_demo_model, load_demo_model, make_shapes
from superexplain.metrics import agreement

# %%
# A `keras.applications` backbone
# -------------------------------
# MobileNetV2 without its top, inside a functional model. It expects pixels in [-1, 1]; a
# `Rescaling` layer in front makes the whole model take plain 0-255 pixels, and so do the
# explanations, since images are passed to the model exactly as given.
#
# Nothing can be downloaded here, so the backbone is built with `weights=None`.

keras.utils.set_random_seed(0)
backbone = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(96, 96, 3), alpha=0.35)
inputs = keras.Input((96, 96, 3), name="pixels_0_255")
x = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="to_minus1_1")(inputs)
x = backbone(x)
x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
outputs = keras.layers.Dense(4, activation="softmax", name="classes")(x)
mobilenet_model = keras.Model(inputs, outputs, name="mobilenetv2_classifier")
print("outer layers:", [layer.name for layer in mobilenet_model.layers])

photo = resize(skimage_data.astronaut(), (96, 96), anti_aliasing=True, preserve_range=True).astype("float32")
found = superexplain.explain(mobilenet_model, photo, method="gradcam", verbose=0)
print("automatic layer:", found.params["layer"])
print("why:", found.params["layer_reason"])

# %%
# The automatic layer is the backbone's last spatial layer, named by its path
# `"<backbone>/<layer>"`; any other inner layer is named the same way
# (`layer="mobilenetv2_0.35_96/block_13_expand_relu"`). Because the model ends in a softmax,
# gradient methods explain the pre-softmax logit (`params["score_kind"]`).
#
# The maps of this network are not worth drawing: untrained, it gives every class the same
# probability, and the logit it explains is about 1e-10 on any image.

print("probabilities:", mobilenet_model.predict(photo[None], verbose=0).round(4))
print(f"explained logit: {found.score:.1e} ({found.params['score_kind']})")

# %%
# A trained backbone
# ------------------
# The same pattern with a backbone that has learnt something: the convolutional part of the
# bundled demo CNN, cut at its last convolution, becomes one layer of a new model that takes 0-255
# pixels. Its head is the demo's, with the demo's weights, so the new model predicts exactly what
# the demo model predicts on the same images scaled to [0, 1].
#
# The function builds the model under whatever dtype policy is current, so the same code gives the
# mixed-precision model below. The last layer is kept in float32, as Keras advises for the softmax
# of a mixed-precision model.

trained = load_demo_model()


def build_nested_classifier() -> keras.Model:
    cnn = build_demo_model()
    conv_part = keras.Model(cnn.input, cnn.get_layer("last_conv").output, name="shapes_backbone")
    inputs = keras.Input((64, 64, 3), name="pixels_0_255")
    x = keras.layers.Rescaling(1 / 255, name="to_unit")(inputs)
    x = conv_part(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(4, activation="softmax", name="classes", dtype="float32")(x)
    model = keras.Model(inputs, outputs, name="nested_shapes_classifier")
    trained_conv_part = keras.Model(trained.input, trained.get_layer("last_conv").output)
    conv_part.set_weights(trained_conv_part.get_weights())
    model.get_layer("classes").set_weights(trained.get_layer("predictions").get_weights())
    return model


model = build_nested_classifier()
data = make_shapes(6, seed=7)
pixels = data.images * 255.0  # what this model takes
same = np.allclose(model.predict(pixels, verbose=0), trained.predict(data.images, verbose=0), atol=1e-5)
print("predicts what the demo model predicts:", same)

# %%
# Grad-CAM on the nested model finds `last_conv` inside the backbone, and its map is the flat demo
# model's map at the same layer: the nesting and the preprocessing layer change nothing.

class_names = list(trained.class_names)
nested = superexplain.explain(model, pixels[4], method="gradcam", class_names=class_names, verbose=0)
flat = superexplain.explain(trained, data.images[4], method="gradcam", verbose=0)
print("layer:", nested.params["layer"], "| class:", nested.target_name)
print("largest difference from the flat model's map:", float(np.abs(nested.heatmap - flat.heatmap).max()))

# %%
# Mixed precision
# ---------------
# Under `mixed_float16` the layers compute in float16. superexplain reads the activations in
# float16 and computes the scores and gradients in float32. The same function, run under the
# policy, gives the same model in float16 with the same weights, so the two differ only in
# precision. The policy is global: restore it afterwards, or every model built later is float16.

keras.mixed_precision.set_global_policy("mixed_float16")
try:
    model16 = build_nested_classifier()
    print("compute dtype inside the backbone:", model16.get_layer("shapes_backbone").get_layer("conv2").compute_dtype)
    nested16 = superexplain.explain(model16, pixels[4], method="gradcam", class_names=class_names, verbose=0)
finally:
    keras.mixed_precision.set_global_policy("float32")

relative = np.abs(nested16.heatmap - nested.heatmap).max() / np.abs(nested.heatmap).max()
print(f"largest difference, relative to the map's peak: {relative:.1e}")
match = agreement(nested, nested16)
print("Spearman:", round(match.pixel["spearman"], 4), "| SSIM:", round(match.pixel["ssim"], 4))

fig = superexplain.compare([nested, nested16])
for panel, policy in zip(fig.axes[1:3], ["float32", "mixed_float16"]):
    panel.set_title(f"{panel.get_title()}\n{policy}", fontsize="small")

# %%
# The two maps differ by float16 rounding only (the relative difference printed above) and their
# ranks agree.
#
# Perturbation methods only call the model, so the same models work with LIME, KernelSHAP,
# occlusion and RISE, and so does any callable `images -> scores`.

print("policy after the example:", keras.mixed_precision.global_policy().name)
