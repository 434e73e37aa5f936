"""Closed forms: Grad-CAM reduces to CAM on conv -> GAP -> Dense, target additivity, logit vs probability, Grad-CAM++ and LayerCAM."""
from __future__ import annotations

import numpy as np
import pytest

from superexplain.registry import method_function
from superexplain.models import as_predictor

H = W = 12


@pytest.fixture(scope="module")
def cam_model(keras):
    """conv (linear) -> GAP -> Dense(softmax): Grad-CAM on the conv must be CAM / (h*w)."""
    keras.utils.set_random_seed(21)
    inputs = keras.Input((H, W, 3))
    x = keras.layers.Conv2D(5, 3, padding="same", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(4, activation="softmax", name="head")(x)
    model = keras.Model(inputs, outputs)
    head = model.get_layer("head")
    head.bias.assign(np.array([0.3, -0.2, 0.1, 0.5], dtype="float32"))  # a bias the test must subtract
    return model


@pytest.fixture(scope="module")
def images(rng_module):
    return rng_module.random((3, H, W, 3)).astype("float32")


@pytest.fixture(scope="module")
def rng_module():
    return np.random.default_rng(77)


def _activations(keras, model, layer_name, images):
    return keras.Model(model.inputs[0], model.get_layer(layer_name).output)(images).numpy().astype(np.float64)


def _maps(model, images, method="gradcam", targets=None, **options):
    explanations = method_function(method)(as_predictor(model), images, targets=targets, relu=False, verbose=0, **options)
    return np.stack([e.feature_map for e in explanations]).astype(np.float64), explanations


def test_gradcam_channel_weights_equal_dense_weights_over_grid_size(keras, cam_model, images):
    from superexplain.gradcam.cam_maps import gradcam_weights
    from superexplain.gradcam.cam_graph import cam_graph
    from superexplain.gradcam.layers import resolve_layer

    predictor = as_predictor(cam_model)
    graph, kind = cam_graph(predictor, resolve_layer(cam_model, "conv"), "logit")
    targets = np.array([[0], [3], [2]], dtype=np.int32)
    _, _, gradients, _ = (t.numpy() for t in graph.gradients(images, targets))
    kernel = cam_model.get_layer("head").kernel.numpy().astype(np.float64)
    alpha = gradcam_weights(gradients)[:, 0]
    expected = kernel[:, targets[:, 0]].T / (H * W)
    np.testing.assert_allclose(alpha, expected, rtol=1e-5, atol=1e-9)
    assert kind == "logit"


def test_pre_relu_gradcam_is_cam_over_grid_size_and_sums_to_logit_minus_bias(keras, cam_model, images):
    targets = [0, 3, 2]
    maps, explanations = _maps(cam_model, images, targets=targets, layer="conv")
    activations = _activations(keras, cam_model, "conv", images)
    head = cam_model.get_layer("head")
    kernel, bias = head.kernel.numpy().astype(np.float64), head.bias.numpy().astype(np.float64)
    logits = activations.mean(axis=(1, 2)) @ kernel + bias
    for i, target in enumerate(targets):
        cam = np.einsum("hwc,c->hw", activations[i], kernel[:, target])
        np.testing.assert_allclose(maps[i], cam / (H * W), rtol=1e-5, atol=1e-7)
        assert maps[i].sum() == pytest.approx(logits[i, target] - bias[target], rel=1e-5, abs=1e-6)
        assert explanations[i].score == pytest.approx(logits[i, target], rel=1e-5, abs=1e-6)


def test_pre_relu_map_of_summed_logits_is_sum_of_maps(keras, images):
    """Target additivity: the map for logit c1 + c2 (an extra output unit) is the sum of the two maps."""
    keras.utils.set_random_seed(22)
    inputs = keras.Input((H, W, 3))
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="early")(inputs)
    x = keras.layers.Conv2D(5, 3, padding="same", activation="relu", name="late")(x)
    features = keras.layers.GlobalAveragePooling2D()(x)
    head = keras.layers.Dense(3, name="head")
    model = keras.Model(inputs, head(features))
    summed_head = keras.layers.Dense(1, name="summed")
    summed_head.build((None, 5))
    summed_head.kernel.assign(head.kernel[:, 0:1] + head.kernel[:, 2:3])
    summed_head.bias.assign(head.bias[0:1] + head.bias[2:3])
    summed_model = keras.Model(inputs, summed_head(features))
    first, _ = _maps(model, images, targets=0, layer="early")
    second, _ = _maps(model, images, targets=2, layer="early")
    total, _ = _maps(summed_model, images, targets=0, layer="early")
    np.testing.assert_allclose(first + second, total, rtol=1e-5, atol=1e-6 * np.abs(total).max())
    assert np.abs(first).max() > 0 and np.abs(second).max() > 0


