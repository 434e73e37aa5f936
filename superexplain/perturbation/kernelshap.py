"""KernelSHAP (Lundberg & Lee, 2017) on superpixels: Shapley-kernel coalitions and an exactly constrained fit."""
from __future__ import annotations

from math import comb
from typing import Any

import numpy as np

from .._validation import check_float, check_int, image_random_states
from ..explanation import Explanation
from ..models.score_targets import use_score_target
from .engine import (check_common, first_sample_targets, masked_copies, paint, per_image_segments, resolve_segments,
                     score_masks, score_perturbations, unperturbed_targets, warn_if_constant)
from .masking import SegmentMasker
from ._hide import describe_hide, hide_image
from .samplers import MaskSample, shapley_masks
from .stopping import MAX_SAMPLES, check_num_samples, check_rule, sample_in_rounds
from .surrogate import cluster_meat, one_blas_thread

__all__ = ["run_kernelshap", "shapley_kernel", "fit_kernelshap"]

#: Enumerate every coalition (exact Shapley values) when there are at most this many and the
#: sample budget covers them.
_MAX_ENUMERATED = 2**16


def shapley_kernel(masks: np.ndarray) -> np.ndarray:
    """The Shapley kernel ``(K - 1) / (C(K, k) k (K - k))`` of each coalition (inf for empty and full).

    Examples
    --------
    >>> import numpy as np
    >>> shapley_kernel(np.array([[1, 0, 0], [1, 1, 1]])).tolist()
    [0.3333333333333333, inf]
    """
    n_segments = masks.shape[1]
    size = np.asarray(masks).sum(axis=1)
    weights = np.full(size.shape, np.inf)
    inner = (size > 0) & (size < n_segments)
    k = size[inner]
    weights[inner] = (n_segments - 1) / (np.array([comb(n_segments, int(i)) for i in k], dtype=np.float64)
                                         * k * (n_segments - k))
    return weights


def _all_coalitions(n_segments: int) -> MaskSample:
    codes = np.arange(2**n_segments)
    masks = ((codes[:, None] >> np.arange(n_segments)) & 1).astype(bool)
    sizes = masks.sum(axis=1)
    rank = np.where(sizes == n_segments, 0, np.where(sizes == 0, 1, 2))  # full, empty, then the rest
    order = np.argsort(rank, kind="stable")
    return MaskSample(masks[order], np.arange(2**n_segments))


def fit_kernelshap(masks: np.ndarray, response: np.ndarray, sample_weights: np.ndarray,
                   clusters: np.ndarray, alpha: float = 0.0):
    """Shapley values from the scores of coalitions, with efficiency enforced exactly.

    Rows 0 and 1 of ``masks`` must be the full and the empty coalition. With ``phi0 = f(empty)``
    and ``delta = f(full) - f(empty)``, the last value is eliminated, ``phi_K = delta - sum_j<K phi_j``,
    and the others are the weighted least squares (ridge ``alpha``) solution of
    ``f(z) - phi0 - z_K delta = sum_j<K (z_j - z_K) phi_j`` over the other rows, so
    ``sum(phi) = f(full) - f(empty)`` holds to rounding whatever the samples.

    Returns ``(phi, phi_se, phi0, r2)``; ``phi_se`` is the cluster-robust standard error.
    """
    full, empty = float(response[0]), float(response[1])
    delta = full - empty
    n_segments = masks.shape[1]
    if masks.shape[0] == 2:  # only the constraints: the minimum-norm split of the difference
        return np.full(n_segments, delta / n_segments), np.full(n_segments, np.nan), empty, 1.0
    z = masks[2:].astype(np.float64)
    y = response[2:].astype(np.float64) - empty - z[:, -1] * delta
    design = z[:, :-1] - z[:, -1:]
    weights = np.asarray(sample_weights[2:], dtype=np.float64)
    weighted = design * weights[:, None]
    gram = weighted.T @ design + alpha * np.eye(design.shape[1])
    gram_inverse = np.linalg.pinv(gram)
    phi_head = gram_inverse @ (weighted.T @ y)
    residuals = y - design @ phi_head
    covariance = gram_inverse @ cluster_meat(weighted * residuals[:, None], clusters[2:]) @ gram_inverse
    phi = np.append(phi_head, delta - phi_head.sum())
    variance_last = covariance.sum()  # var(delta - sum phi_j) = 1' C 1
    phi_se = np.sqrt(np.clip(np.append(np.diag(covariance), variance_last), 0.0, None))
    centred = y - weights @ y / weights.sum()
    total = float(weights @ centred**2)
    r2 = 1.0 - float(weights @ residuals**2) / total if total > 0 else 1.0
    return phi, phi_se, empty, r2


