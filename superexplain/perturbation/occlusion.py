"""Occlusion (Zeiler & Fergus, 2014): hide one superpixel, or one sliding window, at a time; weight = score drop."""
from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_int, describe, image_random_states
from ..explanation import Explanation
from ..models.score_targets import use_score_target
from ..models.batching import predict_in_batches
from .engine import (check_common, first_sample_targets, paint, per_image_segments,
                      resolve_segments, masked_copies, score_perturbations, unperturbed_targets)
from .masking import SegmentMasker, blend
from ._hide import describe_hide, hide_image

__all__ = ["run_occlusion", "window_positions"]


def _pair(value: Any, name: str, limits: tuple[int, int]) -> tuple[int, int]:
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair (height, width); got {describe(value)}")
        pair = tuple(value)
    else:
        pair = (value, value)
    return check_int(pair[0], name, 1, limits[0]), check_int(pair[1], name, 1, limits[1])


def window_positions(size: int, window: int, stride: int) -> np.ndarray:
    """Start offsets of windows of ``window`` pixels every ``stride`` pixels, the last flush with the border.

    Examples
    --------
    >>> window_positions(10, 4, 3).tolist()
    [0, 3, 6]
    >>> window_positions(10, 4, 4).tolist()
    [0, 4, 6]
    """
    starts = list(range(0, size - window + 1, stride))
    if starts[-1] + window < size:
        starts.append(size - window)
    return np.array(starts)


def _sliding(predictor, image, hide, window, stride, batch_size, output, verbose, index):
    height, width = image.shape[:2]
    rows, cols = window_positions(height, window[0], stride[0]), window_positions(width, window[1], stride[1])
    starts_y, starts_x = np.repeat(rows, cols.size), np.tile(cols, rows.size)
    pixel_rows, pixel_cols = np.arange(height), np.arange(width)
    row_hidden = (starts_y[:, None] <= pixel_rows) & (pixel_rows < starts_y[:, None] + window[0])
    col_hidden = (starts_x[:, None] <= pixel_cols) & (pixel_cols < starts_x[:, None] + window[1])

    def make_batch(start, stop, out):
        # sample 0 is the unperturbed image; sample p hides window p - 1
        position = np.arange(start, stop) - 1
        hidden = row_hidden[position][:, :, None] & col_hidden[position][:, None, :]
        hidden[position < 0] = False
        return blend(image, hide, ~hidden, out=out)

    # image_shape: the copies are built into the batch arrays predict_in_batches reuses
    scores = predict_in_batches(predictor, make_batch, 1 + starts_y.size, batch_size=batch_size, output=output,
                                verbose=verbose, desc=f"occlusion image {index}", image_shape=image.shape)
    return scores, row_hidden.astype(np.float64), col_hidden.astype(np.float64), (rows.size, cols.size)


