"""
Which layer? The layer advisor
==============================

"Use the last convolutional layer" is the usual answer for Grad-CAM, and on a real model it can
be wrong. The layer advisor, [`rank_layers`][superexplain.gradcam.rank_layers] (also
[`superexplain.advisor.rank_layers`][superexplain.advisor.rank_layers]), measures instead of
assuming: it computes every candidate layer's map in one compiled pass and scores each by how
faithful it is to the model, by default the insertion AUC of the logit (reveal the map's most
relevant pixels first on a blurred copy; a faithful map brings the score back fast). See
[Class activation maps](../../gradcam.md#which-layer-the-layer-advisor).
"""

import keras

import superexplain
from superexplain.datasets import load_demo_model, make_shapes
from superexplain.gradcam import rank_layers
from superexplain.metrics import pointing_game

model = load_demo_model()
shapes = make_shapes(20, seed=31)
calibration = shapes.images[:6]  # to choose the layer
held_out, held_out_masks = shapes.images[6:], shapes.masks[6:]  # to check the choice

# %%
# Ranking the layers of the demo model
# ------------------------------------
# Candidates, by default: the last spatial layer at each grid size (the end of each resolution
# stage) and the last four spatial layers. Rank on held-out *calibration* images: choosing a layer
# on the very images you then show flatters the maps.

ranking = rank_layers(model, calibration)
print(ranking)
fig = ranking.plot()

# %%
# On the demo model the automatic layer (`last_conv`) is among the best, and with six images the
# intervals of the top layers overlap: any of them will do. `ranking.plot()` draws every
# candidate's map on the first images, best first.

# %%
# A model where the last layer is the wrong answer
# ------------------------------------------------
# Truth by construction (the test suite's case): the demo CNN with its last feature map rolled by
# half the grid before global average pooling. Pooling does not care where the features are, so
# this model predicts exactly what the demo model predicts; but the rolled layer's map is moved
# half a grid away from the object, while the layers before the roll still point at it. "The last
# spatial layer" is the rolled one.

inputs = keras.Input((64, 64, 3))
x = inputs
for layer in model.layers[1:]:
    x = layer(x)
    if layer.name == "last_conv":
        break
moved = keras.layers.Lambda(lambda t: keras.ops.roll(keras.ops.roll(t, 4, axis=1), 4, axis=2), name="rolled")(x)
outputs = model.get_layer("predictions")(model.get_layer("gap")(moved))
rolled = keras.Model(inputs, outputs, name="rolled_demo_cnn")

rolled_ranking = rank_layers(rolled, calibration)
print(rolled_ranking)
print("automatic layer:", rolled_ranking.automatic, "| best:", rolled_ranking.best)

# %%
# The advisor ranks the rolled layer last. On the held-out images, the map at the advisor's layer
# falls on the object where the automatic layer's does not (the pointing game: does the map's
# maximum fall on the object's mask?).

automatic = superexplain.explain(rolled, held_out, method="gradcam", verbose=0)
advised = superexplain.explain(rolled, held_out, method="gradcam", layer=rolled_ranking.best, verbose=0)
for name, explanations in (("automatic", automatic), ("advised", advised)):
    score = pointing_game(explanations, held_out_masks).score
    print(f"pointing game, {name} layer {explanations[0].params['layer']!r}: {score:.2f}")
fig = superexplain.compare([[automatic[i], advised[i]] for i in range(3)], panel_size=2.4)

# %%
# In one call
# -----------
# `layer="best"` ranks on the images being explained and explains at the winner, recording every
# candidate's score in `params["layer_ranking"]`. It is convenient, but it is selection on the
# shown images: prefer ranking held-out images and passing `layer=ranking.best`. (On the command
# line: `superexplain explain model.keras images/ --layer best --calibrate held_out/`.)

best = superexplain.explain(rolled, held_out[:4], method="gradcam", layer="best", verbose=0)
print("layer:", best[0].params["layer"])
print("why:", best[0].params["layer_reason"])
print("candidates:", [row["layer"] for row in best[0].params["layer_ranking"]["layers"]])