def run_kernelshap(predictor: Any, images: np.ndarray, *, targets: Any = None, top_labels: int | None = None,
                   random_state: Any = None, verbose: int | bool = 1, num_samples: int | str = "auto",
                   batch_size: int | None = None, segmentation: Any = "slic", segments: Any = None,
                   hide_color: Any = "mean", alpha: float = 0.0, score: str = "probability",
                   max_samples: int = MAX_SAMPLES, convergence: Any = None) -> list[Explanation]:
    """KernelSHAP on superpixels: Shapley values of segments, hidden segments replaced by ``hide_color``.

    The coalitions are the full and the empty one (the efficiency constraint) plus complementary
    pairs drawn from the Shapley kernel (:func:`~superexplain.perturbation.shapley_masks`),
    each weighted 1; when ``num_samples >= 2**K`` every coalition is enumerated with its
    kernel weight instead, which gives the exact Shapley values. The weights sum to
    ``f(image) - f(everything hidden)`` exactly (``intercept`` is ``f(everything hidden)``).

    Parameters
    ----------
    num_samples, max_samples, convergence, batch_size, segmentation, segments, hide_color, score :
        As for :func:`~superexplain.perturbation.run_lime`: ``"auto"`` (default) samples pairs of
        coalitions in rounds until the top-k Shapley values are separated (or ``max_samples``);
        with ``2**K <= max_samples`` it enumerates every coalition instead (``stopped_by="exact"``).
    alpha : float
        Ridge strength on the constrained fit (0: KernelSHAP's least squares).

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.models import as_predictor
    >>> image = np.ones((1, 8, 8, 1), dtype=np.float32)
    >>> model = as_predictor(lambda x: x[:, :4].sum(axis=(1, 2, 3))[:, None])
    >>> [e] = run_kernelshap(model, image, num_samples=64, hide_color=0.0, random_state=0, verbose=0,
    ...                      segmentation={"method": "grid", "n_segments": 4})
    >>> np.abs(e.weights.round(6)).tolist(), e.local_prediction
    ([16.0, 16.0, 0.0, 0.0], 32.0)
    """
    num_samples = check_num_samples(num_samples)
    check_common(2, batch_size, score)
    max_samples = check_int(max_samples, "max_samples", 2)
    # a score function as target (superexplain.targets): its view of the model, class 0
    predictor, targets, finish = use_score_target(predictor, targets, top_labels)
    alpha = check_float(alpha, "alpha", 0.0)
    settings = check_rule(convergence)
    automatic = num_samples == "auto" or convergence not in (None, False)
    cap = max_samples if isinstance(num_samples, str) else num_samples  # "auto": max_samples
    generators, seeds = image_random_states(random_state, len(images))
    output, score_kind = predictor.output_for(score)
    prepared = []
    for index, image in enumerate(images):
        labels, segmentation_record = resolve_segments(image, segmentation,
                                                       per_image_segments(segments, len(images), index))
        n_segments = int(labels.max()) + 1
        exact = 2**n_segments <= min(cap, _MAX_ENUMERATED)
        if exact:
            sample = _all_coalitions(n_segments)
            sample_weights = shapley_kernel(sample.masks)
        else:
            sample = shapley_masks(generators[index], cap, n_segments)
            sample_weights = np.ones(len(sample.masks))
        masker = SegmentMasker(image, labels, hide_image(image, labels, hide_color))
        prepared.append((labels, segmentation_record, exact, sample, sample_weights, masker))

    def fit(sample, sample_weights, scores, target_list):
        with one_blas_thread():
            return [fit_kernelshap(sample.masks[:len(scores)], scores[:, target], sample_weights[:len(scores)],
                                   sample.clusters[:len(scores)], alpha) for target in target_list]

    stops: list[dict | None]
    if automatic and not all(p[2] for p in prepared):
        _, target_lists = unperturbed_targets(predictor, images, targets, top_labels, output, batch_size)
        all_scores, stops, size = [], [], batch_size or predictor.batch_size
        for index, (labels, _, exact, sample, sample_weights, masker) in enumerate(prepared):
            if exact:
                all_scores.append(score_masks(predictor, masker, sample.masks, batch_size, output, verbose,
                                              desc=f"kernelshap image {index}"))
                stops.append({"rule": "exact enumeration", "stopped_by": "exact"})
                continue

            def score_rows(start, stop, masker=masker, sample=sample):
                return score_masks(predictor, masker, sample.masks[start:stop], batch_size, output, 0)

            def refit(scores, done, s=sample, w=sample_weights, t=target_lists[index]):
                return fit(s, w, scores, t)

            scores, _, _, stopping = sample_in_rounds(
                score_rows, refit, sample.clusters, 4 * int(labels.max()) + 6, size, settings, f"kernelshap image {index}", verbose)
            all_scores.append(scores)
            stops.append(stopping)
    else:  # every image's coalitions in shared full batches
        all_scores = score_perturbations(predictor, [masked_copies(p[5], p[3].masks) for p in prepared], batch_size,
                                         output, verbose, desc="kernelshap")
        # every image's first coalition is the full one, the image itself: its scores choose the targets
        target_lists = first_sample_targets(predictor, all_scores, targets, top_labels)
        stops = [{"rule": "exact enumeration", "stopped_by": "exact"} if p[2] else None for p in prepared]
    explanations = []
    for index, (labels, segmentation_record, exact, sample, sample_weights, _) in enumerate(prepared):
        scores = all_scores[index]
        params = {
            "num_samples": num_samples, "samples_used": len(scores), "exact": exact, "stopping": stops[index],
            "max_samples": cap if automatic else None,
            "batch_size": batch_size or predictor.batch_size, "alpha": alpha,
            "hide_color": describe_hide(hide_color), "segmentation": segmentation_record,
            "num_segments": int(labels.max()) + 1, "seed": seeds[index], "score_kind": score_kind,
            "sampler": "shapley_kernel",
        }
        for target, (phi, phi_se, base, r2) in zip(target_lists[index],
                                                   fit(sample, sample_weights, scores, target_lists[index])):
            warn_if_constant("kernelshap", scores, target, index, score_kind)
            if exact:  # every coalition was evaluated: no sampling error
                phi_se = np.zeros_like(phi)
            explanations.append(Explanation(
                image=images[index], method="kernelshap", target=target, heatmap=paint(phi, labels),
                target_name=predictor.class_name(target), score=float(scores[0, target]), segments=labels,
                weights=phi, weight_errors=phi_se, intercept=base, local_prediction=base + float(phi.sum()),
                local_fit=r2, params=params))
    return finish(explanations)
