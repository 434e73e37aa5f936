"""Model shapes users bring: preprocessing inside, mixed precision, binary and regression heads, several
outputs, vision transformers, inference-only layers. Each expected value is computed independently in the test."""
from __future__ import annotations

import numpy as np
import pytest

import superexplain
from superexplain.models import as_predictor


def _signed_gradcam_reference(keras, exposed, image, target):
    """Grad-CAM before its ReLU, from ``exposed(x) -> (activations, score vector)``, with a GradientTape."""
    import tensorflow as tf

    x = tf.constant(image[None])
    with tf.GradientTape() as tape:
        activations, scores = exposed(x, training=False)
        score = scores[0, target]
    gradients = tape.gradient(score, activations).numpy()[0]
    activations = activations.numpy()[0]
    return np.einsum("hwc,c->hw", activations, gradients.mean(axis=(0, 1)))


def _close(actual, expected, rtol=1e-5):
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * max(np.abs(expected).max(), 1e-12))


# ---------------------------------------------------------------------- preprocessing inside the model
def test_preprocessing_layers_inside_the_model_take_raw_pixels(keras, rng):
    """Rescaling + Normalization inside: raw 0-255 pixels give the maps the bare network gives on preprocessed ones."""
    keras.utils.set_random_seed(5)
    core_in = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv")(core_in)
    core = keras.Model(core_in, keras.layers.Dense(3, activation="softmax", name="head")(
        keras.layers.GlobalAveragePooling2D()(x)), name="core")
    mean, variance = np.array([0.4, 0.5, 0.6]), np.array([0.04, 0.09, 0.01])
    raw_in = keras.Input((16, 16, 3))
    scaled = keras.layers.Rescaling(1 / 255.0)(raw_in)
    normalised = keras.layers.Normalization(mean=mean, variance=variance)(scaled)
    with_preprocessing = keras.Model(raw_in, core(normalised))
    raw = rng.integers(0, 256, (16, 16, 3)).astype("float32")
    preprocessed = ((raw / 255.0 - mean) / np.sqrt(variance)).astype("float32")
    for method in ("gradcam", "layercam"):
        inside = superexplain.explain(with_preprocessing, raw, method=method, target=1, relu=False, verbose=0)
        outside = superexplain.explain(core, preprocessed, method=method, target=1, relu=False, verbose=0)
        assert inside.params["layer"] == "core/conv"
        _close(inside.feature_map, outside.feature_map, rtol=1e-4)
    # the input gradient picks up the preprocessing's chain rule: d/d raw = d/d preprocessed / (255 sd)
    inside = superexplain.explain(with_preprocessing, raw, method="saliency", target=1, verbose=0)
    outside = superexplain.explain(core, preprocessed, method="saliency", target=1, verbose=0)
    _close(inside.attribution, outside.attribution / (255.0 * np.sqrt(variance)), rtol=1e-3)


# ---------------------------------------------------------------------- inference mode
def test_dropout_is_off_and_batchnorm_uses_moving_statistics(keras, rng):
    keras.utils.set_random_seed(6)
    inputs = keras.Input((12, 12, 2))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
    bn = keras.layers.BatchNormalization(name="bn")
    x = keras.layers.Dropout(0.9, name="drop")(bn(x))
    x = keras.layers.ReLU(name="relu")(x)
    model = keras.Model(inputs, keras.layers.Dense(3, name="logits")(keras.layers.GlobalAveragePooling2D()(x)))
    bn.moving_mean.assign(np.array([0.5, -0.2, 0.1, 0.0], "float32"))
    bn.moving_variance.assign(np.array([4.0, 0.25, 1.0, 9.0], "float32"))
    images = rng.random((3, 12, 12, 2)).astype("float32")
    first = superexplain.explain(model, images, method="gradcam", layer="relu", target=0, relu=False, verbose=0)
    second = superexplain.explain(model, images, method="gradcam", layer="relu", target=0, relu=False, verbose=0)
    # the reference applies BatchNorm by hand with the moving statistics and no dropout at all
    conv = model.get_layer("conv")
    dense = model.get_layer("logits")
    for image, a, b in zip(images, first, second):
        np.testing.assert_array_equal(a.feature_map, b.feature_map)  # no dropout noise
        z = conv(image[None]).numpy()[0]
        gamma, beta = bn.gamma.numpy(), bn.beta.numpy()
        normalised = gamma * (z - bn.moving_mean.numpy()) / np.sqrt(bn.moving_variance.numpy() + bn.epsilon) + beta
        activations = np.maximum(normalised, 0.0)
        h, w = activations.shape[:2]
        # d logit_0 / d A = W[:, 0] / (h w) everywhere: Grad-CAM weights are W[:, 0] / (h w)
        expected = activations @ (dense.kernel.numpy()[:, 0] / (h * w))
        _close(a.feature_map, expected, rtol=1e-4)


