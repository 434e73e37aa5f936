"""The one perturbation engine: segments -> masks -> masked images built batch by batch -> batched scores.

Every perturbation method (LIME, KernelSHAP, occlusion, RISE) is a choice of masks, sample
weights and fit on these pieces; the batches go through the adapter's one batch loop,
:func:`superexplain.models.batching.predict_in_batches`.
"""
from __future__ import annotations

import bisect
import warnings
from collections.abc import Sequence
from typing import Any, Callable, NamedTuple

import numpy as np

from .._validation import check_choice, check_int, check_segments, describe
from ..models.batching import predict_in_batches
from .masking import SegmentMasker

__all__ = [
    "Perturbations",
    "score_perturbations",
    "resolve_segments",
    "unperturbed_targets",
    "paint",
]

SCORES = ("probability", "logit")

# recorded in params so that an explanation says how its superpixels were made
_SEGMENTATION_DEFAULTS = {"slic": {"n_segments": 50, "compactness": 10.0, "sigma": 1.0}}


class Perturbations(NamedTuple):
    """One image's perturbed copies, to be scored together with other images' (see :func:`score_perturbations`).

    ``build(start, stop)`` returns copies ``start .. stop - 1`` (float32, (b, H, W, C));
    ``consume(start, stop, scores)``, if given, receives their scores as they come. A job that
    can write its copies in place gives ``fill(start, stop, out)``, which writes them into
    ``out`` (float32, (b,) + ``shape``), and their ``shape`` (H, W, C): where every job of a
    call does, the batches are built straight into reused arrays (see :func:`predict_in_batches`).
    """

    count: int  # type: ignore[assignment]  # the field shadows tuple.count, as intended
    build: Callable[[int, int], np.ndarray]
    consume: Callable[[int, int, np.ndarray], None] | None = None
    fill: Callable[[int, int, np.ndarray], Any] | None = None
    shape: tuple[int, ...] | None = None


