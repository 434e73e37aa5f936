"""Pointing game, relevance mass, agreement and the control maps on hand-made maps."""
from __future__ import annotations

import numpy as np
import pytest

from superexplain import Explanation
from superexplain.metrics import agreement, edge_map, pointing_game, random_map, relevance_mass, similarity


def _square_mask(size=16, top=4, side=4):
    mask = np.zeros((size, size), bool)
    mask[top:top + side, top:top + side] = True
    return mask


def test_pointing_game_hits_inside_and_misses_outside_the_mask():
    mask = _square_mask()
    inside = np.zeros((16, 16)); inside[5, 6] = 1.0
    outside = np.zeros((16, 16)); outside[14, 14] = 1.0
    result = pointing_game([inside, outside], np.stack([mask, mask]))
    np.testing.assert_array_equal(result.values, [1.0, 0.0])
    assert result.score == 0.5


def test_pointing_game_tolerance_is_a_euclidean_distance_in_pixels():
    mask = _square_mask()  # rows/cols 4..7
    heat = np.zeros((16, 16)); heat[10, 10] = 1.0  # 3 pixels diagonally from (7, 7): distance sqrt(18)
    assert pointing_game(heat, mask, tolerance=4.0).score == 0.0
    assert pointing_game(heat, mask, tolerance=4.25).score == 1.0


def test_pointing_game_with_tied_maxima_scores_the_fraction_that_hit():
    mask = _square_mask()
    heat = np.zeros((16, 16)); heat[5, 5] = heat[0, 15] = heat[15, 0] = heat[6, 6] = 2.0
    assert pointing_game(heat, mask).score == pytest.approx(0.5)
    flat = pointing_game(np.ones((16, 16)), mask)
    assert flat.score == pytest.approx(mask.mean())
    assert flat.area_fractions[0] == pytest.approx(16 / 256)


def test_relevance_mass_counts_positive_relevance_inside_over_total():
    mask = _square_mask()
    heat = np.zeros((16, 16))
    heat[4, 4], heat[7, 7], heat[0, 0], heat[15, 15] = 2.0, 1.0, 1.0, -10.0
    assert relevance_mass(heat, mask).score == pytest.approx(3.0 / 4.0)


def test_relevance_mass_of_a_uniform_random_map_is_near_the_area_fraction():
    mask = _square_mask(64, 10, 20)
    maps = [random_map(np.zeros((64, 64, 3)), target=0, random_state=s).heatmap for s in range(5)]
    result = relevance_mass(maps, np.stack([mask] * 5))
    assert result.score == pytest.approx(mask.mean(), abs=0.02)


def test_relevance_mass_without_positive_relevance_is_nan_with_a_warning():
    with pytest.warns(RuntimeWarning, match="no positive relevance"):
        assert np.isnan(relevance_mass(-np.ones((16, 16)), _square_mask()).score)


@pytest.mark.parametrize("metric", [pointing_game, relevance_mass])
def test_localisation_rejects_a_mask_of_the_wrong_shape_or_an_empty_one(metric):
    with pytest.raises(ValueError, match="mask"):
        metric(np.ones((16, 16)), np.ones((8, 8), bool))
    with pytest.raises(ValueError, match="empty"):
        metric(np.ones((16, 16)), np.zeros((16, 16), bool))
    with pytest.raises(ValueError, match="mask"):
        metric([np.ones((16, 16))] * 2, np.ones((3, 16, 16), bool))


def test_localisation_plot_returns_axes():
    import matplotlib.pyplot as plt

    ax = pointing_game(np.eye(16), _square_mask()).plot()
    assert "pointing" in ax.get_title()
    plt.close("all")


# ------------------------------------------------------------------------------------------ agreement
def test_a_map_agrees_fully_with_itself_at_pixel_and_segment_level():
    heat = np.random.default_rng(0).normal(size=(32, 32))
    segments = (np.arange(32)[:, None] // 8) * 4 + np.arange(32)[None, :] // 8
    result = agreement(heat, heat, segments=segments)
    for level in (result.pixel, result.segment):
        for name in ("spearman", "spearman_abs", "topk", "ssim"):
            assert level[name] == pytest.approx(1.0), name


def test_a_monotone_transform_keeps_the_ranking():
    heat = np.random.default_rng(1).random((24, 24))
    result = agreement(heat, np.exp(5 * heat) - 3.0)
    assert result.pixel["spearman"] == pytest.approx(1.0)
    assert result.pixel["topk"] == 1.0
    assert result.segment is None  # two raw maps and no segments: nothing to aggregate on


def test_a_negated_map_has_signed_spearman_minus_one_and_absolute_one():
    heat = np.random.default_rng(2).normal(size=(16, 16))
    assert similarity(heat, -heat, "spearman") == pytest.approx(-1.0)
    assert similarity(heat, -heat, "spearman_abs") == pytest.approx(1.0)


def test_independent_maps_have_spearman_near_zero():
    rng = np.random.default_rng(3)
    result = agreement(rng.random((64, 64)), rng.random((64, 64)))
    assert abs(result.pixel["spearman"]) < 0.05
    assert result.pixel["topk"] < 0.2


def test_segment_level_uses_a_perturbation_explanations_own_weights():
    image = np.zeros((8, 8, 3))
    segments = np.repeat(np.arange(4), 16).reshape(8, 8)
    weights = np.array([0.5, -1.0, 2.0, 0.1])
    lime_like = Explanation(image=image, method="lime", target=0, heatmap=weights[segments],
                            segments=segments, weights=weights)
    pixel_map = np.zeros((8, 8))
    for k, w in enumerate(weights):  # a pixel map whose per-segment sums are 10 x the weights
        pixel_map[segments == k] = 10 * w / 16
    result = agreement(lime_like, pixel_map)
    assert result.segment["spearman"] == pytest.approx(1.0)
    assert result.segment["topk"] == 1.0


def test_constant_map_against_a_ranking_shares_nothing():
    heat = np.random.default_rng(4).random((16, 16))
    assert similarity(np.zeros((16, 16)), heat, "spearman") == 0.0
    assert similarity(np.zeros((16, 16)), np.zeros((16, 16)), "spearman") == 1.0


def test_agreement_rejects_maps_of_different_sizes_and_unknown_measures():
    with pytest.raises(ValueError, match="same"):
        agreement(np.ones((8, 8)), np.ones((9, 9)))
    with pytest.raises(ValueError, match="measure"):
        similarity(np.ones((8, 8)), np.ones((8, 8)), "pearson")


# ------------------------------------------------------------------------------------------ controls
def test_random_map_is_seeded_and_per_segment_for_perturbation_explanations():
    image = np.zeros((8, 8, 3))
    segments = np.repeat(np.arange(4), 16).reshape(8, 8)
    like = Explanation(image=image, method="lime", target=2, heatmap=np.zeros((8, 8)), segments=segments,
                       weights=np.zeros(4))
    a, b = random_map(like, random_state=5), random_map(like, random_state=5)
    assert a == b and a.target == 2
    assert a.weights.shape == (4,)
    assert all(np.ptp(a.heatmap[segments == k]) == 0 for k in range(4))
    assert random_map(like, random_state=6) != a


def test_edge_map_peaks_on_the_edge_and_needs_a_target_for_a_bare_image():
    image = np.zeros((16, 16, 3)); image[:, 8:] = 1.0
    heat = edge_map(image, target=0).heatmap
    assert set(np.unravel_index(np.argmax(heat), heat.shape)[1:]) <= {7, 8}
    assert heat[:, :5].max() == 0.0
    with pytest.raises(ValueError, match="target"):
        edge_map(image)
