"""Deletion, insertion (RISE) and ROAD on models whose curves are known by hand."""
from __future__ import annotations

import numpy as np
import pytest

from superexplain.metrics import deletion, insertion, noisy_linear_impute, road
from superexplain.metrics._features import blurred


def _fraction_kept(x):
    return (x != 0).mean(axis=(1, 2, 3))[:, None]


def _trapezoid_by_hand(x, y):
    return sum((y[i] + y[i + 1]) / 2 * (x[i + 1] - x[i]) for i in range(len(x) - 1))


def test_deletion_of_fraction_kept_model_has_area_one_half():
    image = np.ones((8, 8, 3), np.float32)
    result = deletion(_fraction_kept, image, np.random.default_rng(0).random((8, 8)), step=1, target=0,
                      random_state=0)
    np.testing.assert_allclose(result.scores[0], 1 - result.fractions[0], atol=1e-7)
    assert result.auc == pytest.approx(0.5, abs=1e-7)


def test_deletion_area_matches_the_trapezoid_of_the_analytic_curve_with_a_partial_last_step():
    model = lambda x: (_fraction_kept(x) ** 2)
    image = np.ones((8, 8, 1), np.float32)
    result = deletion(model, image, np.zeros((8, 8)), step=10, target=0, random_state=0)
    x = np.array([0, 10, 20, 30, 40, 50, 60, 64]) / 64
    np.testing.assert_allclose(result.fractions[0], x)
    expected = _trapezoid_by_hand(x, (1 - x) ** 2)
    assert result.auc == pytest.approx(expected, abs=1e-6)
    # and with equal steps, the closed form of the trapezoid rule for (1 - x)^2: 1/3 + 1/(6 n^2)
    even = deletion(model, np.ones((10, 10, 1), np.float32), np.zeros((10, 10)), step=10, target=0, random_state=0)
    assert even.auc == pytest.approx(1 / 3 + 1 / 600, abs=1e-6)


def test_deletion_follows_the_attribution_order():
    rng = np.random.default_rng(1)
    weights = rng.random((6, 6))
    model = lambda x: ((x[..., 0] * weights).sum(axis=(1, 2)) / weights.sum())[:, None]
    image = np.ones((6, 6, 1), np.float32)
    result = deletion(model, image, weights, step=4, target=0, random_state=0)
    ranked = np.sort(weights.ravel())[::-1]
    removed = np.minimum(np.arange(0, 40, 4), 36)
    expected = np.array([1 - ranked[:k].sum() / weights.sum() for k in removed])
    np.testing.assert_allclose(result.scores[0], expected, atol=1e-6)
    worst = deletion(model, image, -weights, step=4, target=0, random_state=0)
    assert result.auc < worst.auc


def test_insertion_from_blur_of_fraction_original_model_has_area_one_half():
    image = np.random.default_rng(2).random((12, 12, 3)).astype(np.float32)

    def shown(x):
        return np.all(x == image, axis=3).mean(axis=(1, 2))[:, None]

    result = insertion(shown, image, np.random.default_rng(3).random((12, 12)), step=6, target=0, random_state=0)
    np.testing.assert_allclose(result.scores[0], result.fractions[0], atol=1e-7)
    assert result.auc == pytest.approx(0.5, abs=1e-7)
    assert result.params["blur_sigma"] == 5.0 and result.params["blur_size"] == 11


def test_rise_blur_is_an_eleven_wide_gaussian_of_sigma_five():
    impulse = np.zeros((31, 31, 1), np.float32)
    impulse[15, 15] = 1.0
    out = blurred(impulse)[:, :, 0]
    d = np.arange(-5, 6)
    kernel = np.exp(-d ** 2 / (2 * 25.0))
    kernel /= kernel.sum()
    np.testing.assert_allclose(out[15, 10:21], kernel * kernel[5], rtol=1e-5)
    assert out[15, 9] == 0 and out[15, 21] == 0


def test_superpixel_deletion_removes_whole_segments():
    segments = np.repeat(np.repeat(np.arange(4).reshape(2, 2), 4, axis=0), 4, axis=1)
    result = deletion(_fraction_kept, np.ones((8, 8, 1), np.float32), np.random.default_rng(0).random((8, 8)),
                      features="segments", segments=segments, step=1, target=0, random_state=0)
    np.testing.assert_allclose(result.fractions[0], [0, 0.25, 0.5, 0.75, 1.0])
    assert result.auc == pytest.approx(0.5, abs=1e-7)


def test_several_images_give_one_area_each_and_an_interval():
    images = np.ones((3, 8, 8, 1), np.float32)
    maps = list(np.random.default_rng(0).random((3, 8, 8)))
    result = deletion(_fraction_kept, images, maps, step=8, target=0, random_state=0)
    assert result.aucs.shape == (3,)
    low, high = result.interval
    assert low <= result.auc <= high


def test_curve_plot_returns_axes():
    import matplotlib.pyplot as plt

    result = deletion(_fraction_kept, np.ones((3, 8, 8, 1), np.float32), list(np.ones((3, 8, 8))), target=0,
                      random_state=0)
    assert result.plot().get_title() == "Deletion"
    plt.close("all")


@pytest.mark.parametrize("step", [0, 65])
def test_step_outside_one_to_features_is_rejected(step):
    with pytest.raises(ValueError, match="step"):
        deletion(_fraction_kept, np.ones((8, 8, 1)), np.ones((8, 8)), step=step, target=0)


def test_baseline_of_the_wrong_shape_is_rejected():
    with pytest.raises(ValueError, match="baseline"):
        deletion(_fraction_kept, np.ones((8, 8, 3)), np.ones((8, 8)), baseline=np.zeros((4, 4, 3)), target=0)


