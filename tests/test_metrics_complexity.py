"""Sparseness (Gini, Chalasani et al. 1810.06583) and complexity (entropy, Bhatt et al. 2005.00631): known answers."""
from __future__ import annotations

import numpy as np
import pytest

from superexplain import Explanation
from superexplain.metrics import ScoreResult, complexity, random_map, sparseness


def _reference_gini(values):
    """Gini from the mean absolute difference, rescaled by n / (n - 1): an independent formula."""
    a = np.abs(np.ravel(values)).astype(np.float64)
    n = a.size
    usual = np.abs(a[:, None] - a[None, :]).sum() / (2 * n * a.sum())
    return usual * n / (n - 1)


def _reference_entropy(values):
    p = np.abs(np.ravel(values)) / np.abs(values).sum()
    return float(sum(-x * np.log(x) for x in p if x > 0))


def _grid_segments(size=8, cell=2):
    index = np.arange(size) // cell
    return index[:, None] * (size // cell) + index[None, :]


@pytest.mark.parametrize("shape", [(2, 2), (5, 7), (16, 16)])
def test_one_hot_map_is_perfectly_sparse_and_a_constant_map_not_at_all(shape):
    one_hot = np.zeros(shape)
    one_hot[-1, 0] = -3.0  # the sign is ignored: |a| is scored
    result = sparseness({"one-hot": one_hot, "constant": np.full(shape, 0.7)})
    assert isinstance(result, ScoreResult) and result.higher_is_better
    assert result.scores["one-hot"] == pytest.approx(1.0, abs=1e-12)
    assert result.scores["constant"] == pytest.approx(0.0, abs=1e-12)


def test_sparseness_equals_an_independent_gini_on_random_maps():
    rng = np.random.default_rng(0)
    maps = [rng.normal(size=(6, 9)) ** 3 for _ in range(4)]
    result = sparseness(maps)
    expected = [_reference_gini(m) for m in maps]
    np.testing.assert_allclose(result.values["map"], expected, rtol=1e-12)
    assert 0.0 < min(expected) and max(expected) < 1.0


def test_segment_features_score_the_attribution_summed_per_superpixel():
    rng = np.random.default_rng(1)
    heat = rng.random((8, 8))
    labels = _grid_segments()
    sums = np.bincount(labels.ravel(), weights=heat.ravel())
    sparse = sparseness(heat, features="segments", segments=labels)
    simple = complexity(heat, features="segments", segments=labels)
    assert sparse.score == pytest.approx(_reference_gini(sums), rel=1e-12)
    assert simple.score == pytest.approx(_reference_entropy(sums), rel=1e-12)
    assert simple.params["max"] == pytest.approx(np.log(16))


def test_perturbation_explanation_is_scored_on_its_own_segments():
    labels = _grid_segments()
    weights = np.zeros(16)
    weights[5] = 2.0
    explanation = Explanation(image=np.zeros((8, 8, 3), np.float32), method="lime", target=0,
                              heatmap=weights[labels], segments=labels, weights=weights)
    assert sparseness(explanation, features="segments").score == pytest.approx(1.0)
    assert complexity(explanation, features="segments").score == pytest.approx(0.0, abs=1e-12)
    # per pixel the one segment spreads over 4 of 64 pixels: entropy log 4
    assert complexity(explanation).score == pytest.approx(np.log(4))


@pytest.mark.parametrize("shape", [(3, 3), (10, 4)])
def test_complexity_is_log_n_for_a_constant_map_and_zero_for_a_one_hot_map(shape):
    one_hot = np.zeros(shape)
    one_hot[1, 2] = 4.0
    result = complexity({"constant": np.ones(shape), "one-hot": one_hot})
    assert not result.higher_is_better and result.best == "one-hot"
    n = shape[0] * shape[1]
    assert result.scores["constant"] == pytest.approx(np.log(n), rel=1e-12)
    assert result.scores["one-hot"] == pytest.approx(0.0, abs=1e-12)
    assert result.params["max"] == pytest.approx(np.log(n))


def test_complexity_equals_an_independent_entropy_and_is_scale_and_sign_invariant():
    heat = np.random.default_rng(2).normal(size=(7, 7))
    values = complexity([heat, -5.0 * heat]).values["map"]
    np.testing.assert_allclose(values, _reference_entropy(heat), rtol=1e-12)


def test_random_map_is_less_sparse_than_a_peaked_map():
    image = np.zeros((16, 16, 3), np.float32)
    control = random_map(image, target=0, random_state=0)
    yy, xx = np.mgrid[:16, :16]
    peaked = np.exp(-((yy - 5) ** 2 + (xx - 9) ** 2) / 4.0)
    result = sparseness({"random": control, "peaked": peaked}, image=image)
    # uniform [0, 1) values have Gini 1/3 in the limit
    assert result.scores["random"] == pytest.approx(1 / 3, abs=0.05)
    assert result.best == "peaked"


def test_all_zero_map_is_nan_with_a_warning():
    with pytest.warns(RuntimeWarning, match="all zero"):
        result = sparseness([np.zeros((4, 4)), np.eye(4)])
    assert np.isnan(result.values["map"][0]) and np.isfinite(result.values["map"][1])
    with pytest.warns(RuntimeWarning, match="all zero"):
        assert np.isnan(complexity(np.zeros((3, 3))).score)


def test_inputs_are_not_modified_and_a_dataset_directory_is_read(tmp_path):
    heat = np.random.default_rng(3).normal(size=(6, 6))
    copy = heat.copy()
    image = np.random.default_rng(4).random((6, 6, 3)).astype(np.float32)
    direct = sparseness(heat, image=image).score
    np.testing.assert_array_equal(heat, copy)
    Explanation(image=image, method="exact", target=0, heatmap=heat).save(tmp_path / "e.npz")
    assert sparseness(None, image=str(tmp_path)).score == pytest.approx(direct, rel=1e-6)  # stored as float32


def test_bad_inputs_are_rejected_naming_the_argument():
    heat = np.ones((4, 4))
    with pytest.raises(ValueError, match="features"):
        sparseness(heat, features="patches")
    with pytest.raises(ValueError, match="segments="):
        complexity(heat, features="segments")  # a raw map: no image to segment
    with pytest.raises(TypeError, match="explanation"):
        sparseness("heatmap.png")
    with pytest.raises(TypeError, match="explanation must be"):
        sparseness(42)
    with pytest.raises(ValueError, match="explanation is empty"):
        complexity([])
    with pytest.raises(ValueError, match="image's size"):
        complexity(heat, image=np.zeros((5, 5, 3)))
    with pytest.raises(ValueError, match="segments"):
        sparseness(heat, features="segments", segments=np.zeros((3, 3), int))