# ---------------------------------------------------------------------- binary (one sigmoid) and regression
@pytest.fixture(scope="module")
def binary_model(keras):
    keras.utils.set_random_seed(7)
    inputs = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(5, 3, padding="same", activation="relu", name="conv")(inputs)
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid", name="prob")(
        keras.layers.GlobalAveragePooling2D()(x)))


def test_binary_sigmoid_model_is_two_classes_positive_and_negative(keras, binary_model, rng):
    images = rng.random((4, 12, 12, 3)).astype("float32")
    predictor = as_predictor(binary_model)
    assert predictor.num_classes == 2 and predictor.class_names == ["positive", "negative"]
    p = binary_model(images, training=False).numpy()[:, 0]
    np.testing.assert_allclose(predictor.predict(images), np.stack([p, 1 - p], axis=1), rtol=1e-6, atol=1e-7)
    z = np.log(p / (1 - p))
    np.testing.assert_allclose(predictor.predict(images, output="logits"), np.stack([z, -z], axis=1), rtol=1e-4, atol=1e-5)
    # Grad-CAM of target 0 is the positive logit's; of "negative" (= 1) exactly its negation
    exposed = keras.Model(binary_model.inputs, [binary_model.get_layer("conv").output,
                                                binary_model.get_layer("prob").input @ binary_model.get_layer("prob").kernel
                                                + binary_model.get_layer("prob").bias])
    positive = superexplain.explain(binary_model, images[0], method="gradcam", target=0, relu=False, verbose=0)
    negative = superexplain.explain(binary_model, images[0], method="gradcam", target="negative", relu=False, verbose=0)
    _close(positive.feature_map, _signed_gradcam_reference(keras, exposed, images[0], 0))
    assert negative.target == 1 and negative.target_name == "negative" and positive.score == pytest.approx(z[0], rel=1e-4)
    _close(negative.feature_map, -positive.feature_map)
    # perturbation: occlusion of the negative class is the drop of 1 - p, i.e. minus the drop of p
    segments = np.arange(16).reshape(4, 4).repeat(3, axis=0).repeat(3, axis=1)
    occ_pos = superexplain.explain(binary_model, images[0], method="occlusion", target=0, segments=segments, verbose=0)
    occ_neg = superexplain.explain(binary_model, images[0], method="occlusion", target="negative", segments=segments,
                                   verbose=0)
    _close(occ_neg.weights, -occ_pos.weights, rtol=1e-4)
    # the default target is the predicted class
    default = superexplain.explain(binary_model, images[0], method="gradcam", verbose=0)
    assert default.target == (0 if p[0] >= 0.5 else 1)


def test_binary_model_with_user_class_names_and_wrong_count(binary_model, rng):
    image = rng.random((12, 12, 3)).astype("float32")
    explanation = superexplain.explain(binary_model, image, method="gradcam", target="cat",
                                       class_names=["cat", "not cat"], verbose=0)
    assert explanation.target == 0 and explanation.target_name == "cat"
    with pytest.raises(ValueError, match="single sigmoid output counts as two"):
        as_predictor(binary_model, class_names=["cat"])


