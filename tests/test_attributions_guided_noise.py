"""Guided backpropagation by hand, the user's model untouched, SmoothGrad/VarGrad noise, and bad input."""
from __future__ import annotations

import numpy as np
import pytest

import superexplain


def _explain(model, images, method, **options):
    return superexplain.explain(model, images, method=method, verbose=0, **options)


def _relu_mlp(keras, seed):
    """x (2x2x1) -> Dense(6, relu) -> Dense(5) -> ReLU(max_value=1) -> Dense(3): two rectified ReLUs."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((2, 2, 1))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(6, activation="relu", bias_initializer="random_normal", name="h1")(x)
    x = keras.layers.Dense(5, bias_initializer="random_normal", name="h2")(x)
    x = keras.layers.ReLU(max_value=1.0, name="clip")(x)
    outputs = keras.layers.Dense(3, name="out")(x)
    return keras.Model(inputs, outputs)


def _by_hand(model, image, target):
    """Plain and guided input gradients of the MLP above, written out in numpy."""
    w1, b1, w2, b2, w3, _ = (np.asarray(w, np.float64) for w in model.get_weights())
    x = image.ravel().astype(np.float64)
    z1 = x @ w1 + b1
    z2 = np.maximum(z1, 0) @ w2 + b2
    open1, open2 = z1 > 0, (z2 > 0) & (z2 < 1)
    plain = w1 @ (open1 * (w2 @ (open2 * w3[:, target])))
    # guided: a ReLU passes a gradient only where its input and the gradient arriving are positive
    g2 = open2 * np.maximum(w3[:, target], 0)
    g1 = open1 * np.maximum(w2 @ g2, 0)
    return plain.reshape(image.shape), (w1 @ g1).reshape(image.shape)


def test_guided_backprop_matches_the_hand_computed_rectified_backward_pass(keras, rng):
    model = _relu_mlp(keras, seed=11)
    images = rng.normal(0.5, 1.0, (6, 2, 2, 1)).astype(np.float32)
    guided = _explain(model, images, "guided_backprop", target=0)
    plain = _explain(model, images, "saliency", target=0)
    differs = 0
    for image, g, p in zip(images, guided, plain):
        expected_plain, expected_guided = _by_hand(model, image, 0)
        np.testing.assert_allclose(p.attribution, expected_plain, atol=1e-5)
        np.testing.assert_allclose(g.attribution, expected_guided, atol=1e-5)
        differs += not np.allclose(expected_plain, expected_guided)
    assert differs > 0  # the test network does exercise the rectification
    assert guided[0].params["guided_relus"] == 2


def test_guided_backprop_leaves_the_users_model_unchanged(keras, rng):
    model = _relu_mlp(keras, seed=12)
    images = rng.normal(0.5, 1.0, (4, 2, 2, 1)).astype(np.float32)
    weights = [w.copy() for w in model.get_weights()]
    layer_names = [layer.name for layer in model.layers]
    outputs = np.asarray(model(images))
    before = _explain(model, images, "saliency", target=1)
    _explain(model, images, "guided_backprop", target=1)
    assert all(np.array_equal(a, b) for a, b in zip(weights, model.get_weights()))
    np.testing.assert_array_equal(np.asarray(model(images)), outputs)
    after = _explain(model, images, "saliency", target=1)
    assert all(np.array_equal(a.attribution, b.attribution) for a, b in zip(before, after))
    assert model.get_layer("h1").activation is keras.activations.relu
    assert type(model.get_layer("clip")) is keras.layers.ReLU
    assert [layer.name for layer in model.layers] == layer_names


def test_guided_backprop_follows_weight_changes_made_after_the_first_call(keras, rng):
    model = _relu_mlp(keras, seed=13)
    image = rng.normal(0.5, 1.0, (2, 2, 1)).astype(np.float32)
    _explain(model, image, "guided_backprop", target=2)  # builds and caches the guided copy
    model.get_layer("out").set_weights([w * -1.5 for w in model.get_layer("out").get_weights()])
    explanation = _explain(model, image, "guided_backprop", target=2)
    np.testing.assert_allclose(explanation.attribution, _by_hand(model, image, 2)[1], atol=1e-5)


def _noisy_gradients(model, image, target, seed, num_samples, noise_level):
    """Reference: the documented noise (numpy Generator, sigma = level * range) and tf gradients."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    sigma = noise_level * (image.max() - image.min())
    noisy = image + rng.standard_normal((num_samples,) + image.shape, dtype=np.float32) * np.float32(sigma)
    batch = tf.constant(noisy)
    with tf.GradientTape() as tape:
        tape.watch(batch)
        scores = model(batch)[:, target]
    return tape.gradient(scores, batch).numpy().astype(np.float64)


