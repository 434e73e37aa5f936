"""Sensitivity-n (Ancona et al. 1711.06104) on models whose answer is known in closed form."""
from __future__ import annotations

import numpy as np
import pytest

from superexplain import Explanation
from superexplain.metrics import default_ns, random_map, sensitivity_n

SIZE = 16


def _linear(weights):
    return lambda x: (x * weights).sum(axis=(1, 2, 3))[:, None]


@pytest.fixture(scope="module")
def linear_case():
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(SIZE, SIZE, 3))
    image = rng.random((SIZE, SIZE, 3)).astype(np.float32)
    exact = (weights * image).sum(axis=2)  # gradient x input of a linear model: exact for baseline 0
    return weights, image, exact


def _grid_segments(size=SIZE, cell=4):
    index = np.arange(size) // cell
    return index[:, None] * (size // cell) + index[None, :]


@pytest.mark.parametrize("features", ["pixels", "segments"])
def test_exact_attribution_of_linear_model_has_sensitivity_one_at_every_n(linear_case, features):
    weights, image, exact = linear_case
    result = sensitivity_n(_linear(weights), image, exact, num_subsets=20, features=features,
                           segments=_grid_segments(), target=0, random_state=1)
    assert result.correlations.shape == result.ns.shape
    assert np.all(result.correlations > 1 - 1e-4)


def test_exact_attribution_for_a_constant_baseline_is_weight_times_difference(linear_case):
    weights, image, _ = linear_case
    exact = (weights * (image - 0.5)).sum(axis=2)
    result = sensitivity_n(_linear(weights), image, exact, ns=[1, 7, 100], num_subsets=15, features="pixels",
                           baseline=0.5, target=0, random_state=2)
    assert np.all(result.correlations > 1 - 1e-4)


def test_random_map_has_sensitivity_near_zero(linear_case):
    weights, image, exact = linear_case
    control = random_map(image, target=0, random_state=3)
    result = sensitivity_n(_linear(weights), image, control, num_subsets=200, features="pixels",
                           target=0, random_state=4)
    # 200 subsets: the sampling s.d. of a zero correlation is ~0.07 per n.
    assert abs(np.mean(result.correlations)) < 0.08
    assert np.all(np.abs(result.correlations) < 0.3)


def test_occlusion_one_is_exact_at_n_equal_one_on_a_nonlinear_model():
    rng = np.random.default_rng(5)
    weights = rng.normal(size=(8, 8, 1))

    def model(x):
        return np.tanh((x * weights).sum(axis=(1, 2, 3)) / 4.0)[:, None] ** 2

    image = rng.random((8, 8, 1)).astype(np.float32)
    full = model(image[None])[0, 0]
    occlusion = np.empty((8, 8))
    for r in range(8):
        for c in range(8):
            removed = image.copy()
            removed[r, c] = 0.0
            occlusion[r, c] = full - model(removed[None])[0, 0]
    result = sensitivity_n(model, image, occlusion, ns=[1, 30], num_subsets=40, features="pixels", target=0,
                           random_state=6)
    assert result.correlations[0] > 1 - 1e-4
    assert result.correlations[1] < 0.999  # a nonlinear model: no method satisfies it at every n


def test_subsets_are_shared_across_methods():
    rng = np.random.default_rng(7)
    weights = rng.normal(size=(8, 8, 1))

    def model(x):  # nonlinear, so correlations are below 1 and depend on the subsets drawn
        return ((x * weights).sum(axis=(1, 2, 3)) ** 2)[:, None]

    image = rng.random((8, 8, 1)).astype(np.float32)
    attribution = rng.random((8, 8))
    result = sensitivity_n(model, image, {"a": attribution, "scaled": 3.0 * attribution + 0.0},
                           ns=[2, 5, 20], num_subsets=30, features="pixels", target=0, random_state=8)
    assert set(result.correlations) == {"a", "scaled"}
    # Pearson is scale invariant: identical only if both methods saw the same subsets.
    np.testing.assert_allclose(result.correlations["a"], result.correlations["scaled"], atol=1e-12)
    assert not np.allclose(result.correlations["a"], 1.0)


def test_same_seed_gives_the_same_correlations(linear_case):
    weights, image, _ = linear_case
    attribution = np.random.default_rng(9).random((SIZE, SIZE))
    run = lambda seed: sensitivity_n(_linear(weights), image, attribution, ns=[3, 30], num_subsets=10,
                                     features="pixels", target=0, random_state=seed).correlations
    np.testing.assert_array_equal(run(10), run(10))
    assert not np.array_equal(run(10), run(11))


def test_several_images_give_one_row_per_image_and_a_mean(linear_case):
    weights, image, exact = linear_case
    images = np.stack([image, image[::-1]])
    exacts = [exact, (weights * image[::-1]).sum(axis=2)]
    result = sensitivity_n(_linear(weights), images, exacts, ns=[1, 4, 16], num_subsets=10, features="pixels",
                           target=0, random_state=12)
    assert result.correlations.shape == (2, 3)
    mean, low, high = result.summary()["map"]
    assert np.all(low <= mean + 1e-12) and np.all(mean <= high + 1e-12)
    np.testing.assert_allclose(mean, 1.0, atol=1e-4)


class _Pairs:
    """A duck-typed DatasetResult: anything with .pairs() yielding (image, explanation)."""

    def __init__(self, pairs):
        self._pairs = pairs

    def pairs(self):
        yield from self._pairs


def test_dataset_with_pairs_or_a_directory_aggregates_like_a_batch(linear_case, tmp_path):
    weights, image, exact = linear_case
    explanations = [Explanation(image=img, method="exact", target=0, heatmap=(weights * img).sum(axis=2))
                    for img in (image, image[:, ::-1])]
    batch = sensitivity_n(_linear(weights), np.stack([e.image for e in explanations]), explanations, ns=[2, 9],
                          num_subsets=8, features="pixels", random_state=13)
    ducked = sensitivity_n(_linear(weights), _Pairs([(e.image, e) for e in explanations]), ns=[2, 9],
                           num_subsets=8, features="pixels", random_state=13)
    for i, e in enumerate(explanations):
        e.save(tmp_path / f"e{i}.npz")
    from_directory = sensitivity_n(_linear(weights), str(tmp_path), ns=[2, 9], num_subsets=8, features="pixels",
                                   random_state=13)
    np.testing.assert_array_equal(batch.correlations, ducked.correlations)
    np.testing.assert_array_equal(batch.correlations, from_directory.correlations)
    assert ducked.correlations.shape == (2, 2)


def test_default_ns_spans_one_to_eighty_percent():
    ns = default_ns(4096)
    assert ns[0] == 1 and ns[-1] == round(0.8 * 4096)
    assert np.all(np.diff(ns) > 0)
    assert np.all(np.diff(np.log(ns)) > 0)


def test_plot_draws_one_line_per_method(linear_case):
    import matplotlib.pyplot as plt

    weights, image, exact = linear_case
    result = sensitivity_n(_linear(weights), image, [exact, random_map(image, target=0, random_state=0)],
                           ns=[1, 10], num_subsets=5, features="pixels", target=0, random_state=0)
    ax = result.plot()
    assert len(ax.get_lines()) >= 2
    plt.close("all")


@pytest.mark.parametrize("ns", [[0, 3], [SIZE * SIZE + 1], [2.5]])
def test_ns_outside_one_to_features_is_rejected(linear_case, ns):
    weights, image, exact = linear_case
    with pytest.raises((ValueError, TypeError), match="ns"):
        sensitivity_n(_linear(weights), image, exact, ns=ns, features="pixels", target=0)


def test_fewer_than_two_subsets_is_rejected(linear_case):
    weights, image, exact = linear_case
    with pytest.raises(ValueError, match="num_subsets"):
        sensitivity_n(_linear(weights), image, exact, num_subsets=1, features="pixels", target=0)


def test_explanation_of_another_image_size_is_rejected(linear_case):
    weights, image, _ = linear_case
    with pytest.raises(ValueError, match="image's size"):
        sensitivity_n(_linear(weights), image, np.zeros((8, 8)), features="pixels", target=0)


def test_unknown_feature_space_and_wrong_count_are_rejected(linear_case):
    weights, image, exact = linear_case
    with pytest.raises(ValueError, match="features"):
        sensitivity_n(_linear(weights), image, exact, features="patches", target=0)
    with pytest.raises(ValueError, match="one per image"):
        sensitivity_n(_linear(weights), np.stack([image, image]), [exact], features="pixels", target=0)


def test_batch_size_bounds_every_model_call(linear_case):
    weights, image, exact = linear_case
    sizes = []

    def model(batch):
        sizes.append(len(batch))
        return _linear(weights)(batch)

    result = sensitivity_n(model, image, exact, ns=[1, 4, 16], num_subsets=30, features="pixels", target=0,
                           random_state=0, batch_size=8)
    assert result.correlations.shape == (3,)
    assert sum(sizes) == 1 + 3 * 30  # the image, then 30 subsets at each of 3 n
    assert max(sizes) == 8
