"""Score-CAM against a per-channel loop written in the test, its weight variants and its bad input."""
from __future__ import annotations

import numpy as np
import pytest

from superexplain.gradcam.scorecam import run_scorecam, scorecam_weights
from superexplain.models import as_predictor


@pytest.fixture(scope="module")
def small_model(keras):
    keras.utils.set_random_seed(41)
    inputs = keras.Input((12, 12, 3))
    conv = keras.layers.Conv2D(5, 3, padding="same", activation="relu", name="conv")
    x = keras.layers.MaxPooling2D()(conv(inputs))
    outputs = keras.layers.Dense(3, activation="softmax", name="head")(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, outputs)
    kernel, bias = conv.kernel.numpy(), conv.bias.numpy()
    kernel[..., 4] = 0.0  # channel 4 is constant (zero): no spatial information, weight 0
    bias[4] = 0.0
    conv.kernel.assign(kernel)
    conv.bias.assign(bias)
    return model


def _reference(keras, model, image, target, use_logits=False):
    import tensorflow as tf

    activations = keras.Model(model.inputs[0], model.get_layer("conv").output)(image[None]).numpy()[0]
    head = model.get_layer("head")
    features_model = keras.Model(model.inputs[0], head.input)
    weights = np.zeros(activations.shape[-1])
    for k in range(activations.shape[-1]):
        channel = tf.image.resize(activations[None, :, :, k:k + 1], (12, 12), method="bilinear").numpy()[0, :, :, 0]
        if channel.max() == channel.min():
            continue
        mask = (channel - channel.min()) / (channel.max() - channel.min())
        masked = (image * mask[:, :, None])[None]
        if use_logits:
            weights[k] = float((features_model(masked) @ head.kernel + head.bias).numpy()[0, target])
        else:
            weights[k] = float(model(masked).numpy()[0, target])
    return np.maximum(np.einsum("hwc,c->hw", activations.astype(np.float64), weights), 0.0), weights


def test_scorecam_matches_per_channel_reference_loop(keras, small_model, rng):
    images = rng.random((2, 12, 12, 3)).astype("float32")
    explanations = run_scorecam(as_predictor(small_model), images, targets=[1, 2], layer="conv", batch_size=3, verbose=0)
    for image, target, explanation in zip(images, [1, 2], explanations):
        expected, weights = _reference(keras, small_model, image, target)
        assert weights[4] == 0.0
        np.testing.assert_allclose(explanation.feature_map, expected, rtol=1e-5, atol=1e-6 * np.abs(expected).max())
        assert explanation.params["score_kind"] == "probability"
        assert explanation.score == pytest.approx(float(small_model(image[None]).numpy()[0, target]), rel=1e-5)


def test_scorecam_logit_scores_match_reference(keras, small_model, rng):
    image = rng.random((1, 12, 12, 3)).astype("float32")
    explanation = run_scorecam(as_predictor(small_model), image, targets=0, layer="conv", score="logit", verbose=0)[0]
    expected, _ = _reference(keras, small_model, image[0], 0, use_logits=True)
    np.testing.assert_allclose(explanation.feature_map, expected, rtol=1e-5, atol=1e-6 * max(np.abs(expected).max(), 1e-3))
    assert explanation.params["score_kind"] == "logit"


def test_channel_softmax_weights_sum_to_one_and_ignore_the_baseline():
    scores = np.array([0.2, 1.5, -0.3])
    weights = scorecam_weights(scores, channel_softmax=True)
    assert weights.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(weights, np.exp(scores) / np.exp(scores).sum())
    np.testing.assert_allclose(scorecam_weights(scores - 0.7, channel_softmax=True), weights)  # f(X_b) = 0.7
    np.testing.assert_array_equal(scorecam_weights(scores), scores)


def test_scorecam_batch_size_does_not_change_the_result(small_model, rng):
    images = rng.random((1, 12, 12, 3)).astype("float32")
    first = run_scorecam(as_predictor(small_model), images, layer="conv", batch_size=1, verbose=0)[0]
    second = run_scorecam(as_predictor(small_model), images, layer="conv", batch_size=64, verbose=0)[0]
    np.testing.assert_allclose(first.feature_map, second.feature_map, rtol=1e-6, atol=1e-9)


def test_scorecam_bad_input_is_refused(small_model):
    predictor = as_predictor(small_model)
    images = np.zeros((1, 12, 12, 3), "float32")
    with pytest.raises(TypeError, match="perturbation method"):
        run_scorecam(as_predictor(lambda x: x.mean(axis=(1, 2))), images, verbose=0)
    with pytest.raises(TypeError, match="channel_softmax must be True or False"):
        run_scorecam(predictor, images, channel_softmax="yes", verbose=0)
    with pytest.raises(ValueError, match="score must be one of"):
        run_scorecam(predictor, images, score="prob", verbose=0)
    with pytest.raises(ValueError, match="out of range"):
        run_scorecam(predictor, images, targets=7, verbose=0)


def test_gradcam_class_with_scorecam_defaults_to_probabilities_and_matches_run_scorecam(small_model, rng):
    from superexplain.gradcam import GradCAM

    image = rng.random((12, 12, 3)).astype("float32")
    explanation = GradCAM(small_model, method="scorecam", layer="conv").explain(image, targets=1)
    direct = run_scorecam(as_predictor(small_model), image[None], targets=1, layer="conv", verbose=0)[0]
    assert explanation.params["score_kind"] == "probability" and explanation.method == "scorecam"
    np.testing.assert_allclose(explanation.feature_map, direct.feature_map, rtol=1e-6, atol=1e-9)