def score_perturbations(predictor: Any, jobs: Sequence[Perturbations], batch_size: int | None = None,
                        output: str = "output", verbose: int | bool = 0, desc: str = "perturb") -> list[np.ndarray]:
    """Score the perturbed copies of several images in shared, full model batches.

    The copies of consecutive images are laid end to end and cut into batches of ``batch_size``,
    so a batch may hold the last copies of one image and the first of the next: the model sees
    full batches even when each image has fewer copies than a batch (occlusion) or a remainder
    (1000 LIME samples in batches of 64). Memory stays bounded by two batches
    (:func:`predict_in_batches`). With one image the batches are exactly those of scoring it
    alone.

    Parameters
    ----------
    predictor : superexplain.models.Predictor
    jobs : sequence of Perturbations
        One per image.
    batch_size, output, verbose, desc :
        As for :func:`predict_in_batches`.

    Returns
    -------
    list of ndarray
        Per job, its copies' scores, shape (count, classes), float32.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.models import as_predictor
    >>> predictor = as_predictor(lambda x: x.mean(axis=(1, 2)))
    >>> def constant(value, count):
    ...     return Perturbations(count, lambda a, b: np.full((b - a, 2, 2, 1), value, np.float32))
    >>> first, second = score_perturbations(predictor, [constant(1.0, 3), constant(2.0, 2)], batch_size=4)
    >>> first.ravel().tolist(), second.ravel().tolist()
    ([1.0, 1.0, 1.0], [2.0, 2.0])
    """
    offsets = [0]
    for job in jobs:
        offsets.append(offsets[-1] + check_int(job.count, "count", 0))

    def pieces(start: int, stop: int):
        """(job, local start, local stop, position in the batch) of the jobs that rows start..stop-1 cover."""
        first = bisect.bisect_right(offsets, start) - 1
        for job in range(max(first, 0), len(jobs)):
            low, high = max(start, offsets[job]), min(stop, offsets[job + 1])
            if low >= stop:
                break
            if low < high:
                yield job, low - offsets[job], high - offsets[job], low - start

    def make_batch(start: int, stop: int) -> np.ndarray:
        parts = [jobs[job].build(a, b) for job, a, b, _ in pieces(start, stop)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def fill_batch(start: int, stop: int, out: np.ndarray) -> np.ndarray:
        for job, a, b, at in pieces(start, stop):
            jobs[job].fill(a, b, out[at:at + b - a])
        return out

    shapes = {None if job.fill is None else job.shape for job in jobs}
    image_shape = shapes.pop() if len(shapes) == 1 else None

    def consume(start: int, stop: int, scores: np.ndarray) -> None:
        for job, a, b, at in pieces(start, stop):
            if jobs[job].consume is not None:
                jobs[job].consume(a, b, scores[at:at + b - a])

    scores = predict_in_batches(predictor, make_batch if image_shape is None else fill_batch, offsets[-1],
                                batch_size=batch_size, output=output, verbose=verbose, desc=desc, consume=consume,
                                image_shape=image_shape)
    return [scores[offsets[job]:offsets[job + 1]] for job in range(len(jobs))]


def masked_copies(masker: Callable[[np.ndarray], np.ndarray], masks: np.ndarray) -> Perturbations:
    """The Perturbations of one image: ``masker`` applied to each row of ``masks``."""
    fill = shape = None
    if isinstance(masker, SegmentMasker):
        fill, shape = (lambda start, stop, out: masker(masks[start:stop], out=out)), masker.image.shape
    return Perturbations(len(masks), lambda start, stop: masker(masks[start:stop]), fill=fill, shape=shape)


def resolve_segments(image: np.ndarray, segmentation: Any = "slic", segments: Any = None,
                     name: str = "segments") -> tuple[np.ndarray, Any]:
    """Superpixel labels for one image and a JSON-like record of how they were made.

    ``segments`` (a precomputed (H, W) label array) wins over ``segmentation``, which is a method
    name of :func:`superexplain.segmentation.segment`, a dict ``{"method": name, **options}``, or
    a callable ``image -> labels``. Fewer than two segments is an error (nothing to compare).
    """
    from ..segmentation import segment

    if segments is not None:
        labels = check_segments(segments, image.shape, name)
        record: Any = "precomputed"
    elif callable(segmentation):
        labels = segment(image, segmentation)
        record = getattr(segmentation, "__name__", "callable")
    elif isinstance(segmentation, str):
        labels = segment(image, segmentation)
        record = {"method": segmentation, **_SEGMENTATION_DEFAULTS.get(segmentation, {})}
    elif isinstance(segmentation, dict):
        options = dict(segmentation)
        method = options.pop("method", "slic")
        labels = segment(image, method, **options)
        name = method if isinstance(method, str) else getattr(method, "__name__", "callable")
        record = {"method": name, **_SEGMENTATION_DEFAULTS.get(name, {}), **options}
    else:
        raise TypeError(f"segmentation must be a method name, a dict {{'method': name, **options}} or a callable; "
                        f"got {describe(segmentation)}")
    n_segments = int(labels.max()) + 1
    if n_segments < 2:
        source = name if segments is not None else "segmentation"
        raise ValueError(f"{source} must give at least 2 superpixels to compare; got a single label "
                         "(use a finer segmentation, e.g. more n_segments)")
    return labels, record


def unperturbed_targets(predictor, images: np.ndarray, targets: Any, top_labels: int | None,
                        output: str, batch_size: int | None = None) -> tuple[np.ndarray, list[list[int]]]:
    """The model's scores for the unperturbed images and the target classes per image.

    ``batch_size`` images per model call at most, as for the perturbed copies (default: the
    predictor's).
    """
    scores = predict_in_batches(predictor, lambda a, b: images[a:b], len(images), batch_size=batch_size,
                                output=output)
    return scores, predictor.resolve_targets(targets, scores, top_labels)


def first_sample_targets(predictor, all_scores: list[np.ndarray], targets: Any,
                         top_labels: int | None) -> list[list[int]]:
    """The target classes per image, from the scores of each image's first sample.

    For methods whose first sample of every image is the image itself, unmasked; this saves the
    separate model call of :func:`unperturbed_targets`.
    """
    return predictor.resolve_targets(targets, np.stack([scores[0] for scores in all_scores]), top_labels)


def paint(weights: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """The per-segment ``weights`` painted on the (H, W) ``segments``: a heatmap, float32."""
    return np.asarray(weights, dtype=np.float32)[segments]


def per_image_segments(segments: Any, n_images: int, index: int) -> Any:
    """The precomputed segments for image ``index``: one (H, W) array for all, or (N, H, W) per image."""
    if segments is None:
        return None
    array = np.asarray(segments)
    if array.ndim == 3:
        if array.shape[0] != n_images:
            raise ValueError(f"segments has {array.shape[0]} label images for {n_images} image(s); give one "
                             "(H, W) array for all or one per image")
        return array[index]
    return array


def score_masks(predictor, masker: Callable[[np.ndarray], np.ndarray], masks: np.ndarray,
                batch_size: int | None, output: str, verbose: int | bool, desc: str = "perturb",
                first_batch_index: int = 0) -> np.ndarray:
    """Scores of the images that ``masker`` builds from each row of ``masks``, batch by batch."""
    job = masked_copies(masker, masks)
    return predict_in_batches(predictor, job.build, job.count, batch_size=batch_size, output=output,
                              verbose=verbose, desc=desc, first_batch_index=first_batch_index)


def check_common(num_samples: Any, batch_size: Any, score: Any, name: str = "num_samples") -> int:
    """Validate the options every sampling method shares; returns ``num_samples``."""
    num_samples = check_int(num_samples, name, 2)
    if batch_size is not None:
        check_int(batch_size, "batch_size", 1)
    check_choice(score, "score", SCORES)
    return num_samples


def warn_if_constant(method: str, scores: np.ndarray, target: int, index: int, score_kind: str) -> None:
    """Warn when no perturbation changed the target's score: every weight is then 0 and the map says nothing.

    An untrained 1000-class network's float32 probabilities, for one, are exactly 0.001 whatever is
    hidden; its logits still move.
    """
    column = np.asarray(scores)[:, target]
    if column.size > 1 and np.ptp(column) == 0:
        hint = " (explain the logits instead: score='logit')" if score_kind == "probability" else ""
        warnings.warn(f"{method}: the {score_kind} of class {target} is {float(column[0]):.6g} for every perturbed "
                      f"sample of image {index}: the model does not respond to the superpixels, so every weight is "
                      f"0{hint}", RuntimeWarning, stacklevel=3)

