"""The model head (cam_head) and Ablation-CAM against hand-written references: layers called one by one, numpy loops."""
from __future__ import annotations

import numpy as np
import pytest

from superexplain.gradcam import resolve_layer
from superexplain.gradcam.ablationcam import ablated_scores, run_ablationcam
from superexplain.gradcam.cam_head import cam_head
from superexplain.models import as_predictor

from test_gradcam_reference import nested_model, sequential_model  # noqa: F401 - fixtures


@pytest.fixture(scope="module")
def residual_model(keras):
    """A skip connection crosses the cut at r_b: Add([r_a's output, r_b's output])."""
    keras.utils.set_random_seed(21)
    inputs = keras.Input((10, 10, 3))
    a = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="r_a")(inputs)
    b = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="r_b")(a)
    x = keras.layers.ReLU(name="r_relu")(keras.layers.Add(name="r_add")([a, b]))
    x = keras.layers.GlobalAveragePooling2D(name="r_gap")(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="r_head")(x))


def _halves(model, kind):
    """(layer name, below(x) -> (activations, crossing), above(activations, crossing) -> logits), written by hand."""
    import tensorflow as tf

    def dense_logits(layer, features):
        return features @ layer.kernel + layer.bias

    if kind == "nested":
        sub, head = model.get_layer("sub"), model.get_layer("head")
        return ("sub/inner_conv",
                lambda x: (sub.get_layer("inner_conv")(model.get_layer("pool")(model.get_layer("c1")(x))), []),
                lambda a, c: dense_logits(head, model.get_layer("gap")(
                    sub.get_layer("inner_relu")(sub.get_layer("inner_bn")(a, training=False)))))
    if kind == "sequential":
        get = model.get_layer
        return ("s_conv1", lambda x: (get("s_conv1")(x), []),
                lambda a, c: get("s_dense")(get("s_flat")(get("s_conv2")(get("s_bn")(a, training=False)))))
    get = model.get_layer

    def below(x):
        first = get("r_a")(x)
        return get("r_b")(first), [first]

    return "r_b", below, lambda a, c: dense_logits(get("r_head"), tf.reduce_mean(tf.nn.relu(c[0] + a), axis=(1, 2)))


def _model(kind, nested_model, sequential_model, residual_model):  # noqa: F811
    return {"nested": nested_model, "sequential": sequential_model, "residual": residual_model}[kind]


@pytest.mark.parametrize("kind", ["nested", "sequential", "residual"])
def test_head_of_activations_and_crossing_tensors_equals_the_full_models_logits(
        kind, nested_model, sequential_model, residual_model, rng):  # noqa: F811
    model = _model(kind, nested_model, sequential_model, residual_model)
    name, below, above = _halves(model, kind)
    images = rng.random((3,) + tuple(model.input_shape[1:])).astype("float32")
    activations, crossing = below(images)
    logits = above(activations, crossing).numpy()
    # the hand-written halves are the model: their softmax is its output
    np.testing.assert_allclose(np.exp(logits) / np.exp(logits).sum(1, keepdims=True), model(images).numpy(),
                               rtol=1e-5, atol=1e-6)
    head, kind_name = cam_head(as_predictor(model), resolve_layer(model, name), "logit")
    got_activations, got_crossing, got_scores = head.forward(images)
    assert kind_name == "logit" and len(got_crossing) == (1 if kind == "residual" else 0)
    np.testing.assert_allclose(got_activations.numpy(), activations.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_scores.numpy(), logits, rtol=1e-5, atol=1e-5)
    # the head as a function: arbitrary activations, not only the model's own
    edited = rng.normal(0.0, 1.0, activations.shape).astype("float32")
    np.testing.assert_allclose(head.scores(edited, got_crossing).numpy(), above(edited, crossing).numpy(),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["nested", "sequential", "residual"])