def test_smoothgrad_and_vargrad_are_mean_and_variance_of_noisy_gradients(keras, rng):
    model = _relu_mlp(keras, seed=14)
    image = rng.normal(0.5, 1.0, (2, 2, 1)).astype(np.float32)
    grads = _noisy_gradients(model, image, 1, seed=7, num_samples=20, noise_level=0.3)
    options = dict(target=1, random_state=7, num_samples=20, noise_level=0.3, batch_size=6)
    smooth = _explain(model, image, "smoothgrad", **options)
    variance = _explain(model, image, "vargrad", **options)
    np.testing.assert_allclose(smooth.attribution, grads.mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(variance.attribution, grads.var(axis=0), atol=1e-5)
    np.testing.assert_allclose(smooth.heatmap, np.abs(grads.mean(axis=0)).max(axis=-1), atol=1e-5)


def test_same_seed_gives_a_bit_identical_smoothgrad_and_another_seed_does_not(keras, rng):
    model = _relu_mlp(keras, seed=15)
    images = rng.normal(0.5, 1.0, (2, 2, 2, 1)).astype(np.float32)
    first = _explain(model, images, "smoothgrad", random_state=3, num_samples=10)
    second = _explain(model, images, "smoothgrad", random_state=3, num_samples=10)
    other = _explain(model, images, "smoothgrad", random_state=4, num_samples=10)
    assert first == second
    assert first[0].params["seed"] == 3
    assert not np.array_equal(first[0].attribution, other[0].attribution)


def test_smoothgrad_over_gradient_input_on_a_linear_model_averages_w_times_noisy_x(keras, rng):
    keras.utils.set_random_seed(16)
    inputs = keras.Input((3, 3, 1))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(inputs)))
    image = rng.uniform(0, 1, (3, 3, 1)).astype(np.float32)
    weights = np.asarray(model.layers[-1].kernel, np.float64)[:, 0].reshape(3, 3, 1)
    noise = np.random.default_rng(9).standard_normal((30, 3, 3, 1), dtype=np.float32) * np.float32(
        0.2 * (image.max() - image.min()))
    explanation = _explain(model, image, "vargrad", target=0, random_state=9, num_samples=30, noise_level=0.2,
                           base_method="gradient_input")
    np.testing.assert_allclose(explanation.attribution, (weights * (image + noise)).var(axis=0), atol=1e-6)


@pytest.mark.parametrize("method, options, error, words", [
    ("smoothgrad", {"base_method": "gradcam"}, ValueError, "base_method"),
    ("integrated_gradients", {"steps": 0}, ValueError, "steps"),
    ("integrated_gradients", {"baseline": np.zeros((5, 5, 1))}, ValueError, "baseline"),
    ("gradient_input", {"baseline": np.array([0.1, 0.2, 0.3])}, ValueError, "colour of 1"),
    ("integrated_gradients", {"baseline": "grey"}, ValueError, "baseline"),
    ("vargrad", {"noise_level": -0.1}, ValueError, "noise_level"),
    ("vargrad", {"num_samples": 1}, ValueError, "num_samples"),
    ("integrated_gradients", {"rule": "simpson"}, ValueError, "rule"),
    ("saliency", {"reduce": "mean"}, ValueError, "reduce"),
    ("saliency", {"absolute": "yes"}, TypeError, "absolute"),
    ("smoothgrad", {"steps": 10}, TypeError, "steps"),
    ("saliency", {"baseline": 0.0}, TypeError, "baseline"),
])
def test_bad_options_fail_with_a_message_naming_the_argument(keras, method, options, error, words):
    model = _relu_mlp(keras, seed=17)
    with pytest.raises(error, match=words):
        _explain(model, np.zeros((2, 2, 1), np.float32), method, **options)


def test_a_plain_callable_is_refused_with_a_pointer_to_perturbation_methods():
    with pytest.raises(TypeError, match="perturbation"):
        _explain(lambda x: x.mean(axis=(1, 2)), np.zeros((4, 4, 3), np.float32), "integrated_gradients")