def test_regression_model_explains_its_output(keras, rng):
    keras.utils.set_random_seed(8)
    inputs = keras.Input((10, 10, 1))
    x = keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="conv")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1, name="value")(keras.layers.GlobalAveragePooling2D()(x)))
    image = rng.random((10, 10, 1)).astype("float32")
    predictor = as_predictor(model)
    assert predictor.num_classes == 1 and predictor.output_activation == "linear"
    explanation = superexplain.explain(model, image, method="gradcam", relu=False, verbose=0)
    exposed = keras.Model(model.inputs, [model.get_layer("conv").output, model.output])
    assert explanation.target == 0 and explanation.params["score_kind"] == "logit"
    _close(explanation.feature_map, _signed_gradcam_reference(keras, exposed, image, 0))
    segments = np.arange(4).repeat(25).reshape(10, 10)
    occlusion = superexplain.explain(model, image, method="occlusion", segments=segments, hide_color=0.0,
                                      score="logit", verbose=0)
    full = model(image[None]).numpy()[0, 0]
    for segment in range(4):
        hidden = np.where(segments[..., None] == segment, 0.0, image).astype("float32")
        assert occlusion.weights[segment] == pytest.approx(full - model(hidden[None]).numpy()[0, 0], rel=1e-4, abs=1e-6)


# ---------------------------------------------------------------------- several outputs
@pytest.fixture(scope="module")
def two_headed(keras):
    keras.utils.set_random_seed(9)
    inputs = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(x)
    box = keras.layers.Dense(4, name="box")(keras.layers.Conv2D(2, 3, padding="same", name="box_conv")(x)[:, 0, 0])
    classes = keras.layers.Dense(3, activation="softmax", name="classes")(pooled)
    as_dict = keras.Model(inputs, {"classes": classes, "box": box})
    as_list = keras.Model(inputs, [box, classes])
    single = keras.Model(inputs, classes)
    return as_dict, as_list, single


def test_several_outputs_need_output_and_the_error_lists_them(two_headed, rng):
    as_dict, as_list, _ = two_headed
    image = rng.random((12, 12, 3)).astype("float32")
    with pytest.raises(ValueError, match=r"2 outputs \(0: 'box', 1: 'classes'\).*output="):
        superexplain.explain(as_dict, image, method="gradcam", verbose=0)
    with pytest.raises(ValueError, match=r"output='scores' is not one of"):
        superexplain.explain(as_dict, image, method="lime", output="scores", verbose=0)
    with pytest.raises(ValueError, match=r"output=2 is out of range"):
        superexplain.explain(as_list, image, method="gradcam", output=2, verbose=0)
    with pytest.raises(TypeError, match="output must be an output index"):
        superexplain.explain(as_list, image, method="gradcam", output=1.0, verbose=0)


def test_picked_output_is_explained_like_a_single_output_model(two_headed, rng):
    as_dict, as_list, single = two_headed
    image = rng.random((12, 12, 3)).astype("float32")
    expected = superexplain.explain(single, image, method="gradcam", target=2, relu=False, verbose=0)
    for model, output in ((as_dict, "classes"), (as_list, 1), (as_list, "classes")):
        picked = superexplain.explain(model, image, method="gradcam", target=2, relu=False, output=output, verbose=0)
        # the automatic layer ignores the box head's branch: conv feeds the classes, box_conv does not
        assert picked.params["layer"] == "conv"
        _close(picked.feature_map, expected.feature_map)
    segments = np.arange(9).reshape(3, 3).repeat(4, axis=0).repeat(4, axis=1)
    lime_single = superexplain.explain(single, image, method="occlusion", target=1, segments=segments, verbose=0)
    lime_dict = superexplain.explain(as_dict, image, method="occlusion", target=1, segments=segments, output="classes",
                                     verbose=0)
    np.testing.assert_array_equal(lime_dict.weights, lime_single.weights)


