"""Ablation-CAM (Desai & Ramaswamy, WACV 2020): channel weights from the score drop when each channel is zeroed."""
from __future__ import annotations

from typing import Any

import numpy as np

from .._progress import progress
from .._validation import check_choice, check_int, resolve_seed
from ..explanation import Explanation
from . import cam_maps
from .cam_common import check_batch_size, check_relu, decode_target
from .cam_head import head_run
from .cam_options import run_with_cam_options
from .cam_weighted import channel_weighted, check_flag, eigen_params, eigen_projection

__all__ = ["run_ablationcam", "ablation_weights", "ablated_scores", "channel_batch_for", "DEFAULT_CHANNEL_BATCH",
           "COPY_BUDGET_BYTES"]

#: Ablated copies per head call in :func:`ablated_scores` unless told otherwise.
DEFAULT_CHANNEL_BATCH = 64
#: ``channel_batch=None`` in :func:`run_ablationcam`: as many ablated copies per head call as fit in this many bytes.
COPY_BUDGET_BYTES = 64 * 2 ** 20


def channel_batch_for(activation_shape: tuple, itemsize: int = 4) -> int:
    """Ablated copies per head call when ``channel_batch`` is None: as many as fit in :data:`COPY_BUDGET_BYTES`
    (at least 1, at most the number of channels), so that few calls carry the head's fixed cost.

    Examples
    --------
    >>> channel_batch_for((7, 7, 1280)), channel_batch_for((8, 8, 64))
    (267, 64)
    """
    if any(size is None for size in activation_shape):  # a dynamic size: the fixed default
        return DEFAULT_CHANNEL_BATCH
    per_copy = int(np.prod(activation_shape)) * itemsize
    return int(max(1, min(activation_shape[-1], COPY_BUDGET_BYTES // max(per_copy, 1))))


def ablation_weights(score: float, ablated: np.ndarray) -> tuple[np.ndarray, bool]:
    """Ablation-CAM channel weights w_k = (y - y_k) / y from the target's score ``y`` and its scores
    ``y_k`` with channel k zeroed, shape (c,); and whether they were divided by ``y``.

    This is the paper's formula (Desai & Ramaswamy 2020, eq. 4), which pytorch-grad-cam also uses.
    Dividing by ``y`` scales every weight alike, so it changes the map's units, not its shape,
    except that a negative ``y`` flips the map's sign (use ``score="probability"``, which is
    positive, for a target whose logit is negative). For ``y == 0`` the division is undefined and
    the plain drop ``y - y_k`` is returned instead (second value False).

    Examples
    --------
    >>> weights, divided = ablation_weights(2.0, np.array([1.0, 2.0, 3.0]))
    >>> weights.tolist(), divided
    ([0.5, 0.0, -0.5], True)
    >>> ablation_weights(0.0, np.array([-1.0]))[0].tolist()
    [1.0]
    """
    score = float(score)
    drop = score - np.asarray(ablated, np.float64)
    if score == 0.0:
        return drop, False
    return drop / score, True


def ablated_scores(head, activations, crossing: tuple, channel_batch: int = DEFAULT_CHANNEL_BATCH) -> np.ndarray:
    """Scores (c, classes) of one image's activations (1, ..., c) with each channel in turn set to zero.

    ``head`` is a :class:`~superexplain.gradcam.cam_head.CamHead` and ``crossing`` the image's
    tensors crossing the cut (as its ``forward`` returns them). Only the head runs, on
    ``channel_batch`` ablated copies per call.

    Examples
    --------
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> from superexplain.gradcam import resolve_layer
    >>> from superexplain.gradcam.cam_head import cam_head
    >>> from superexplain.models import as_predictor
    >>> model = load_demo_model()
    >>> head, _ = cam_head(as_predictor(model), resolve_layer(model), "logit")
    >>> activations, crossing, scores = head.forward(make_shapes(1, seed=0).images)
    >>> ablated_scores(head, activations, crossing, channel_batch=16).shape
    (64, 4)
    """
    channels = int(activations.shape[-1])
    out = []
    for begin in range(0, channels, channel_batch):
        indices = np.arange(begin, min(begin + channel_batch, channels), dtype=np.int32)
        out.append(head.ablated(activations, tuple(crossing), indices).numpy())
    return np.concatenate(out, axis=0)


def run_ablationcam(predictor, images: np.ndarray, *, targets: Any = None, top_labels: Any = None,
                    random_state: Any = None, verbose: Any = 1, layer: Any = None, score: str = "logit",
                    relu: bool = True, batch_size: Any = None, channel_batch: Any = None,
                    reshape: Any = None, aug_smooth: Any = False, eigen_smooth: bool = False) -> list[Explanation]:
    """Ablation-CAM (Desai & Ramaswamy, WACV 2020) for a validated batch (N, H, W, C).

    For each image the layer's activations A (h, w, c) are computed once; for each channel k the
    head of the model (the part above the layer, see :mod:`.cam_head`) scores A with channel k
    set to zero, y_k; the weight of channel k is w_k = (y - y_k) / y (see :func:`ablation_weights`)
    and the map is ``ReLU(sum_k w_k A^k)`` at the layer's resolution (``feature_map``), upsampled
    to ``heatmap``. All targets of an image share the same ablated scores. No gradients: it works
    where the score is not differentiable or its gradients saturate.

    Parameters
    ----------
    layer : None, str, int or keras.layers.Layer
        As for Grad-CAM (automatic by default).
    score : {"logit", "probability"}
        The score y: the pre-softmax logit (default) or the model's output.
    relu : bool
        Apply the final ReLU (False keeps the signed map).
    batch_size : int
        Images per backbone call (default 32).
    channel_batch : int
        Ablated copies per call of the head (default: as many as fit in 64 MB, :func:`channel_batch_for`;
        267 for MobileNetV2's 7x7x1280 last layer).
    reshape : callable, optional
        Tokens -> grid for a transformer layer, as for Grad-CAM; channels are zeroed in every token.
    aug_smooth : bool or list of (bool, float)
        Test-time augmentation, and ``layer`` may be a list of layers to fuse, as for Grad-CAM
        (:func:`.cam_options.run_with_cam_options`).
    eigen_smooth : bool
        The map is the first principal component of the weighted activations w_k A^k
        (:func:`.cam_weighted.eigen_projection`) instead of their channel sum.

    Notes
    -----
    Cost per image: one backbone pass and ``ceil(c / channel_batch)`` head passes over c ablated
    copies (1280 for MobileNetV2's last layer). ``params["normalised"]`` is False where y was 0
    and the weights are the plain drops y - y_k.

    Examples
    --------
    >>> import superexplain
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> e = superexplain.explain(load_demo_model(), make_shapes(1, seed=1).images[0], method="ablationcam",
    ...                          verbose=0)
    >>> e.feature_map.shape, e.params["weights"]
    ((8, 8), '(y - y_k) / y')
    """
    return run_with_cam_options(_run_once, predictor, images, targets=targets, top_labels=top_labels,
                                verbose=verbose, layer=layer, aug_smooth=aug_smooth, random_state=random_state,
                                score=score, relu=relu, batch_size=batch_size, channel_batch=channel_batch,
                                reshape=reshape, eigen_smooth=eigen_smooth)


def _run_once(predictor, images: np.ndarray, *, targets: Any, top_labels: Any, random_state: Any, verbose: Any,
              layer: Any, score: str, relu: bool, batch_size: Any, channel_batch: Any, reshape: Any,
              eigen_smooth: bool) -> list[Explanation]:
    """One layer, no augmentation: the plain Ablation-CAM run."""
    check_choice(score, "score", ("logit", "probability"))
    relu = check_relu(relu)
    size = check_batch_size(batch_size)
    chunk = None if channel_batch is None else check_int(channel_batch, "channel_batch", 1)
    eigen_smooth = check_flag(eigen_smooth, "eigen_smooth")
    seed = None if random_state is None else resolve_seed(random_state)  # deterministic: nothing to seed
    run = head_run(predictor, len(images), targets, top_labels, layer, score, reshape)
    predictor, head, encoded, counts = run.predictor, run.head, run.encoded, run.counts
    if chunk is None:
        chunk = channel_batch_for(tuple(run.resolved.output_shape[1:]))
    params = {**run.params, "relu": relu, "weights": "(y - y_k) / y", "channel_batch": chunk, "seed": seed}
    params.update(eigen_params("ablationcam", eigen_smooth))
    explanations: list[Explanation] = []
    with progress(len(images), "ablationcam", verbose) as bar:
        for start, batch, activations, crossing, grids, scores in run.batches(images, size):
            for i, image in enumerate(batch):
                ablated = ablated_scores(head, activations[i:i + 1], tuple(t[i:i + 1] for t in crossing), chunk)
                for t in encoded[start + i, :counts[start + i]]:
                    target = decode_target(scores[i], t)
                    weights, divided = ablation_weights(scores[i, target], ablated[:, target])
                    if eigen_smooth:
                        feature_map = eigen_projection(channel_weighted(grids[i:i + 1], weights[None, None]))[0, 0]
                    else:
                        feature_map = cam_maps.weighted_sum(grids[i:i + 1], weights[None, None])[0, 0]
                    if relu:
                        feature_map = np.maximum(feature_map, 0.0)
                    explanations.append(Explanation(
                        image=image, method="ablationcam", target=target,
                        heatmap=cam_maps.upsample(feature_map, image.shape[:2]),
                        target_name=predictor.class_name(target), score=float(scores[i, target]),
                        feature_map=feature_map.astype(np.float32), params={**params, "normalised": divided}))
                bar.update()
    return run.finish(explanations)