# ------------------------------------------------------------------------------------------ ROAD
_WEIGHTS = {(-1, 0): 1 / 6, (1, 0): 1 / 6, (0, -1): 1 / 6, (0, 1): 1 / 6,
            (-1, -1): 1 / 12, (-1, 1): 1 / 12, (1, -1): 1 / 12, (1, 1): 1 / 12}


def test_noiseless_imputation_makes_each_removed_pixel_the_weighted_mean_of_its_neighbours():
    rng = np.random.default_rng(4)
    image = rng.random((10, 9, 3))
    removed = rng.random((10, 9)) < 0.5
    out = noisy_linear_impute(image, removed, noise=0.0)
    np.testing.assert_array_equal(out[~removed], image[~removed])
    for r, c in zip(*np.nonzero(removed)):
        total, weight_sum = np.zeros(3), 0.0
        for (dr, dc), weight in _WEIGHTS.items():
            if 0 <= r + dr < 10 and 0 <= c + dc < 9:
                total += weight * out[r + dr, c + dc]
                weight_sum += weight
        np.testing.assert_allclose(out[r, c], total / weight_sum, atol=1e-10)


def test_imputation_reproduces_a_linear_ramp_inside_the_image():
    rows, cols = np.mgrid[0:12, 0:12]
    ramp = (0.3 * rows - 0.2 * cols + 1.0)[:, :, None]
    removed = np.zeros((12, 12), bool)
    removed[3:9, 2:10] = True
    out = noisy_linear_impute(ramp, removed, noise=0.0)
    np.testing.assert_allclose(out, ramp, atol=1e-10)


def test_imputation_noise_has_the_requested_standard_deviation():
    image = np.random.default_rng(5).random((40, 40, 1))
    removed = np.random.default_rng(6).random((40, 40)) < 0.5
    clean = noisy_linear_impute(image, removed, noise=0.0)
    noisy = noisy_linear_impute(image, removed, noise=0.01, random_state=7)
    assert np.std((noisy - clean)[removed]) == pytest.approx(0.01, rel=0.1)


def test_road_lerf_keeps_the_score_when_only_irrelevant_pixels_are_imputed():
    model = lambda x: x[:, :4].sum(axis=(1, 2, 3))[:, None]  # looks at the top half only
    image = np.random.default_rng(8).random((8, 8, 1)).astype(np.float32)
    relevance = np.zeros((8, 8))
    relevance[:4] = 1.0 + np.random.default_rng(9).random((4, 8))
    result = road(model, image, relevance, percentiles=[10, 30, 50], target=0, random_state=0)
    np.testing.assert_allclose(result.lerf, result.original, rtol=1e-6)
    assert np.all(np.abs(result.morf - result.original) > 1e-4)
    assert result.combined == pytest.approx(np.mean(result.lerf - result.morf) / 2)
    import matplotlib.pyplot as plt

    result.plot()
    plt.close("all")


@pytest.mark.parametrize("percentiles", [[0, 50], [100], []])
def test_road_percentiles_outside_zero_to_hundred_are_rejected(percentiles):
    with pytest.raises(ValueError, match="percentiles"):
        road(_fraction_kept, np.ones((8, 8, 1)), np.ones((8, 8)), percentiles=percentiles, target=0)


def test_imputing_every_pixel_is_rejected():
    with pytest.raises(ValueError, match="known pixel"):
        noisy_linear_impute(np.ones((4, 4, 1)), np.ones((4, 4), bool))


@pytest.mark.parametrize("metric", [deletion, insertion, road])
def test_an_explanation_of_another_image_size_is_rejected(metric):
    with pytest.raises(ValueError, match="image's size"):
        metric(_fraction_kept, np.ones((8, 8, 1)), np.ones((16, 16)), target=0)


def test_unknown_substrate_name_is_rejected():
    with pytest.raises(ValueError, match="substrate"):
        insertion(_fraction_kept, np.ones((8, 8, 1)), np.ones((8, 8)), substrate="noise", target=0)


class _RecordingModel:
    """A plain callable that keeps the size of every batch it is called with."""

    def __init__(self):
        self.sizes = []

    def __call__(self, batch):
        self.sizes.append(len(batch))
        return _fraction_kept(batch)


@pytest.mark.parametrize("metric", ["deletion", "insertion", "road"])
def test_batch_size_bounds_every_model_call_of_a_metric(metric):
    image = np.random.default_rng(4).random((8, 8, 1)).astype(np.float32) + 0.5
    relevance = np.random.default_rng(5).random((8, 8))
    model = _RecordingModel()
    if metric == "road":
        road(model, image, relevance, target=0, random_state=0, batch_size=8)
        expected_rows = 1 + 2 * 9  # the image, then MoRF and LeRF at 9 percentiles
    else:
        function = deletion if metric == "deletion" else insertion
        function(model, image, relevance, step=1, target=0, random_state=0, batch_size=8)
        expected_rows = 1 + 65  # the image, then 0, 1, ..., 64 of its 64 pixels changed
    assert sum(model.sizes) == expected_rows
    assert max(model.sizes) == 8  # batches of 8: none larger, and not one image at a time


def test_metric_checks_the_users_image_against_the_model(keras):
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(inputs)))
    with pytest.raises(ValueError, match=r"^image must have 3 channels for this model; got shape \(8, 8\)$"):
        deletion(model, np.ones((8, 8)), np.ones((8, 8)), target=0)
    with pytest.raises(ValueError, match=r"\(3, 8, 8\) looks like one channels-first image.*np\.moveaxis"):
        deletion(model, np.ones((3, 8, 8)), np.ones((8, 8)), target=0)
