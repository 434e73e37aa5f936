"""The metrics on real methods: exact attributions of a linear Keras model, and the demo CNN against the controls."""
from __future__ import annotations

import numpy as np
import pytest

import superexplain
from superexplain.metrics import deletion, insertion, pointing_game, random_map, relevance_mass, sensitivity_n

N_IMAGES = 6


@pytest.fixture(scope="module")
def linear_keras(keras):
    """A Dense layer on the flattened image: the logit is exactly linear in every pixel."""
    keras.utils.set_random_seed(3)
    inputs = keras.Input((16, 16, 3))
    outputs = keras.layers.Dense(2, name="logits")(keras.layers.Flatten()(inputs))
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def grid_segments():
    index = np.arange(16) // 4
    return index[:, None] * 4 + index[None, :]


def test_gradient_times_input_of_a_linear_keras_model_has_sensitivity_one(linear_keras, grid_segments):
    image = np.random.default_rng(0).random((16, 16, 3)).astype(np.float32)
    explanation = superexplain.explain(linear_keras, image, method="gradient_input", target=1, verbose=0)
    for features in ("pixels", "segments"):
        result = sensitivity_n(linear_keras, image, explanation, num_subsets=12, features=features,
                               segments=grid_segments, random_state=0)
        assert np.all(result.correlations > 1 - 1e-3), features


def test_lime_without_shrinkage_on_a_linear_keras_model_has_sensitivity_one(linear_keras, grid_segments):
    image = np.random.default_rng(1).random((16, 16, 3)).astype(np.float32)
    explanation = superexplain.explain(linear_keras, image, method="lime", target=0, segments=grid_segments,
                                       hide_color=0.0, alpha=1e-8, feature_selection="none", score="logit",
                                       num_samples=200, random_state=0, verbose=0)
    result = sensitivity_n(linear_keras, image, explanation, num_subsets=12, random_state=1)
    assert np.all(result.correlations > 1 - 1e-3)
    control = sensitivity_n(linear_keras, image, random_map(explanation, random_state=2), num_subsets=60,
                            random_state=1)
    assert abs(np.mean(control.correlations)) < 0.25


@pytest.fixture(scope="module")
def demo_explanations(demo_model, demo_data):
    images = demo_data.images[:N_IMAGES]
    gradcam = superexplain.explain(demo_model, images, method="gradcam", verbose=0)
    lime = superexplain.explain(demo_model, images, method="lime", num_samples=200, random_state=0, verbose=0)
    controls = [random_map(e.image, target=e.target, random_state=i) for i, e in enumerate(gradcam)]
    return images, demo_data.masks[:N_IMAGES], {"gradcam": gradcam, "lime": lime}, controls


@pytest.mark.parametrize("method", ["gradcam", "lime"])
def test_methods_beat_the_random_map_on_deletion_insertion_and_pointing(demo_model, demo_explanations, method):
    images, masks, explanations, controls = demo_explanations
    ours = explanations[method]
    # Deletion to black of randomly scattered pixels destroys the image faster than any ordering
    # (the out-of-distribution effect ROAD corrects), so pixels are deleted into the blurred image.
    assert deletion(demo_model, images, ours, step=128, baseline="blur", random_state=0).auc < \
        deletion(demo_model, images, controls, step=128, baseline="blur", random_state=0).auc
    assert insertion(demo_model, images, ours, step=128, random_state=0).auc > \
        insertion(demo_model, images, controls, step=128, random_state=0).auc
    assert pointing_game(ours, masks).score > pointing_game(controls, masks).score
    assert relevance_mass(ours, masks).score > relevance_mass(controls, masks).score


def test_gradcam_beats_the_random_map_on_superpixel_sensitivity_n(demo_model, demo_explanations):
    images, _, explanations, _ = demo_explanations
    lime = explanations["lime"][:2]
    methods = {"gradcam": explanations["gradcam"][:2],
               "random": [random_map(e, random_state=i) for i, e in enumerate(lime)]}
    # The LIME segments are the shared feature space (a pixel map is summed per superpixel).
    result = sensitivity_n(demo_model, images[:2], methods, ns=[1, 4, 16], num_subsets=30,
                           segments=None, random_state=0)
    assert np.nanmean(result.correlations["gradcam"]) > np.nanmean(result.correlations["random"])


def test_metrics_accept_an_explain_dataset_result_or_its_directory(demo_model, demo_explanations, tmp_path):
    images, _, explanations, _ = demo_explanations
    result = superexplain.explain_dataset(demo_model, images[:2], method="gradcam", out=str(tmp_path), verbose=0)
    direct = deletion(demo_model, images[:2], explanations["gradcam"][:2], step=256, random_state=0)
    from_result = deletion(demo_model, result, step=256, random_state=0)
    from_directory = deletion(demo_model, str(tmp_path), step=256, random_state=0)
    np.testing.assert_allclose(from_result.aucs, direct.aucs, atol=1e-6)
    np.testing.assert_allclose(from_directory.aucs, direct.aucs, atol=1e-6)