def run_occlusion(predictor: Any, images: np.ndarray, *, targets: Any = None, top_labels: int | None = None,
                  random_state: Any = None, verbose: int | bool = 1, batch_size: int | None = None,
                  segmentation: Any = "slic", segments: Any = None, hide_color: Any = "mean",
                  window: Any = None, stride: Any = None, score: str = "probability") -> list[Explanation]:
    """Occlusion: the drop of the target's score when one region is hidden.

    Superpixel mode (default): one sample per segment, ``weights[j] = f(image) - f(image with
    segment j hidden)`` (Ancona et al.'s Occlusion-1 on superpixels; exact, no sampling).
    Sliding-window mode (``window`` given): a ``window``-sized patch hidden every ``stride``
    pixels; ``feature_map`` holds the drop per window position and ``heatmap`` the mean drop of
    the windows covering each pixel.

    Parameters
    ----------
    batch_size, segmentation, segments, score :
        As for :func:`~superexplain.perturbation.run_lime`.
    hide_color :
        As for LIME; in window mode ``"mean"`` is the image's mean colour.
    window : int or (int, int), optional
        Window height and width in pixels (switches to sliding-window mode).
    stride : int or (int, int), optional
        Step between windows (default: half the window, at least 1).

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.models import as_predictor
    >>> image = np.ones((1, 8, 8, 1), dtype=np.float32)
    >>> model = as_predictor(lambda x: x[:, :4, :4].sum(axis=(1, 2, 3))[:, None])
    >>> [e] = run_occlusion(model, image, hide_color=0.0, verbose=0,
    ...                     segmentation={"method": "grid", "n_segments": 4})
    >>> e.weights.tolist()
    [16.0, 0.0, 0.0, 0.0]
    """
    check_common(2, batch_size, score)
    # a score function as target (superexplain.targets): its view of the model, class 0
    predictor, targets, finish = use_score_target(predictor, targets, top_labels)
    _, seeds = image_random_states(random_state, len(images))  # nothing is drawn; seeds are recorded
    output, score_kind = predictor.output_for(score)
    height, width = images.shape[1:3]
    if window is None and stride is not None:
        raise ValueError("stride is only used with window (sliding-window occlusion); give window too")
    if window is not None:
        window = _pair(window, "window", (height, width))
        stride = _pair(stride if stride is not None else (max(1, window[0] // 2), max(1, window[1] // 2)),
                       "stride", (height, width))
    explanations = []
    if window is None:
        prepared = []
        for index, image in enumerate(images):
            labels, segmentation_record = resolve_segments(image, segmentation,
                                                           per_image_segments(segments, len(images), index))
            n_segments = int(labels.max()) + 1
            masks = np.vstack([np.ones((1, n_segments), bool), ~np.eye(n_segments, dtype=bool)])
            masker = SegmentMasker(image, labels, hide_image(image, labels, hide_color))
            prepared.append((labels, segmentation_record, masks, masker))
        # a few dozen copies per image: several images share each full batch
        all_scores = score_perturbations(predictor, [masked_copies(p[3], p[2]) for p in prepared], batch_size,
                                         output, verbose, desc="occlusion")
        # every image's first copy is the image itself: its scores choose the targets
        target_lists = first_sample_targets(predictor, all_scores, targets, top_labels)
        for index, ((labels, segmentation_record, masks, _), scores) in enumerate(zip(prepared, all_scores)):
            params = {"batch_size": batch_size or predictor.batch_size, "hide_color": describe_hide(hide_color),
                      "seed": seeds[index], "score_kind": score_kind, "mode": "superpixel",
                      "segmentation": segmentation_record, "num_segments": int(labels.max()) + 1,
                      "samples_used": len(masks)}
            for target in target_lists[index]:
                drops = scores[0, target].astype(np.float64) - scores[1:, target]
                explanations.append(Explanation(
                    image=images[index], method="occlusion", target=target, heatmap=paint(drops, labels),
                    target_name=predictor.class_name(target), score=float(scores[0, target]), segments=labels,
                    weights=drops, params=params))
        return finish(explanations)
    _, target_lists = unperturbed_targets(predictor, images, targets, top_labels, output, batch_size)
    for index, image in enumerate(images):
        params = {"batch_size": batch_size or predictor.batch_size, "hide_color": describe_hide(hide_color),
                  "seed": seeds[index], "score_kind": score_kind}
        hide = hide_image(image, None, hide_color)
        scores, row_hidden, col_hidden, grid = _sliding(predictor, image, hide, window, stride, batch_size,
                                                        output, verbose, index)
        params.update(mode="window", window=list(window), stride=list(stride), samples_used=len(scores))
        coverage = row_hidden.T @ col_hidden
        for target in target_lists[index]:
            drops = scores[0, target].astype(np.float64) - scores[1:, target]
            heatmap = (row_hidden * drops[:, None]).T @ col_hidden / coverage
            explanations.append(Explanation(
                image=image, method="occlusion", target=target, heatmap=heatmap,
                target_name=predictor.class_name(target), score=float(scores[0, target]),
                feature_map=drops.reshape(grid), params=params))
    return finish(explanations)