def test_plain_callable_with_several_outputs(rng):
    image = rng.random((8, 8, 3)).astype("float32")

    def model(batch):
        return {"scores": batch.mean(axis=(1, 2)), "extra": np.zeros((len(batch), 7))}

    with pytest.raises(ValueError, match=r"several outputs \('scores', 'extra'\).*output="):
        superexplain.explain(model, image, method="occlusion", window=4, verbose=0)
    explanation = superexplain.explain(model, image, method="occlusion", window=4, output="scores", target=2, verbose=0)
    assert explanation.target == 2 and np.all(np.isfinite(explanation.heatmap))


# ---------------------------------------------------------------------- mixed precision
def test_mixed_precision_model_matches_its_float32_twin(keras, rng):
    from keras import mixed_precision

    def build():
        keras.utils.set_random_seed(10)
        inputs = keras.Input((16, 16, 3))
        x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inputs)
        x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv2")(x)
        x = keras.layers.GlobalAveragePooling2D()(x)
        return keras.Model(inputs, keras.layers.Dense(4, activation="softmax", name="head")(x))

    full = build()
    previous = mixed_precision.global_policy()
    mixed_precision.set_global_policy("mixed_float16")
    try:
        half = build()
    finally:
        mixed_precision.set_global_policy(previous)
    half.set_weights(full.get_weights())
    assert half.get_layer("conv2").compute_dtype == "float16"
    image = rng.random((16, 16, 3)).astype("float32")
    for method, options in (("gradcam", {}), ("layercam", {}), ("saliency", {}),
                            ("integrated_gradients", {"steps": 8})):
        a = superexplain.explain(full, image, method=method, target=3, verbose=0, **options)
        b = superexplain.explain(half, image, method=method, target=3, verbose=0, **options)
        assert b.heatmap.dtype == np.float32 and np.all(np.isfinite(b.heatmap))
        assert b.score == pytest.approx(a.score, rel=1e-2, abs=1e-2)
        np.testing.assert_allclose(b.heatmap, a.heatmap, rtol=0.0, atol=2e-2 * np.abs(a.heatmap).max())
    predictor = as_predictor(half)
    logits = predictor.predict(image[None], output="logits")
    assert logits.dtype == np.float32
    np.testing.assert_allclose(logits, as_predictor(full).predict(image[None], output="logits"), atol=1e-2)


# ---------------------------------------------------------------------- vision transformer
def _small_vit(keras, with_class_token=True):
    from keras import ops

    class ClassToken(keras.layers.Layer):
        def build(self, input_shape):
            self.token = self.add_weight(shape=(1, 1, input_shape[-1]), initializer="random_normal", name="token")

        def call(self, tokens):
            batch = ops.shape(tokens)[0]
            return ops.concatenate([ops.broadcast_to(self.token, (batch, 1, ops.shape(tokens)[-1])), tokens], axis=1)

    keras.utils.set_random_seed(11)
    inputs = keras.Input((32, 32, 3))
    patches = keras.layers.Conv2D(16, 4, strides=4, name="patch_embedding")(inputs)  # 8x8 patches
    tokens = keras.layers.Reshape((64, 16), name="tokens")(patches)
    if with_class_token:
        tokens = ClassToken(name="class_token")(tokens)
    for block in range(2):
        normed = keras.layers.LayerNormalization(name=f"block{block}_norm1")(tokens)
        attended = keras.layers.MultiHeadAttention(2, 8, name=f"block{block}_attention")(normed, normed)
        tokens = keras.layers.Add(name=f"block{block}_add1")([tokens, attended])
        normed = keras.layers.LayerNormalization(name=f"block{block}_norm2")(tokens)
        hidden = keras.layers.Dense(32, activation="gelu", name=f"block{block}_mlp1")(normed)
        tokens = keras.layers.Add(name=f"block{block}_add2")([tokens, keras.layers.Dense(16, name=f"block{block}_mlp2")(hidden)])
    tokens = keras.layers.LayerNormalization(name="final_norm")(tokens)
    if with_class_token:
        pooled = keras.layers.Lambda(lambda t: t[:, 0], output_shape=(16,), name="take_class_token")(tokens)
    else:
        pooled = keras.layers.GlobalAveragePooling1D(name="mean_tokens")(tokens)
    return keras.Model(inputs, keras.layers.Dense(5, activation="softmax", name="head")(pooled))


