"""Faithfulness correlation (Bhatt 2005.00631), monotonicity (Arya 1909.03012), monotonicity correlation
(Nguyen & Martinez 2007.07584): known answers on linear models, numpy references, the demo model."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from superexplain.metrics import (ScoreResult, faithfulness_correlation, monotonicity, monotonicity_correlation,
                                  random_map, sensitivity_n)

SIZE = 16


def _linear(weights):
    return lambda x: (x * weights).sum(axis=(1, 2, 3))[:, None]


def _grid_segments(size=SIZE, cell=4):
    index = np.arange(size) // cell
    return index[:, None] * (size // cell) + index[None, :]


@pytest.fixture(scope="module")
def linear_case():
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(SIZE, SIZE, 3))
    image = rng.random((SIZE, SIZE, 3)).astype(np.float32)
    exact = (weights * image).sum(axis=2)  # each pixel's exact contribution for baseline 0
    return weights, image, exact


def _nonlinear(weights):
    return lambda x: np.tanh((x * weights).sum(axis=(1, 2, 3)) / 3.0)[:, None] ** 2


# --- faithfulness correlation ------------------------------------------------------------------------------

@pytest.mark.parametrize("features", ["pixels", "segments"])
def test_exact_contributions_of_a_linear_model_correlate_perfectly(linear_case, features):
    weights, image, exact = linear_case
    result = faithfulness_correlation(_linear(weights), image, exact, features=features, segments=_grid_segments(),
                                      num_subsets=30, target=0, random_state=0)
    assert isinstance(result, ScoreResult) and result.higher_is_better
    assert result.score > 1 - 1e-6
    assert result.params["subset_size"] == round(0.2 * (SIZE * SIZE if features == "pixels" else 16))


def test_random_map_has_faithfulness_correlation_near_zero(linear_case):
    weights, image, _ = linear_case
    controls = [random_map(image, target=0, random_state=seed) for seed in range(4)]
    result = faithfulness_correlation(_linear(weights), np.stack([image] * 4), controls, features="pixels",
                                      num_subsets=150, random_state=1)
    # 150 subsets: a zero correlation has a sampling s.d. of ~0.08 per image
    assert np.all(np.abs(result.values["random"]) < 0.3)
    assert abs(result.score) < 0.15


def test_it_is_sensitivity_n_at_one_subset_size_with_shared_subsets(linear_case):
    weights, image, _ = linear_case
    model = _nonlinear(weights)
    attribution = np.random.default_rng(2).random((SIZE, SIZE))
    maps = {"a": attribution, "scaled": 4.0 * attribution}
    result = faithfulness_correlation(model, image, maps, subset_size=10, num_subsets=25, features="pixels",
                                      target=0, random_state=3)
    reference = sensitivity_n(model, image, maps, ns=[10], num_subsets=25, features="pixels", target=0,
                              random_state=3)
    np.testing.assert_array_equal(result.values["a"], reference.correlations["a"])
    # Pearson is scale invariant: equal only if both methods saw the same subsets
    np.testing.assert_array_equal(result.values["a"], result.values["scaled"])
    assert result.score < 0.999 and result.params["subset_size"] == 10


@pytest.mark.parametrize("subset_size, error", [(0, ValueError), (1.5, ValueError), (0.0, ValueError),
                                                ("20%", TypeError), (True, TypeError), (SIZE * SIZE + 1, ValueError)])
def test_bad_subset_size_is_rejected(linear_case, subset_size, error):
    weights, image, exact = linear_case
    with pytest.raises(error, match="subset_size"):
        faithfulness_correlation(_linear(weights), image, exact, subset_size=subset_size, features="pixels",
                                 num_subsets=5, target=0)


# --- monotonicity -----------------------------------------------------------------------------------------

def _reference_monotonicity(model, image, attribution, labels, target=0):
    """AIX360's loop, written out: restore features in increasing attribution order, score each state."""
    sums = np.bincount(labels.ravel(), weights=attribution.ravel())
    state = np.zeros_like(image)
    scores = []
    for feature in np.argsort(sums, kind="stable"):
        state[labels == feature] = image[labels == feature]
        scores.append(model(state[None])[0, target])
    return float(np.mean(np.diff(scores) >= 0))


def test_monotonicity_is_one_on_a_linear_model_with_positive_weights(linear_case):
    weights, image, _ = linear_case
    positive = np.abs(weights)
    exact = (positive * image).sum(axis=2)
    for features in ("pixels", "segments"):
        result = monotonicity(_linear(positive), image, exact, features=features, segments=_grid_segments(),
                              target=0)
        assert result.score == 1.0


def test_monotonicity_counts_the_decreasing_steps_of_negative_contributions(linear_case):
    weights, image, exact = linear_case
    labels = _grid_segments()
    result = monotonicity(_linear(weights), image, exact, segments=labels, target=0)
    contributions = np.sort(np.bincount(labels.ravel(), weights=exact.ravel()))
    # the first restored feature starts the record; each later one lowers the score iff it is negative
    expected = np.mean(contributions[1:] >= 0)
    assert 0 < expected < 1
    assert result.score == pytest.approx(expected)


