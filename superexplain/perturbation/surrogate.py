"""The weighted linear surrogates: ridge with an unpenalised intercept, its standard errors, feature selection."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._validation import check_choice, check_int

__all__ = [
    "SurrogateFit",
    "lime_kernel",
    "fit_weighted_ridge",
    "select_features",
    "FEATURE_SELECTIONS",
    "cluster_meat",
    "one_blas_thread",
]

FEATURE_SELECTIONS = ("auto", "none", "forward_selection", "lasso_path", "highest_weights")


class SurrogateFit(NamedTuple):
    """A fitted weighted linear surrogate."""

    coef: np.ndarray  #: (p,) float64
    intercept: float
    coef_se: np.ndarray  #: (p,) standard errors of ``coef``
    r2: float  #: weighted R^2 on the fitted samples
    local_prediction: float  #: the surrogate at the all-ones mask (the unperturbed image)


#: threadpoolctl controllers, by which BLAS-loading modules were imported when each was made
_BLAS_CONTROLLERS: dict = {}


def one_blas_thread():
    """A context running BLAS on one thread: the surrogate's matrices are small (n x K), and a
    multi-threaded BLAS competing with the model's threads made each fit 10-15x slower on 2 cores.

    The controller that finds the loaded BLAS libraries is kept: ``threadpool_limits`` rescans
    the process's libraries on every call, 9 ms each, a quarter of LIME's own time beside a fast
    model. It is made again once scipy's linear algebra (which feature selection's ``lars_path``
    uses, with its own BLAS) has been loaded since.
    """
    import sys

    key = "scipy.linalg" in sys.modules
    if key not in _BLAS_CONTROLLERS:
        from threadpoolctl import ThreadpoolController  # a dependency of scikit-learn

        _BLAS_CONTROLLERS[key] = ThreadpoolController()
    return _BLAS_CONTROLLERS[key].limit(limits=1, user_api="blas")


def lime_kernel(masks: np.ndarray, kernel_width: float) -> np.ndarray:
    """LIME's sample weights: an exponential kernel on the cosine distance to the all-ones mask.

    ``sqrt(exp(-d**2 / kernel_width**2))``, exactly what ``lime.lime_image`` computes (its kernel
    takes the square root), where ``d = 1 - sqrt(k / K)`` for a mask keeping ``k`` of ``K``
    segments, and ``d = 1`` for the empty mask (scikit-learn's cosine distance of a zero vector).

    Examples
    --------
    >>> import numpy as np
    >>> lime_kernel(np.array([[1, 1, 1, 1], [1, 0, 0, 0]]), 0.25).round(3)
    array([1.   , 0.135])
    """
    masks = np.asarray(masks)
    kept = masks.sum(axis=1, dtype=np.float64)
    distance = 1.0 - np.sqrt(kept / masks.shape[1])
    return np.exp(-(distance**2) / (2.0 * kernel_width**2))


def _weighted_centre(features: np.ndarray, target: np.ndarray, weights: np.ndarray):
    total = weights.sum()
    feature_mean = weights @ features / total
    target_mean = float(weights @ target / total)
    return features - feature_mean, target - target_mean, feature_mean, target_mean


def fit_weighted_ridge(features: np.ndarray, target: np.ndarray, sample_weights: np.ndarray,
                       alpha: float = 1.0, clusters: np.ndarray | None = None) -> SurrogateFit:
    """Weighted ridge regression with an unpenalised intercept, and the coefficients' standard errors.

    Minimises ``sum_i w_i (y_i - b - x_i . c)**2 + alpha * |c|**2`` (what scikit-learn's
    ``Ridge(alpha, fit_intercept=True).fit(X, y, sample_weight=w)`` minimises): after weighted
    centring, ``c = (Xc' W Xc + alpha I)^-1 Xc' W yc`` and ``b = mean_w(y) - mean_w(x) . c``.

    The standard errors come from the heteroskedasticity-robust ("sandwich") covariance
    ``A^-1 (sum_g s_g s_g') A^-1`` with ``A = Xc' W Xc + alpha I`` and ``s_g`` the sum of
    ``w_i r_i x_i`` over the samples of cluster ``g`` (each sample its own cluster by default;
    a paired mask and its complement form one cluster, since they are drawn together). LIME's
    residuals are not noise but the model's departure from linearity over a random mask
    design, which is exactly what this estimator is consistent for; it is scaled by
    ``G / (G - 1)`` for ``G`` clusters.

    Parameters
    ----------
    features : ndarray, shape (n, p)
    target : ndarray, shape (n,)
    sample_weights : ndarray, shape (n,), non-negative
    alpha : float
        Ridge strength (0 gives weighted least squares).
    clusters : ndarray of int, shape (n,), optional
        Group labels of samples drawn together.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0, 0], [1, 0], [0, 1], [1, 1.]])
    >>> fit = fit_weighted_ridge(X, 1 + X @ [2., 3.], np.ones(4), alpha=0.0)
    >>> fit.coef.round(6), round(fit.intercept, 6), round(fit.r2, 6)
    (array([2., 3.]), 1.0, 1.0)
    """
    features = np.asarray(features, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    weights = np.asarray(sample_weights, dtype=np.float64)
    n_features = features.shape[1]
    centred_x, centred_y, x_mean, y_mean = _weighted_centre(features, target, weights)
    weighted_x = centred_x * weights[:, None]
    gram = weighted_x.T @ centred_x + alpha * np.eye(n_features)
    rhs = weighted_x.T @ centred_y
    try:
        coef = np.linalg.solve(gram, rhs)
        gram_inverse = np.linalg.inv(gram)
    except np.linalg.LinAlgError:  # collinear masks with alpha = 0: the minimum-norm solution
        gram_inverse = np.linalg.pinv(gram)
        coef = gram_inverse @ rhs
    intercept = y_mean - float(x_mean @ coef)
    residuals = centred_y - centred_x @ coef
    total_ss = float(weights @ centred_y**2)
    r2 = 1.0 - float(weights @ residuals**2) / total_ss if total_ss > 0 else 1.0
    scores = weighted_x * residuals[:, None]
    # the penalty's share: with alpha > 0 the scores sum to alpha * coef, a bias, not noise; each
    # sample gives back its weight's share of that sum, so the clusters' spread is the sampling noise
    scores -= (weights / weights.sum())[:, None] * scores.sum(axis=0)
    covariance = gram_inverse @ cluster_meat(scores, clusters) @ gram_inverse
    coef_se = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
    return SurrogateFit(coef, float(intercept), coef_se, float(r2), float(intercept + coef.sum()))


def cluster_meat(scores: np.ndarray, clusters: np.ndarray | None) -> np.ndarray:
    """``G / (G - 1) * sum_g s_g s_g'`` with ``s_g`` the sum of the score rows of cluster ``g``."""
    if scores.shape[0] == 0:
        return np.zeros((scores.shape[1], scores.shape[1]))
    if clusters is not None:
        order = np.argsort(clusters, kind="stable")
        ordered = np.asarray(clusters)[order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        scores = np.add.reduceat(scores[order], starts, axis=0)
    n_groups = scores.shape[0]
    return scores.T @ scores * (n_groups / max(n_groups - 1, 1))


def _weighted_r2(features, target, weights) -> float:
    fit = fit_weighted_ridge(features, target, weights, alpha=0.0)
    return fit.r2


def _forward_selection(masks, target, weights, num_features) -> np.ndarray:
    chosen: list[int] = []
    for _ in range(num_features):
        best, best_score = -1, -np.inf
        for candidate in range(masks.shape[1]):
            if candidate in chosen:
                continue
            score = _weighted_r2(masks[:, chosen + [candidate]], target, weights)
            if score > best_score:
                best, best_score = candidate, score
        chosen.append(best)
    return np.array(sorted(chosen), dtype=np.intp)


def _lasso_path(masks, target, weights, num_features) -> np.ndarray:
    from sklearn.linear_model import lars_path

    centred_x, centred_y, _, _ = _weighted_centre(masks.astype(np.float64), target, weights)
    root = np.sqrt(weights)
    _, _, coefs = lars_path(centred_x * root[:, None], centred_y * root, method="lasso")
    # the last point on the path with at most num_features active segments
    for column in range(coefs.shape[1] - 1, -1, -1):
        active = np.flatnonzero(coefs[:, column])
        if active.size <= num_features:
            return active.astype(np.intp)
    return np.array([], dtype=np.intp)  # pragma: no cover - column 0 of a lars path is all zeros


def _highest_weights(masks, target, weights, num_features) -> np.ndarray:
    coef = fit_weighted_ridge(masks, target, weights, alpha=0.01).coef
    order = np.argsort(-np.abs(coef), kind="stable")[:num_features]
    return np.sort(order).astype(np.intp)


def select_features(masks: np.ndarray, target: np.ndarray, sample_weights: np.ndarray,
                    method: str = "auto", num_features: int | None = None) -> np.ndarray:
    """Indices of the segments the surrogate keeps, as ``lime``'s feature selection chooses them.

    Parameters
    ----------
    masks : ndarray, shape (n, K)
    target, sample_weights : ndarray, shape (n,)
    method : {"auto", "none", "forward_selection", "lasso_path", "highest_weights"}
        ``"none"``: every segment. ``"forward_selection"``: greedily add the segment that most
        raises the weighted R^2 (cost grows as K * num_features fits). ``"lasso_path"``: the
        last point of the weighted LARS-lasso path with at most ``num_features`` segments.
        ``"highest_weights"``: the largest ``|coef|`` of a ridge with ``alpha=0.01``.
        ``"auto"``: forward selection when ``num_features <= 6``, else highest weights, as in
        lime; every segment when ``num_features`` is None.
    num_features : int, optional
        How many segments to keep (None: all ``K``).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> masks = (rng.random((200, 6)) < 0.5).astype(float)
    >>> select_features(masks, masks @ [0, 5, 0, 0, 3, 0.1], np.ones(200), "forward_selection", 2)
    array([1, 4])
    """
    n_segments = masks.shape[1]
    check_choice(method, "feature_selection", FEATURE_SELECTIONS)
    if num_features is not None:
        num_features = check_int(num_features, "num_features", 1, n_segments)
    if method == "none" or num_features is None or num_features == n_segments:
        return np.arange(n_segments, dtype=np.intp)
    masks = masks.astype(np.float64)
    if method == "auto":
        method = "forward_selection" if num_features <= 6 else "highest_weights"
    if method == "forward_selection":
        return _forward_selection(masks, target, sample_weights, num_features)
    if method == "lasso_path":
        return _lasso_path(masks, target, sample_weights, num_features)
    return _highest_weights(masks, target, sample_weights, num_features)
