"""Grad-CAM against an independent hand-written reference (GradientTape on layers called one by one)."""
from __future__ import annotations

import numpy as np
import pytest

from superexplain.gradcam.cams import run_gradcam
from superexplain.models import as_predictor


def _set_batchnorm_statistics(layer, rng):
    """Non-trivial moving statistics, so that inference-mode BatchNorm is not the identity."""
    channels = layer.moving_mean.shape[-1]
    layer.moving_mean.assign(rng.normal(0.0, 0.5, channels).astype("float32"))
    layer.moving_variance.assign(rng.uniform(0.5, 2.0, channels).astype("float32"))
    layer.gamma.assign(rng.uniform(0.5, 1.5, channels).astype("float32"))
    layer.beta.assign(rng.normal(0.0, 0.3, channels).astype("float32"))


@pytest.fixture(scope="module")
def nested_model(keras):
    keras.utils.set_random_seed(11)
    rng = np.random.default_rng(0)
    inner_inputs = keras.Input((8, 8, 4))
    y = keras.layers.Conv2D(6, 3, padding="same", name="inner_conv")(inner_inputs)
    y = keras.layers.BatchNormalization(name="inner_bn")(y)
    y = keras.layers.ReLU(name="inner_relu")(y)
    sub = keras.Model(inner_inputs, y, name="sub")
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="c1")(inputs)
    x = keras.layers.MaxPooling2D(name="pool")(x)
    x = sub(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="head")(x)
    model = keras.Model(inputs, outputs)
    _set_batchnorm_statistics(sub.get_layer("inner_bn"), rng)
    return model


@pytest.fixture(scope="module")
def sequential_model(keras):
    keras.utils.set_random_seed(12)
    model = keras.Sequential([
        keras.Input((12, 12, 3)),
        keras.layers.Conv2D(5, 3, activation="relu", name="s_conv1"),
        keras.layers.BatchNormalization(name="s_bn"),
        keras.layers.Conv2D(6, 3, activation="relu", name="s_conv2"),
        keras.layers.Flatten(name="s_flat"),
        keras.layers.Dense(4, name="s_dense"),
        keras.layers.Softmax(name="s_softmax"),
    ])
    _set_batchnorm_statistics(model.get_layer("s_bn"), np.random.default_rng(1))
    return model


def _reference_map(run_layers, images, target_index):
    """The original recipe: d logit / d A, channel means, weighted sum (the ReLU is applied by the caller)."""
    import tensorflow as tf

    x = tf.constant(images)
    with tf.GradientTape() as tape:
        activations, logits = run_layers(x, tape)
        score = tf.reduce_sum(tf.gather(logits, target_index, batch_dims=1))
    gradients = tape.gradient(score, activations).numpy().astype(np.float64)
    weights = gradients.mean(axis=(1, 2))
    maps = np.einsum("nhwc,nc->nhw", activations.numpy().astype(np.float64), weights)
    return maps, logits.numpy()


def _assert_relative(actual, expected, rtol=1e-5, scale=None):
    scale = np.abs(expected).max() if scale is None else scale
    assert scale > 0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


def test_gradcam_matches_hand_written_reference_on_nested_model_with_batchnorm(nested_model, rng):
    model = nested_model
    sub = model.get_layer("sub")
    head = model.get_layer("head")
    images = rng.random((3, 16, 16, 3)).astype("float32")

    def run_layers(x, tape):
        x = model.get_layer("pool")(model.get_layer("c1")(x))
        x = sub.get_layer("inner_conv")(x)
        tape.watch(x)
        activations = x
        x = sub.get_layer("inner_relu")(sub.get_layer("inner_bn")(x, training=False))
        features = model.get_layer("gap")(x)
        return activations, features @ head.kernel + head.bias

    targets = np.array([[0], [2], [1]])
    expected, logits = _reference_map(run_layers, images, targets)
    predictor = as_predictor(model)
    explanations = run_gradcam(predictor, images, targets=[0, 2, 1], layer="sub/inner_conv", verbose=0)
    signed = run_gradcam(predictor, images, targets=[0, 2, 1], layer="sub/inner_conv", relu=False, verbose=0)
    for i, explanation in enumerate(explanations):
        assert explanation.params["layer"] == "sub/inner_conv"
        assert explanation.params["score_kind"] == "logit"
        _assert_relative(signed[i].feature_map, expected[i])
        _assert_relative(explanation.feature_map, np.maximum(expected[i], 0.0), scale=np.abs(expected[i]).max())
        assert explanation.score == pytest.approx(float(logits[i, targets[i, 0]]), rel=1e-5)


