"""ROAD (Rong et al., arXiv 2202.00449): remove features and debias them by noisy linear imputation, MoRF and LeRF."""
from __future__ import annotations

from typing import Any

import numpy as np

from .._progress import progress
from .._validation import check_float, check_random_state, describe, seeded_rng
from ..models import as_predictor
from ._features import attribution_density, feature_attributions, feature_labels
from ._inputs import resolve_items, resolve_target
from .curves import relevance_order
from .results import RoadResult

__all__ = ["road", "noisy_linear_impute"]

# The 8-neighbourhood of ROAD's imputer: edge neighbours weigh 1/6, diagonal ones 1/12.
_NEIGHBOURS = [(-1, 0, 1 / 6), (1, 0, 1 / 6), (0, -1, 1 / 6), (0, 1, 1 / 6),
               (-1, -1, 1 / 12), (-1, 1, 1 / 12), (1, -1, 1 / 12), (1, 1, 1 / 12)]


def noisy_linear_impute(image: np.ndarray, removed: np.ndarray, noise: float = 0.01,
                        random_state: Any = None) -> np.ndarray:
    """Fill the ``removed`` pixels so each is the weighted mean of its 8 neighbours, plus Gaussian noise.

    Solves the sparse linear system (one unknown per removed pixel and channel) in which every
    removed pixel equals the weighted average of its in-image neighbours -- weight 1/6 for edge
    and 1/12 for diagonal neighbours, renormalised at the border -- whether those neighbours are
    known or themselves imputed; then adds N(0, noise^2) to the imputed values.

    Parameters
    ----------
    image : ndarray (H, W, C)
    removed : ndarray (H, W) bool
        Pixels to impute; at least one pixel must stay known.
    noise : float
        Standard deviation of the added noise (ROAD: 0.01).
    random_state : int, Generator or None

    Returns
    -------
    ndarray (H, W, C) float64, a new array.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.metrics.road import noisy_linear_impute
    >>> image = np.ones((5, 5, 1)); removed = np.zeros((5, 5), bool); removed[2, 2] = True
    >>> float(noisy_linear_impute(image * 3, removed, noise=0.0)[2, 2, 0])
    3.0
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.linalg import splu

    image = np.asarray(image, dtype=np.float64)
    removed = np.asarray(removed, dtype=bool)
    if removed.shape != image.shape[:2]:
        raise ValueError(f"removed must have shape {image.shape[:2]} (the image's); got {removed.shape}")
    out = image.copy()
    if not removed.any():
        return out
    if removed.all():
        raise ValueError("noisy linear imputation needs at least one known pixel; all pixels were removed")
    height, width = removed.shape
    rows, cols = np.nonzero(removed)
    unknown = np.full(removed.shape, -1, dtype=np.int64)
    unknown[rows, cols] = np.arange(rows.size)
    diagonal = np.zeros(rows.size)
    rhs = np.zeros((rows.size, image.shape[2]))
    entry_rows, entry_cols, entry_values = [], [], []
    for dr, dc, weight in _NEIGHBOURS:
        nr, nc = rows + dr, cols + dc
        inside = (nr >= 0) & (nr < height) & (nc >= 0) & (nc < width)
        diagonal[inside] += weight
        index = np.flatnonzero(inside)
        neighbour = unknown[nr[index], nc[index]]
        is_unknown = neighbour >= 0
        entry_rows.append(index[is_unknown])
        entry_cols.append(neighbour[is_unknown])
        entry_values.append(np.full(int(is_unknown.sum()), -weight))
        known = index[~is_unknown]
        rhs[known] += weight * image[nr[known], nc[known]]
    entry_rows.append(np.arange(rows.size))
    entry_cols.append(np.arange(rows.size))
    entry_values.append(diagonal)
    system = coo_matrix((np.concatenate(entry_values), (np.concatenate(entry_rows), np.concatenate(entry_cols))),
                        shape=(rows.size, rows.size)).tocsc()
    solution = splu(system).solve(rhs)
    if noise > 0:
        solution = solution + check_random_state(random_state).normal(0.0, noise, size=solution.shape)
    out[rows, cols] = solution
    return out


def _percentiles(values: Any) -> np.ndarray:
    array = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if array.size == 0 or not np.all(np.isfinite(array)) or array.min() <= 0 or array.max() >= 100:
        raise ValueError(f"percentiles must be numbers strictly between 0 and 100; got {describe(values)}")
    return np.unique(array)


def road(model: Any, image: Any, explanation: Any = None, percentiles: Any = tuple(range(10, 100, 10)),
         noise: float = 0.01, features: str = "pixels", target: Any = None, *, segments: Any = None,
         score: str = "probability", random_state: Any = None, batch_size: int | None = None,
         verbose: int | bool = 0) -> RoadResult:
    """ROAD: the target's score after imputing the most (MoRF) or least (LeRF) relevant p% of features.

    Removing pixels by setting them to a constant lets the *shape* of the removed region leak
    class information. ROAD instead fills removed pixels by noisy linear imputation
    (:func:`noisy_linear_impute`), so that MoRF and LeRF orderings agree without retraining
    (Rong et al., arXiv 2202.00449). A faithful explanation gives a low MoRF and a high LeRF
    curve; ``combined`` = mean of (LeRF - MoRF) / 2, as pytorch-grad-cam's ``ROADCombined``.

    Parameters
    ----------
    model, image, explanation
        As in :func:`superexplain.metrics.deletion`.
    percentiles : sequence of float
        Percent of features imputed, each in (0, 100) (default 10, 20, ..., 90).
    noise : float
        Standard deviation of the imputation noise (ROAD: 0.01, in the model's input units).
    features : {"pixels", "segments"}
    target, segments, score, random_state, batch_size, verbose
        As in :func:`superexplain.metrics.deletion`; ``random_state`` seeds the ties and the noise.

    Returns
    -------
    RoadResult
        ``.percentiles``, ``.morf``, ``.lerf``, ``.original``, ``.combined``, ``.plot()``.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.metrics import road
    >>> model = lambda x: x[:, :4].sum(axis=(1, 2, 3))       # only the top rows matter
    >>> image = np.random.default_rng(0).random((8, 8, 1))
    >>> relevance = np.zeros((8, 8)); relevance[:4] = 1.0
    >>> r = road(model, image, relevance, percentiles=[50], noise=0.0, target=0, random_state=0)
    >>> bool(r.lerf[0] == r.original)
    True
    """
    predictor = as_predictor(model)
    items, single, names = resolve_items(image, explanation, several_methods=False, predictor=predictor)
    levels = _percentiles(percentiles)
    noise = check_float(noise, "noise", 0.0)
    rng, seed = seeded_rng(random_state)
    output, score_kind = predictor.output_for(score)
    images, _ = predictor.check_images(np.stack([item.image for item in items]), "image")
    image_scores = predictor.predict(images, output=output, batch_size=batch_size, validate=False)
    morf = np.empty((len(items), levels.size))
    lerf = np.empty((len(items), levels.size))
    originals = np.empty(len(items))
    with progress(len(items), "road", verbose) as bar:
        for i, item in enumerate(items):
            (_, explained), = item.maps.items()
            item_segments = segments if segments is not None else item.explanation_segments()
            labels = feature_labels(features, images[i], item_segments)
            count = int(labels.max()) + 1
            target_index = resolve_target(predictor, item, target, image_scores[i])
            order = relevance_order(feature_attributions(attribution_density(explained, labels.shape), labels), rng)
            batch = []
            for ordering in (order, order[::-1]):  # most relevant first, then least relevant first
                for level in levels:
                    k = min(count - 1, max(1, int(round(level / 100.0 * count))))
                    removed = np.isin(labels, ordering[:k])
                    batch.append(noisy_linear_impute(images[i], removed, noise, rng))
            scores = predictor.predict(np.stack(batch).astype(np.float32), output=output, batch_size=batch_size,
                                       validate=False)[:, target_index]
            morf[i], lerf[i] = scores[:levels.size], scores[levels.size:]
            originals[i] = image_scores[i, target_index]
            bar.update()
    params = {"features": features, "noise": noise, "score_kind": score_kind, "seed": seed}
    return RoadResult(percentiles=levels, morf_scores=morf, lerf_scores=lerf, original_scores=originals,
                      single_image=single, method=names[0], params=params)