def test_monotonicity_matches_a_direct_loop_on_a_nonlinear_model(linear_case):
    weights, image, _ = linear_case
    labels = _grid_segments(cell=2)
    attribution = np.random.default_rng(4).normal(size=(SIZE, SIZE))
    model = _nonlinear(weights)
    result = monotonicity(model, image, attribution, segments=labels, target=0, batch_size=7)
    assert result.score == pytest.approx(_reference_monotonicity(model, image, attribution, labels))


# --- monotonicity correlation -----------------------------------------------------------------------------

@pytest.mark.parametrize("features", ["pixels", "segments"])
def test_monotonicity_correlation_is_one_for_the_exact_map_of_a_linear_model(linear_case, features):
    weights, image, exact = linear_case
    result = monotonicity_correlation(_linear(weights), image, exact, features=features, baseline=0.0,
                                      segments=_grid_segments(), target=0)
    assert result.score == pytest.approx(1.0, abs=1e-12)
    assert result.params["num_draws"] == 1


def test_monotonicity_correlation_matches_spearman_of_occlusion_effects(linear_case):
    weights, image, _ = linear_case
    model = _nonlinear(weights)
    labels = _grid_segments(cell=2)
    attribution = np.random.default_rng(5).normal(size=(SIZE, SIZE))
    full = model(image[None])[0, 0]
    effects = []
    for feature in range(labels.max() + 1):
        occluded = image.copy()
        occluded[labels == feature] = 0.5
        effects.append((model(occluded[None])[0, 0] - full) ** 2)
    sums = np.abs(np.bincount(labels.ravel(), weights=attribution.ravel()))
    result = monotonicity_correlation(model, image, attribution, segments=labels, baseline=0.5, target=0)
    assert result.score == pytest.approx(spearmanr(sums, effects)[0], abs=1e-6)


def test_uniform_draws_rank_features_by_their_expected_squared_effect():
    rng = np.random.default_rng(6)
    weights = rng.normal(size=(8, 8, 1))
    image = rng.random((8, 8, 1)).astype(np.float32)
    low, high = image.min(), image.max()
    # E[(w (u - x))^2] for u ~ U[low, high]: the known expected effect of each pixel
    expected = (weights * np.sqrt((high - low) ** 2 / 12 + ((high + low) / 2 - image) ** 2))[:, :, 0]
    run = lambda seed: monotonicity_correlation(_linear(weights), image, expected, features="pixels",
                                                num_draws=100, target=0, random_state=seed)
    first = run(7)
    assert first.score > 0.9
    assert first.params["seed"] == 7 and first.params["num_draws"] == 100
    assert run(7).score == first.score and run(8).score != first.score


def test_random_map_has_monotonicity_correlation_near_zero(linear_case):
    weights, image, _ = linear_case
    control = random_map(image, target=0, random_state=9)
    result = monotonicity_correlation(_linear(weights), image, control, features="pixels", baseline=0.0, target=0)
    assert abs(result.score) < 0.25  # 256 features: the s.d. of a zero rank correlation is ~0.06


def test_bad_arguments_are_rejected_naming_them(linear_case):
    weights, image, exact = linear_case
    model = _linear(weights)
    with pytest.raises(ValueError, match="num_draws"):
        monotonicity_correlation(model, image, exact, num_draws=0, features="pixels")
    with pytest.raises(ValueError, match="baseline"):
        monotonicity_correlation(model, image, exact, baseline="noise", features="pixels")
    with pytest.raises(ValueError, match="score"):
        monotonicity(model, image, exact, score="softmax", features="pixels")
    with pytest.raises(ValueError, match="features"):
        monotonicity(model, image, exact, features="patches")
    with pytest.raises(TypeError, match="explanation"):
        monotonicity(model, image, None)
    with pytest.raises(ValueError, match="image's size"):
        faithfulness_correlation(model, image, np.zeros((4, 4)), features="pixels")


def test_inputs_are_not_modified(linear_case):
    weights, image, exact = linear_case
    image_copy, exact_copy = image.copy(), exact.copy()
    monotonicity_correlation(_linear(weights), image, exact, features="segments", segments=_grid_segments(),
                             num_draws=2, random_state=0, target=0)
    monotonicity(_linear(weights), image, exact, segments=_grid_segments(), target=0)
    np.testing.assert_array_equal(image, image_copy)
    np.testing.assert_array_equal(exact, exact_copy)


# --- the demo model, read against the random-map control -------------------------------------------------

def test_gradcam_beats_the_random_map_on_the_demo_model(demo_model, demo_data):
    import superexplain
    from superexplain.segmentation import segment

    images = demo_data.images[:8]
    gradcam = superexplain.explain(demo_model, images, method="gradcam", verbose=0)
    # one random value per superpixel: a pixel-level random map summed per superpixel favours large segments
    controls = [random_map(e, segments=segment(image), random_state=i)
                for i, (e, image) in enumerate(zip(gradcam, images))]
    maps = {"gradcam": gradcam, "random": controls}
    faithful = faithfulness_correlation(demo_model, images, maps, num_subsets=50, random_state=0)
    assert faithful.best == "gradcam"
    assert faithful.scores["gradcam"] > faithful.scores["random"] + 0.15
    assert abs(faithful.scores["random"]) < 0.15
    correlation = monotonicity_correlation(demo_model, images, maps, num_draws=5, random_state=0)
    assert correlation.best == "gradcam"