def test_gradcam_matches_hand_written_reference_on_sequential(sequential_model, rng):
    model = sequential_model
    images = rng.random((2, 12, 12, 3)).astype("float32")

    def run_layers(x, tape):
        x = model.get_layer("s_conv1")(x)
        tape.watch(x)
        activations = x
        x = model.get_layer("s_conv2")(model.get_layer("s_bn")(x, training=False))
        return activations, model.get_layer("s_dense")(model.get_layer("s_flat")(x))

    expected, logits = _reference_map(run_layers, images, np.argmax(model(images).numpy(), axis=1)[:, None])
    explanations = run_gradcam(as_predictor(model), images, layer="s_conv1", relu=False, verbose=0)
    for i, explanation in enumerate(explanations):
        assert explanation.target == int(np.argmax(logits[i]))
        _assert_relative(explanation.feature_map, expected[i])


def test_heatmap_is_bilinear_half_pixel_upsampling_of_feature_map(nested_model, rng):
    images = rng.random((1, 16, 16, 3)).astype("float32")
    explanation = run_gradcam(as_predictor(nested_model), images, verbose=0)[0]
    feature_map = explanation.feature_map.astype(np.float64)
    # half-pixel centres: output pixel i samples input coordinate (i + 0.5) / 2 - 0.5, clamped
    coords = np.clip((np.arange(16) + 0.5) / 2 - 0.5, 0, 7)
    low = np.floor(coords).astype(int)
    high = np.minimum(low + 1, 7)
    frac = coords - low
    rows = feature_map[low] * (1 - frac)[:, None] + feature_map[high] * frac[:, None]
    expected = rows[:, low] * (1 - frac)[None, :] + rows[:, high] * frac[None, :]
    np.testing.assert_allclose(explanation.heatmap, expected, rtol=1e-5, atol=1e-7)


def test_batch_with_mixed_targets_equals_single_calls(nested_model, rng):
    predictor = as_predictor(nested_model)
    images = rng.random((8, 16, 16, 3)).astype("float32")
    targets = [0, 1, 2, 0, 1, 2, 2, 0]
    for method in ("gradcam", "gradcam++", "layercam"):
        from superexplain.registry import method_function

        run = method_function(method)
        batch = run(predictor, images, targets=targets, layer="c1", relu=False, verbose=0)
        for i in range(8):
            single = run(predictor, images[i:i + 1], targets=targets[i], layer="c1", relu=False, verbose=0)[0]
            scale = np.abs(single.feature_map).max()
            np.testing.assert_allclose(batch[i].feature_map, single.feature_map, rtol=1e-6, atol=1e-6 * scale)
            assert batch[i].target == targets[i]


def test_top_labels_give_the_best_classes_best_first_with_their_own_maps(nested_model, rng):
    predictor = as_predictor(nested_model)
    images = rng.random((3, 16, 16, 3)).astype("float32")
    logits = predictor.scores(images, "logit")[0]
    several = run_gradcam(predictor, images, top_labels=3, relu=False, verbose=0)
    assert len(several) == 9
    for i in range(3):
        order = np.argsort(-logits[i], kind="stable")
        for k in range(3):
            explanation = several[3 * i + k]
            assert explanation.target == order[k]
            alone = run_gradcam(predictor, images[i:i + 1], targets=int(order[k]), relu=False, verbose=0)[0]
            scale = np.abs(alone.feature_map).max()
            np.testing.assert_allclose(explanation.feature_map, alone.feature_map, rtol=1e-5, atol=1e-6 * scale)


def test_gradcam_is_bit_identical_across_runs(nested_model, rng):
    images = rng.random((2, 16, 16, 3)).astype("float32")
    first = run_gradcam(as_predictor(nested_model), images, verbose=0)
    second = run_gradcam(as_predictor(nested_model), images, verbose=0)
    assert all(a == b for a, b in zip(first, second))


def test_model_weights_and_outputs_unchanged_after_explaining(nested_model, rng):
    from superexplain.explain import explain

    model = nested_model
    images = rng.random((2, 16, 16, 3)).astype("float32")
    weights_before = [w.copy() for w in model.get_weights()]
    outputs_before = model(images, training=False).numpy()
    head_activation = model.get_layer("head").activation
    for method in ("gradcam", "gradcam++", "layercam"):
        explain(model, images, method=method, verbose=0)
    for before, after in zip(weights_before, model.get_weights()):
        np.testing.assert_array_equal(before, after)
    np.testing.assert_array_equal(outputs_before, model(images, training=False).numpy())
    assert model.get_layer("head").activation is head_activation


def test_one_compiled_function_reused_across_calls_and_batch_sizes(nested_model, rng):
    from superexplain.gradcam.cam_graph import cam_graph
    from superexplain.gradcam.layers import resolve_layer

    predictor = as_predictor(nested_model)
    for n in (1, 3, 5):
        run_gradcam(predictor, rng.random((n, 16, 16, 3)).astype("float32"), layer="c1", verbose=0)
    graph, _ = cam_graph(predictor, resolve_layer(nested_model, "c1"), "logit")
    assert graph._single.experimental_get_tracing_count() == 1