def test_ablationcam_equals_a_per_channel_loop_on_the_hand_written_model(
        kind, nested_model, sequential_model, residual_model, rng):  # noqa: F811
    model = _model(kind, nested_model, sequential_model, residual_model)
    name, below, above = _halves(model, kind)
    images = rng.random((2,) + tuple(model.input_shape[1:])).astype("float32")
    kept = images.copy()
    explanations = run_ablationcam(as_predictor(model), images, top_labels=2, layer=name, relu=False,
                                   channel_batch=4, batch_size=1, verbose=0)  # 4 channels a call: a partial last call
    np.testing.assert_array_equal(images, kept)
    assert len(explanations) == 4
    activations, crossing = below(images)
    activations = activations.numpy().astype(np.float64)
    logits = above(activations.astype("float32"), crossing).numpy().astype(np.float64)
    for n in range(2):
        image_crossing = [t[n:n + 1] for t in crossing]
        dropped = []
        for k in range(activations.shape[-1]):
            ablated = activations[n:n + 1].copy()
            ablated[..., k] = 0.0
            dropped.append(above(ablated.astype("float32"), image_crossing).numpy()[0].astype(np.float64))
        dropped = np.array(dropped)  # (c, classes)
        for rank, explanation in enumerate(explanations[2 * n:2 * n + 2]):
            target = int(np.argsort(-logits[n])[rank])
            assert explanation.target == target
            weights = (logits[n, target] - dropped[:, target]) / logits[n, target]
            expected = np.einsum("hwc,c->hw", activations[n], weights)
            scale = np.abs(expected).max()
            np.testing.assert_allclose(explanation.feature_map, expected, rtol=1e-4, atol=1e-4 * scale)
    relu = run_ablationcam(as_predictor(model), images[:1], layer=name, verbose=0)[0]
    signed = explanations[0].feature_map
    np.testing.assert_allclose(relu.feature_map, np.maximum(signed, 0.0), rtol=1e-6, atol=1e-6 * np.abs(signed).max())


def test_ablation_weights_have_the_closed_form_of_a_linear_gap_dense_head(keras, rng):
    """y = b_c + sum_k W[k, c] mean(A^k), so y - y_k = W[k, c] mean(A^k) and w_k = that / y exactly."""
    keras.utils.set_random_seed(31)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(5, 3, activation="relu", name="l_conv")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3, name="l_head")(keras.layers.GlobalAveragePooling2D()(x)))
    images = rng.random((2, 8, 8, 3)).astype("float32")
    activations = keras.Model(inputs, x)(images).numpy().astype(np.float64)
    kernel = model.get_layer("l_head").kernel.numpy().astype(np.float64)
    scores = model(images).numpy().astype(np.float64)
    predictor = as_predictor(model)
    head, _ = cam_head(predictor, resolve_layer(model, "l_conv"), "logit")
    got, crossing, _ = head.forward(images[:1])
    drops = kernel * activations[0].mean(axis=(0, 1))[:, None]  # (c, classes)
    np.testing.assert_allclose(scores[0] - ablated_scores(head, got, crossing, channel_batch=2), drops,
                               rtol=1e-4, atol=1e-5)
    for explanation, n in zip(run_ablationcam(predictor, images, targets=[2, 0], relu=False, verbose=0), range(2)):
        target = explanation.target
        weights = kernel[:, target] * activations[n].mean(axis=(0, 1)) / scores[n, target]
        expected = np.einsum("hwc,c->hw", activations[n], weights)
        np.testing.assert_allclose(explanation.feature_map, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
        assert explanation.params["normalised"] is True and explanation.params["weights"] == "(y - y_k) / y"


def test_ablationcam_refuses_bad_channel_batch(nested_model, rng):  # noqa: F811
    images = rng.random((1, 16, 16, 3)).astype("float32")
    with pytest.raises((TypeError, ValueError), match="channel_batch"):
        run_ablationcam(as_predictor(nested_model), images, channel_batch=0, verbose=0)


def test_ablationcam_eigen_smooth_is_the_first_principal_component_of_the_weighted_activations(keras, rng):
    keras.utils.set_random_seed(32)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(5, 3, activation="relu", name="e_conv")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3, name="e_head")(keras.layers.GlobalAveragePooling2D()(x)))
    image = rng.random((1, 8, 8, 3)).astype("float32")
    activations = keras.Model(inputs, x)(image).numpy()[0].astype(np.float64)
    kernel = model.get_layer("e_head").kernel.numpy().astype(np.float64)
    score = model(image).numpy()[0, 1]
    weights = kernel[:, 1] * activations.mean(axis=(0, 1)) / score  # the closed form above
    weighted = (activations * weights).reshape(-1, 5)
    centred = weighted - weighted.mean(axis=0)
    direction = np.linalg.svd(centred)[2][0]
    expected = (centred @ direction).reshape(6, 6)
    predictor = as_predictor(model)
    got = run_ablationcam(predictor, image, targets=1, relu=False, eigen_smooth=True, verbose=0)[0]
    sign = np.sign((got.feature_map * expected).sum())
    np.testing.assert_allclose(got.feature_map, sign * expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    assert got.params["eigen_smooth"] is True
    smoothed = run_ablationcam(predictor, image, targets=1, aug_smooth=[(False, 1.0), (True, 1.0)], verbose=0)[0]
    assert len(smoothed.params["aug_smooth"]) == 2