def test_probability_map_follows_softmax_chain_rule_and_differs_from_logit_map(keras, cam_model, images):
    """d p_c = p_c (d z_c - sum_j p_j d z_j), and Grad-CAM is linear in the gradient."""
    probabilities = cam_model(images).numpy().astype(np.float64)
    logit_maps = np.stack([_maps(cam_model, images, targets=c, layer="conv")[0] for c in range(4)], axis=1)
    target = 1
    probability_maps, explanations = _maps(cam_model, images, targets=target, layer="conv", score="probability")
    mixed = np.einsum("nj,njhw->nhw", probabilities, logit_maps)
    expected = probabilities[:, target, None, None] * (logit_maps[:, target] - mixed)
    np.testing.assert_allclose(probability_maps, expected, rtol=1e-4, atol=1e-6 * np.abs(expected).max())
    assert explanations[0].params["score_kind"] == "probability"
    assert explanations[0].score == pytest.approx(probabilities[0, target], rel=1e-5)
    assert not np.allclose(probability_maps, logit_maps[:, target], rtol=1e-2)


def test_logit_and_probability_agree_on_linear_output_model(keras, images):
    keras.utils.set_random_seed(23)
    inputs = keras.Input((H, W, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    outputs = keras.layers.Dense(3, name="linear_head")(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, outputs)
    logit_maps, logit_explanations = _maps(model, images, targets=1, score="logit")
    probability_maps, probability_explanations = _maps(model, images, targets=1, score="probability")
    np.testing.assert_array_equal(logit_maps, probability_maps)
    assert logit_explanations[0].params["score_kind"] == probability_explanations[0].params["score_kind"] == "logit"


def test_gradcam_plus_plus_and_layercam_closed_forms_on_gap_head(keras, cam_model, images):
    """With constant gradients g_k = W_kc / Z the exp-score Grad-CAM++ weights and LayerCAM have closed forms."""
    activations = _activations(keras, cam_model, "conv", images)
    kernel = cam_model.get_layer("head").kernel.numpy().astype(np.float64)
    targets = [2, 0, 1]
    plus, _ = _maps(cam_model, images, "gradcam++", targets=targets, layer="conv")
    layer, _ = _maps(cam_model, images, "layercam", targets=targets, layer="conv")
    for i, target in enumerate(targets):
        g = kernel[:, target] / (H * W)
        denominator = 2 * g ** 2 + activations[i].sum(axis=(0, 1)) * g ** 3
        alpha = np.where(denominator != 0, g ** 2 / np.where(denominator != 0, denominator, 1), 0)
        weights = H * W * alpha * np.maximum(g, 0)
        np.testing.assert_allclose(plus[i], activations[i] @ weights, rtol=1e-4, atol=1e-6 * np.abs(plus[i]).max())
        np.testing.assert_allclose(layer[i], activations[i] @ np.maximum(g, 0), rtol=1e-5,
                                   atol=1e-7 * np.abs(layer[i]).max())


def test_relu_true_map_is_the_positive_part_of_the_signed_map(cam_model, images):
    signed, _ = _maps(cam_model, images, targets=0, layer="conv")
    explanations = method_function("gradcam")(as_predictor(cam_model), images, targets=0, layer="conv", verbose=0)
    np.testing.assert_allclose(np.stack([e.feature_map for e in explanations]), np.maximum(signed, 0), rtol=1e-6, atol=1e-9)