def test_vit_gradcam_on_token_grid_with_class_token_matches_reference(keras, rng):
    import tensorflow as tf

    model = _small_vit(keras)
    image = rng.random((32, 32, 3)).astype("float32")
    explanation = superexplain.explain(model, image, method="gradcam", target=2, relu=False, verbose=0)
    assert explanation.params["layer"] == "block1_norm1"  # the input of the last attention layer
    assert "attention" in explanation.params["layer_reason"]
    assert explanation.params["tokens"] == "65 tokens as a 8x8 grid, class token dropped"
    assert explanation.feature_map.shape == (8, 8) and explanation.heatmap.shape == (32, 32)
    head = model.get_layer("head")
    exposed = keras.Model(model.inputs, [model.get_layer("block1_norm1").output, head.input])
    x = tf.constant(image[None])
    with tf.GradientTape() as tape:
        tokens, features = exposed(x, training=False)
        score = (features @ head.kernel + head.bias)[0, 2]
    gradients = tape.gradient(score, tokens).numpy()[0, 1:]  # patch tokens only, row-major 8x8
    activations = tokens.numpy()[0, 1:]
    expected = (activations @ gradients.mean(axis=0)).reshape(8, 8)
    _close(explanation.feature_map, expected, rtol=1e-4)
    # a reshape= callable giving the same grid gives the same map; a wrong one is refused
    custom = superexplain.explain(model, image, method="gradcam", target=2, relu=False, verbose=0,
                                  layer="block1_norm1", reshape=lambda t: t[:, 1:].reshape(-1, 8, 8, t.shape[-1]))
    _close(custom.feature_map, explanation.feature_map, rtol=1e-6)
    assert custom.params["tokens"] == "65 tokens, reshape= callable"
    with pytest.raises(ValueError, match=r"reshape must map tokens"):
        superexplain.explain(model, image, method="gradcam", layer="block1_norm1", reshape=lambda t: t, verbose=0)


def test_vit_without_class_token_and_other_methods(keras, rng):
    model = _small_vit(keras, with_class_token=False)
    image = rng.random((32, 32, 3)).astype("float32")
    for method in ("gradcam", "layercam", "gradcam++", "scorecam"):
        explanation = superexplain.explain(model, image, method=method, verbose=0)
        assert explanation.params["tokens"] == "64 tokens as a 8x8 grid"
        assert explanation.feature_map.shape == (8, 8) and np.all(np.isfinite(explanation.heatmap))
    segments = np.arange(16).reshape(4, 4).repeat(8, axis=0).repeat(8, axis=1)
    for method, options in (("lime", {"num_samples": 64}), ("kernelshap", {"num_samples": 64}),
                            ("occlusion", {}), ("rise", {"num_masks": 32})):
        if method != "rise":
            options["segments"] = segments
        explanation = superexplain.explain(model, image, method=method, random_state=0, verbose=0, **options)
        assert np.all(np.isfinite(explanation.heatmap))


def test_token_layer_that_is_not_a_grid_needs_reshape(keras, rng):
    inputs = keras.Input((6, 6, 3))
    tokens = keras.layers.Reshape((12, 9), name="odd_tokens")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling1D()(
        keras.layers.Dense(4, name="mix")(tokens))))
    image = rng.random((6, 6, 3)).astype("float32")
    with pytest.raises(ValueError, match=r"output shape \(None, 12, 4\).*square token grid or reshape="):
        superexplain.explain(model, image, method="gradcam", layer="mix", verbose=0)
    explanation = superexplain.explain(model, image, method="gradcam", layer="mix", verbose=0,
                                       reshape=lambda t: t.reshape(-1, 3, 4, t.shape[-1]))
    assert explanation.feature_map.shape == (3, 4)
