"""The weighted ridge surrogate, its standard errors, LIME's kernel, feature selection and the mask samplers."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from superexplain.perturbation import bernoulli_masks, fit_weighted_ridge, lime_kernel, paired_masks, select_features
from superexplain.perturbation.samplers import orthogonal_masks, shapley_masks


def _closed_form_ridge(X, y, w, alpha):
    """(Xc' W Xc + alpha I)^-1 Xc' W yc after weighted centring, written out independently."""
    W = np.diag(w)
    x_mean = (w @ X) / w.sum()
    y_mean = (w @ y) / w.sum()
    Xc, yc = X - x_mean, y - y_mean
    coef = np.linalg.inv(Xc.T @ W @ Xc + alpha * np.eye(X.shape[1])) @ Xc.T @ W @ yc
    return coef, y_mean - x_mean @ coef


@pytest.mark.parametrize("alpha", [0.0, 1.0, 25.0])
def test_surrogate_equals_closed_form_weighted_ridge(alpha):
    rng = np.random.default_rng(3)
    X = (rng.random((300, 12)) < 0.5).astype(float)
    y = X @ rng.normal(size=12) + 0.3 * X[:, 0] * X[:, 1] + rng.normal(scale=0.1, size=300)
    w = rng.random(300) + 0.05
    fit = fit_weighted_ridge(X, y, w, alpha=alpha)
    coef, intercept = _closed_form_ridge(X, y, w, alpha)
    np.testing.assert_allclose(fit.coef, coef, rtol=0, atol=1e-8)
    assert abs(fit.intercept - intercept) < 1e-8
    assert abs(fit.local_prediction - (intercept + coef.sum())) < 1e-8


def test_surrogate_matches_sklearn_ridge_with_sample_weights():
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(4)
    X = (rng.random((200, 8)) < 0.5).astype(float)
    y = np.tanh(X @ rng.normal(size=8))
    w = rng.random(200)
    reference = Ridge(alpha=1.0, fit_intercept=True).fit(X, y, sample_weight=w)
    fit = fit_weighted_ridge(X, y, w, alpha=1.0)
    np.testing.assert_allclose(fit.coef, reference.coef_, atol=1e-10)
    assert abs(fit.intercept - reference.intercept_) < 1e-10
    assert abs(fit.r2 - reference.score(X, y, sample_weight=w)) < 1e-10


def test_lime_kernel_is_lime_formula_on_sklearn_cosine_distance():
    from sklearn.metrics import pairwise_distances

    masks = (np.random.default_rng(5).random((50, 20)) < 0.5).astype(int)
    masks[0], masks[1] = 1, 0
    distances = pairwise_distances(masks, masks[:1], metric="cosine").ravel()
    expected = np.sqrt(np.exp(-(distances**2) / 0.25**2))  # lime_image's kernel, literally
    np.testing.assert_allclose(lime_kernel(masks, 0.25), expected, rtol=1e-12)


def test_standard_errors_match_spread_across_resampled_designs():
    # a nonlinear response: its residuals are what makes the coefficients vary between samples
    rng = np.random.default_rng(6)
    true = rng.normal(size=10)

    def response(masks):
        return masks @ true + 2.0 * masks[:, 0] * masks[:, 1] - 1.5 * masks[:, 2] * masks[:, 3] * masks[:, 4]

    coefs, errors = [], []
    for seed in range(200):
        sample = bernoulli_masks(np.random.default_rng(seed), 400, 10)
        masks = sample.masks.astype(float)
        fit = fit_weighted_ridge(masks, response(masks), lime_kernel(masks, 0.25), alpha=1.0)
        coefs.append(fit.coef)
        errors.append(fit.coef_se)
    empirical = np.std(coefs, axis=0, ddof=1)
    reported = np.mean(errors, axis=0)
    np.testing.assert_allclose(reported, empirical, rtol=0.25)


def _reported_and_actual_errors(draw):
    """Mean reported standard error and the weights' spread over 400 designs, on a response with
    one pairwise interaction (segments 0 and 1)."""
    true = np.random.default_rng(7).normal(size=8)
    coefs, errors = [], []
    for seed in range(400):
        sample = draw(np.random.default_rng(seed), 300, 8)
        masks = sample.masks.astype(float)
        response = masks @ true + 3.0 * masks[:, 0] * masks[:, 1]
        fit = fit_weighted_ridge(masks, response, lime_kernel(masks, 0.25), 1.0, sample.clusters)
        coefs.append(fit.coef)
        errors.append(fit.coef_se)
    return np.mean(errors, axis=0), np.std(coefs, axis=0, ddof=1)


def test_paired_standard_errors_account_for_pairing():
    reported, actual = _reported_and_actual_errors(paired_masks)
    np.testing.assert_allclose(reported, actual, rtol=0.3)


def test_orthogonal_standard_errors_are_honest_with_blocks_as_clusters():
    # the clusters are the independently randomised blocks: the sandwich is consistent for the design
    # (pair clusters were up to a fifth optimistic here); 400 designs know a spread to about 4%. Where the
    # design cancels the interaction (segments 0 and 1, a spread 7x smaller) it stays conservative (1.2-1.25x)
    reported, actual = _reported_and_actual_errors(orthogonal_masks)
    np.testing.assert_allclose(reported[2:], actual[2:], rtol=0.1)
    assert np.all(reported[:2] >= actual[:2]) and np.all(reported[:2] < 1.4 * actual[:2])
    assert np.all(actual[:2] < 0.5 * actual[2:].min())  # the interaction's noise is cancelled


def test_forward_selection_finds_the_true_segments():
    rng = np.random.default_rng(8)
    masks = (rng.random((500, 15)) < 0.5).astype(float)
    target = 4 * masks[:, 3] - 3 * masks[:, 11] + 0.01 * rng.normal(size=500)
    chosen = select_features(masks, target, np.ones(500), "forward_selection", 2)
    assert chosen.tolist() == [3, 11]
    assert select_features(masks, target, np.ones(500), "auto", 2).tolist() == [3, 11]


@pytest.mark.parametrize("method", ["lasso_path", "highest_weights"])
def test_sparse_selections_keep_the_largest_true_effects(method):
    rng = np.random.default_rng(9)
    masks = (rng.random((500, 15)) < 0.5).astype(float)
    target = 5 * masks[:, 2] + 3 * masks[:, 7] - 4 * masks[:, 9] + 0.1 * masks[:, 0]
    chosen = select_features(masks, target, rng.random(500) + 0.5, method, 3)
    assert chosen.tolist() == [2, 7, 9]


def test_feature_selection_none_keeps_every_segment_and_bad_values_are_named():
    masks = np.ones((10, 4))
    assert select_features(masks, np.zeros(10), np.ones(10), "none", 2).tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="feature_selection"):
        select_features(masks, np.zeros(10), np.ones(10), "best_ones", 2)
    with pytest.raises(ValueError, match="num_features"):
        select_features(masks, np.zeros(10), np.ones(10), "highest_weights", 5)


def test_samplers_start_unperturbed_and_are_prefix_consistent():
    for draw in (bernoulli_masks, paired_masks, orthogonal_masks, shapley_masks):
        long = draw(np.random.default_rng(1), 101, 9).masks
        short = draw(np.random.default_rng(1), 40, 9).masks
        assert long.shape == (101, 9) and long[0].all()
        np.testing.assert_array_equal(long[:40], short)
    paired = paired_masks(np.random.default_rng(2), 1000, 30).masks
    np.testing.assert_array_equal(paired[0::2], ~paired[1::2])
    assert abs(paired[2:].mean() - 0.5) < 1e-12  # exact balance: every pair keeps each segment once


def test_shapley_sampler_draws_sizes_from_the_shapley_kernel():
    n_segments = 10
    masks = shapley_masks(np.random.default_rng(3), 40002, n_segments).masks
    assert masks[0].all() and not masks[1].any()
    sizes = masks[2:].sum(axis=1)
    k = np.arange(1, n_segments)
    expected = (1 / (k * (n_segments - k))) / (1 / (k * (n_segments - k))).sum()
    observed = np.bincount(sizes, minlength=n_segments)[1:n_segments] / sizes.size
    np.testing.assert_allclose(observed, expected, atol=0.01)
    # within a size, every segment is equally likely to be in the coalition
    assert np.abs(masks[2:][sizes == 3].mean(axis=0) - 0.3).max() < 0.03


def _assert_balanced(rows, strength):
    """Every ``strength`` columns of the 0/1 ``rows`` show each of their patterns equally often."""
    rows = rows.astype(int)
    for columns in itertools.combinations(range(rows.shape[1]), strength):
        codes = rows[:, list(columns)] @ (1 << np.arange(strength))
        counts = np.bincount(codes, minlength=2**strength)
        assert counts.tolist() == [rows.shape[0] // 2**strength] * 2**strength, columns


def test_orthogonal_blocks_balance_every_triple_and_come_in_complementary_pairs():
    n_segments = 11
    first, block = 24, 32  # a Paley first block (q = 11: 12 rows and their complements), then codes of 2**5 rows
    sample = orthogonal_masks(np.random.default_rng(4), 1 + first + 2 * block, n_segments)
    masks, clusters = sample.masks, sample.clusters
    assert masks[0].all()
    # the first block: 12 rows balanced for every pair (strength 2), then their complements
    _assert_balanced(masks[1:13], 2)
    np.testing.assert_array_equal(masks[1:13], ~masks[13:25])
    # later blocks: consecutive complements
    np.testing.assert_array_equal(masks[25::2], ~masks[26::2])
    # each block is one cluster (independently randomised replicates); the first row joins the first block
    np.testing.assert_array_equal(clusters, np.repeat([0, 1, 2], [1 + first, block, block]))
    for start, size in ((1, first), (1 + first, block), (1 + first + block, block)):
        _assert_balanced(masks[start:start + size], 3)


def test_orthogonal_rows_are_uniform_on_the_cube_like_lime_masks():
    # every row, whatever its place in a block, is uniform on {0,1}^K: the random XOR of each block
    n_segments, n_draws = 5, 4000
    for row in (1, 6, 11, 17, 30):  # rows 1-16 form the Paley first block (q = 7), then codes of 16 rows
        patterns = np.array([orthogonal_masks(np.random.default_rng(seed), 33, n_segments).masks[row]
                             @ (1 << np.arange(n_segments)) for seed in range(n_draws)])
        counts = np.bincount(patterns, minlength=2**n_segments)
        expected = n_draws / 2**n_segments
        chi2 = float(((counts - expected) ** 2 / expected).sum())
        assert chi2 < 70.0  # 31 degrees of freedom: the 99.99th percentile is about 70


def test_orthogonal_design_recovers_the_linear_projection_exactly_under_pairwise_interactions():
    # With equal sample weights the OLS limit under uniform masks is the projection of f on the linear
    # span: coefficient a = c_a + sum_b c_ab / 2. A strength-3 design reproduces every moment that
    # projection needs, so whole blocks give it exactly; independent masks only approximately.
    rng = np.random.default_rng(5)
    n_segments = 9
    linear = rng.normal(size=n_segments)
    pairwise = np.triu(rng.normal(size=(n_segments, n_segments)), 1)
    expected = linear + (pairwise.sum(axis=0) + pairwise.sum(axis=1)) / 2

    def response(masks):
        return masks @ linear + np.einsum("ni,ij,nj->n", masks, pairwise, masks)

    for seed in range(5):  # q = 11: the Paley first block has 24 rows, then codes of 32
        masks = orthogonal_masks(np.random.default_rng(seed), 1 + 24 + 32, n_segments).masks.astype(float)
        for rows in (masks[1:25], masks[25:], masks[1:]):
            fit = fit_weighted_ridge(rows, response(rows), np.ones(len(rows)), alpha=0.0)
            np.testing.assert_allclose(fit.coef, expected, atol=1e-10)
    masks = bernoulli_masks(np.random.default_rng(0), 64, n_segments).masks.astype(float)
    independent = fit_weighted_ridge(masks, response(masks), np.ones(64), alpha=0.0).coef
    assert np.abs(independent - expected).max() > 1e-3


def test_orthogonal_masks_reduce_lime_noise_under_interactions():
    # LIME's kernel weights break exactness, but the spread of the weights over seeds stays well
    # below independent masks' on a response with pairwise and three-way interactions
    rng = np.random.default_rng(6)
    n_segments = 12
    linear = rng.normal(size=n_segments)
    pairwise = np.triu(rng.normal(size=(n_segments, n_segments)), 1)

    def response(masks):
        return (masks @ linear + np.einsum("ni,ij,nj->n", masks, pairwise, masks)
                + 2.0 * masks[:, 0] * masks[:, 1] * masks[:, 2])

    spread = {}
    for name, draw in (("orthogonal", orthogonal_masks), ("bernoulli", bernoulli_masks)):
        coefs = []
        for seed in range(200):
            masks = draw(np.random.default_rng(seed), 257, n_segments).masks.astype(float)
            coefs.append(fit_weighted_ridge(masks, response(masks), lime_kernel(masks, 0.25), 1.0).coef)
        spread[name] = np.var(coefs, axis=0).sum()
    assert spread["bernoulli"] > 2.0 * spread["orthogonal"]  # measured 3.5


def test_one_blas_thread_limits_every_loaded_blas_and_restores_it():
    import scipy.linalg  # noqa: F401  (a second BLAS, loaded before the context is entered)
    from threadpoolctl import threadpool_info

    from superexplain.perturbation.surrogate import one_blas_thread

    def blas_threads():
        return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]

    before = blas_threads()
    for _ in range(2):  # the second time reuses the kept controller
        with one_blas_thread():
            assert blas_threads() and set(blas_threads()) == {1}
        assert blas_threads() == before
