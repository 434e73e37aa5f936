"""The random-logit test (Sixt et al. 1912.09818): class-blind maps score 1, class-specific ones low."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from superexplain.metrics import ScoreResult
from superexplain.sanity import random_logit

SIZE = 12


def _numpy_model(classes):
    return lambda x: np.stack([x.mean(axis=(1, 2, 3)) * (k + 1) for k in range(classes)], axis=1)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).random((3, SIZE, SIZE, 1)).astype(np.float32)


@pytest.fixture(scope="module")
def striped_model(keras):
    """logit_c = x . W_c with W_c living on its own third of the columns: orthogonal class patterns."""
    rng = np.random.default_rng(1)
    patterns = np.zeros((SIZE, SIZE, 3))
    for c in range(3):
        patterns[:, 4 * c:4 * c + 4, c] = rng.uniform(0.5, 1.5, size=(SIZE, 4))
    inputs = keras.Input((SIZE, SIZE, 1))
    outputs = keras.layers.Dense(3, use_bias=False)(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, outputs)
    model.layers[-1].set_weights([patterns.reshape(SIZE * SIZE, 3)])
    return model, patterns


@pytest.mark.parametrize("measure", ["ssim", "spearman_abs", "spearman", "hog"])
def test_the_edge_control_scores_exactly_one(images, measure):
    result = random_logit(_numpy_model(4), images, "edge", similarity=measure, random_state=0)
    assert isinstance(result, ScoreResult) and result.name == "random_logit" and not result.higher_is_better
    assert result.values["edge"].tolist() == [1.0, 1.0, 1.0]


def test_saliency_of_orthogonal_class_patterns_is_far_from_one(striped_model, images):
    model, patterns = striped_model
    result = random_logit(model, images, "saliency", similarity="spearman", random_state=1)
    ssim = random_logit(model, images, "saliency", random_state=1)
    for i, (target, other) in enumerate(zip(result.params["targets"], result.params["random_classes"])):
        assert target != other
        # |gradient| of a linear model is |W_c|, whatever the image
        expected = spearmanr(np.abs(patterns[..., target]).ravel(), np.abs(patterns[..., other]).ravel())[0]
        assert result.values["saliency"][i] == pytest.approx(expected, abs=1e-9)
    assert np.all(result.values["saliency"] < 0.0)
    assert np.all(ssim.values["saliency"] < 0.5)


def test_a_class_blind_map_scores_one_for_a_model_whose_classes_share_a_pattern(keras, images):
    inputs = keras.Input((SIZE, SIZE, 1))
    outputs = keras.layers.Dense(3, use_bias=False)(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, outputs)
    shared = np.random.default_rng(2).normal(size=(SIZE * SIZE, 1))
    model.layers[-1].set_weights([shared * np.array([[1.0, -2.0, 3.0]])])  # every class: a multiple of one pattern
    result = random_logit(model, images, "saliency", random_state=3)
    np.testing.assert_allclose(result.values["saliency"], 1.0, atol=1e-6)


def test_the_random_classes_are_the_documented_draws_and_never_the_target():
    many = np.random.default_rng(4).random((60, 4, 4, 1)).astype(np.float32)
    targets = np.arange(60) % 5
    result = random_logit(_numpy_model(5), many, "edge", similarity="spearman", targets=targets.tolist(),
                          random_state=5)
    rng = np.random.default_rng(5)
    rng.integers(0, 2**31 - 1)
    drawn = rng.integers(0, 4, size=60)
    expected = drawn + (drawn >= targets)
    assert result.params["random_classes"] == expected.tolist()
    assert result.params["targets"] == targets.tolist()
    assert not np.any(expected == targets)
    assert set(expected.tolist()) == {0, 1, 2, 3, 4}


def test_same_seed_gives_identical_results(striped_model, images):
    model, _ = striped_model
    first = random_logit(model, images, "saliency", random_state=6)
    again = random_logit(model, images, "saliency", random_state=6)
    np.testing.assert_array_equal(first.values["saliency"], again.values["saliency"])
    assert first.params == again.params and first.params["seed"] == 6


def test_a_callable_method_gets_both_targets_in_one_call(images):
    calls = []

    def class_stripe(model, batch, targets=None):
        calls.append(list(targets))
        return [np.roll(np.eye(SIZE), 3 * t, axis=1) for t in targets]

    result = random_logit(_numpy_model(3), images, class_stripe, similarity="spearman", targets=0, random_state=7)
    assert len(calls) == 1 and calls[0][:3] == [0, 0, 0]
    assert calls[0][3:] == result.params["random_classes"]
    assert np.all(result.values["class_stripe"] < 0.5)


@pytest.mark.parametrize("kwargs, error, words", [
    ({"method": 3}, TypeError, "method"),
    ({"method": "nope"}, ValueError, "method"),
    ({"similarity": "pearson"}, ValueError, "similarity"),
    ({"targets": 7}, ValueError, "target"),
    ({"images": np.zeros((1, 2, 6, 6, 1))}, ValueError, "images"),
    ({"model": _numpy_model(1)}, ValueError, "two classes"),
])
def test_bad_arguments_are_named_in_the_error(images, kwargs, error, words):
    arguments = {"model": _numpy_model(3), "images": images, "method": "edge", **kwargs}
    with pytest.raises(error, match=words):
        random_logit(arguments.pop("model"), arguments.pop("images"), arguments.pop("method"), random_state=0,
                     **arguments)


def test_gradcam_on_the_demo_model_depends_on_the_class(demo_model, demo_data):
    # Measured on make_shapes(8, seed=7), SSIM: Grad-CAM 0.09, saliency 0.65, edge control 1.
    images = demo_data.images[:4]
    gradcam = random_logit(demo_model, images, "gradcam", random_state=0)
    saliency = random_logit(demo_model, images, "saliency", random_state=0)
    assert gradcam.score < 0.4 and gradcam.score < saliency.score
