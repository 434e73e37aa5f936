"""Pixel gradient attributions against closed forms, hand-computed backward passes and finite differences."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import superexplain
from superexplain.gradcam.integrated_gradients import integration_points


def _explain(model, images, method, **options):
    return superexplain.explain(model, images, method=method, verbose=0, **options)


@pytest.fixture(scope="module")
def linear_model(keras):
    """Scores = W . flatten(x) + b: every attribution method has a closed form here."""
    keras.utils.set_random_seed(3)
    inputs = keras.Input((6, 5, 3))
    outputs = keras.layers.Dense(4, bias_initializer="random_normal")(keras.layers.Flatten()(inputs))
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def quadratic_model(keras):
    """f(x) = (v . x)^2: along the path alpha x the gradient is linear in alpha."""
    keras.utils.set_random_seed(4)
    inputs = keras.Input((3, 3, 1))
    projection = keras.layers.Dense(1, use_bias=False)(keras.layers.Flatten()(inputs))
    return keras.Model(inputs, keras.layers.Lambda(lambda t: t * t)(projection))


def _linear_weights(model, target):
    dense = model.layers[-1]
    return np.asarray(dense.kernel)[:, target].reshape(6, 5, 3).astype(np.float64)


def test_gradient_input_and_integrated_gradients_equal_w_times_x_on_a_linear_model(linear_model, rng):
    images = rng.uniform(0, 1, (2, 6, 5, 3)).astype(np.float32)
    for method, options in [("gradient_input", {}), ("integrated_gradients", {"steps": 7})]:
        explanations = _explain(linear_model, images, method, target=2, **options)
        for image, explanation in zip(images, explanations):
            expected = _linear_weights(linear_model, 2) * image
            np.testing.assert_allclose(explanation.attribution, expected, atol=1e-5)
            np.testing.assert_allclose(explanation.heatmap, expected.sum(axis=-1), atol=1e-5)


def test_saliency_of_a_linear_model_is_its_weights_with_the_papers_abs_max_heatmap(linear_model, rng):
    image = rng.uniform(0, 1, (6, 5, 3)).astype(np.float32)
    weights = _linear_weights(linear_model, 1)
    explanation = _explain(linear_model, image, "saliency", target=1)
    np.testing.assert_allclose(explanation.attribution, weights, atol=1e-6)
    np.testing.assert_allclose(explanation.heatmap, np.abs(weights).max(axis=-1), atol=1e-6)
    summed = _explain(linear_model, image, "saliency", target=1, absolute=False, reduce="sum")
    np.testing.assert_allclose(summed.heatmap, weights.sum(axis=-1), atol=1e-5)


def test_baselines_colour_image_and_averaged_list_shift_the_linear_attribution(linear_model, rng):
    image = rng.uniform(0, 1, (6, 5, 3)).astype(np.float32)
    reference = rng.uniform(0, 1, (6, 5, 3)).astype(np.float32)
    weights = _linear_weights(linear_model, 0)
    cases = [(0.5, image - 0.5), ([0.1, 0.2, 0.3], image - np.array([0.1, 0.2, 0.3])),
             (reference, image - reference), ([0.0, 1.0], image - 0.5), ([0.0, reference], image - reference / 2)]
    for baseline, difference in cases:
        for method, options in [("gradient_input", {}), ("integrated_gradients", {"steps": 3})]:
            explanation = _explain(linear_model, image, method, target=0, baseline=baseline, **options)
            np.testing.assert_allclose(explanation.attribution, weights * difference, atol=1e-5)


def test_integrated_gradients_rules_match_closed_forms_on_a_quadratic(quadratic_model, rng):
    image = rng.uniform(0.2, 1, (3, 3, 1)).astype(np.float32)
    v = np.asarray(quadratic_model.layers[2].kernel, np.float64)[:, 0]
    fx = float(v @ image.ravel()) ** 2
    steps = 4
    # the gradient 2 alpha (v.x) v is linear in alpha: midpoint and trapezoid are exact, the end rules
    # give (S -+ 1)/S of f(x) - f(0)
    expected_sums = {"riemann_middle": fx, "trapezoid": fx, "riemann_left": fx * (steps - 1) / steps,
                     "riemann_right": fx * (steps + 1) / steps}
    for rule, expected in expected_sums.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the end rules' gap of 1/steps is the point here
            explanation = _explain(quadratic_model, image, "integrated_gradients", steps=steps, rule=rule)
        assert explanation.attribution.sum() == pytest.approx(expected, rel=1e-5)
        assert explanation.params["completeness_gap"] == pytest.approx(abs(expected - fx), abs=1e-4 * fx)
        assert explanation.params["rule"] == rule


def test_integration_points_are_a_probability_weighting_of_the_documented_nodes():
    for rule in ("riemann_left", "riemann_right", "riemann_middle", "trapezoid"):
        alphas, weights = integration_points(5, rule)
        assert weights.sum() == pytest.approx(1.0)
        assert alphas.min() >= 0 and alphas.max() <= 1
    assert integration_points(2, "trapezoid")[0].tolist() == [0.0, 0.5, 1.0]
    assert integration_points(2, "trapezoid")[1].tolist() == [0.25, 0.5, 0.25]


def test_too_few_steps_warn_about_the_completeness_gap(quadratic_model, rng):
    image = rng.uniform(0.2, 1, (3, 3, 1)).astype(np.float32)
    with pytest.warns(UserWarning, match="f\\(x\\) - f\\(baseline\\)"):
        explanation = _explain(quadratic_model, image, "integrated_gradients", steps=1, rule="riemann_left")
    assert explanation.params["completeness_relative_gap"] == pytest.approx(1.0)


def test_integrated_gradients_are_complete_on_the_demo_cnn_at_200_steps(demo_model, demo_data):
    import keras

    images = demo_data.images[:2]
    explanations = _explain(demo_model, images, "integrated_gradients", steps=200, target=[1, 3])
    # independent scores: the features before the head, times the head's weights, in float64
    head = demo_model.get_layer("predictions")
    features = keras.Model(demo_model.inputs[0], head.input)
    kernel, bias = (np.asarray(w, np.float64) for w in head.get_weights())

    def logits(batch):
        return np.asarray(features(batch), np.float64) @ kernel + bias

    delta = logits(images) - logits(np.zeros_like(images))
    for explanation, row, target in zip(explanations, delta, [1, 3]):
        assert explanation.target == target
        assert explanation.attribution.sum() == pytest.approx(row[target], rel=0.01)
        assert explanation.params["completeness_relative_gap"] < 0.01


def test_saliency_equals_central_finite_differences_of_an_independent_float64_forward(keras, rng):
    keras.utils.set_random_seed(5)
    inputs = keras.Input((4, 4, 2))
    hidden = keras.layers.Conv2D(3, 2, activation="tanh", bias_initializer="random_normal")(inputs)
    outputs = keras.layers.Dense(2)(keras.layers.Flatten()(hidden))
    model = keras.Model(inputs, outputs)
    conv_kernel, conv_bias, dense_kernel, dense_bias = (np.asarray(w, np.float64) for w in model.get_weights())

    def forward(x):  # numpy, float64: the same network written out by hand
        patches = np.stack([[x[i:i + 2, j:j + 2] for j in range(3)] for i in range(3)])  # (3, 3, 2, 2, 2)
        z = np.einsum("ijabc,abck->ijk", patches, conv_kernel) + conv_bias
        return np.tanh(z).ravel() @ dense_kernel + dense_bias

    image = rng.normal(0, 1, (4, 4, 2))
    eps = 1e-6
    numeric = np.zeros_like(image)
    for index in np.ndindex(image.shape):
        step = np.zeros_like(image)
        step[index] = eps
        numeric[index] = (forward(image + step)[1] - forward(image - step)[1]) / (2 * eps)
    explanation = _explain(model, image.astype(np.float32), "saliency", target=1)
    np.testing.assert_allclose(explanation.attribution, numeric, rtol=1e-3, atol=1e-4)


def test_many_images_and_targets_in_one_pass_match_one_at_a_time(linear_model, rng):
    images = rng.uniform(0, 1, (3, 6, 5, 3)).astype(np.float32)
    together = _explain(linear_model, images, "integrated_gradients", top_labels=2, steps=5, batch_size=4)
    assert len(together) == 6
    for k, explanation in enumerate(together):
        alone = _explain(linear_model, images[k // 2], "integrated_gradients", target=explanation.target, steps=5)
        np.testing.assert_allclose(explanation.attribution, alone.attribution, atol=1e-6)
        np.testing.assert_array_equal(explanation.image, images[k // 2])
    scores = np.asarray(linear_model(images))
    assert [e.target for e in together] == np.argsort(-scores, axis=1)[:, :2].ravel().tolist()


def test_one_compiled_trace_serves_every_batch_size(keras, rng):
    from superexplain.gradcam.input_gradients import input_gradient_function
    from superexplain.models import as_predictor

    keras.utils.set_random_seed(6)
    inputs = keras.Input((4, 4, 1))
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(inputs)))
    images = rng.uniform(0, 1, (3, 4, 4, 1)).astype(np.float32)
    for batch_size in (1, 4, 7):  # rows 3 x 5 steps: batches of 1, 4 and 4, 3 and 7, 7, 1
        _explain(model, images, "integrated_gradients", steps=5, batch_size=batch_size)
    function, kind, _ = input_gradient_function(as_predictor(model))
    assert kind == "logit"
    assert function.experimental_get_tracing_count() == 1
