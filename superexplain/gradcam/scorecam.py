"""Score-CAM (Wang et al. 2020, arXiv 1910.01279): channel weights from the scores of activation-masked inputs."""
from __future__ import annotations

from typing import Any

import numpy as np

from .._progress import progress
from .._validation import check_choice, check_int, resolve_seed
from ..explanation import Explanation
from ..models.score_targets import use_score_target
from . import cam_maps
from .cam_common import check_relu, encode_targets, layer_params
from .cam_graph import cam_graph
from .cam_options import run_with_cam_options
from .cam_weighted import channel_weighted, check_flag, eigen_params, eigen_projection
from .layers import ResolvedLayer, resolve_layer
from .tokens import tokens_to_grid

__all__ = ["run_scorecam", "channel_masks", "channel_ranges", "scorecam_weights"]

#: Masked images per model call unless ``batch_size`` says otherwise.
DEFAULT_BATCH_SIZE = 64


def _upsampled_channels(activations: np.ndarray, channels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Channels ``channels`` of one image's activations (h, w, c), upsampled: (len(channels), H, W)."""
    return cam_maps.upsample(np.moveaxis(activations[..., channels], -1, 0), size)


def channel_ranges(activations: np.ndarray, size: tuple[int, int], chunk: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Minimum and maximum of each channel after upsampling to ``size``, computed ``chunk`` channels at a time.

    Examples
    --------
    >>> low, high = channel_ranges(np.arange(8.0).reshape(2, 2, 2), (4, 4))
    >>> low.tolist(), high.tolist()
    ([0.0, 1.0], [6.0, 7.0])
    """
    channels = activations.shape[-1]
    low, high = np.empty(channels, np.float32), np.empty(channels, np.float32)
    for begin in range(0, channels, chunk):
        upsampled = _upsampled_channels(activations, np.arange(begin, min(begin + chunk, channels)), size)
        low[begin:begin + chunk] = upsampled.min(axis=(1, 2))
        high[begin:begin + chunk] = upsampled.max(axis=(1, 2))
    return low, high


def channel_masks(activations: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Upsample each channel of one image's activations (h, w, c) to ``size`` and min-max normalise it.

    Returns ``(masks (c', H, W) in [0, 1], kept channel indices (c',))``. A channel that is constant
    after upsampling carries no spatial information (its min-max normalisation is 0/0) and is
    left out; its weight is 0. (:func:`run_scorecam` builds the same masks one batch at a time.)

    Examples
    --------
    >>> import numpy as np
    >>> activations = np.zeros((2, 2, 2), np.float32)
    >>> activations[0, 0, 1] = 3.0                      # channel 0 is constant
    >>> masks, kept = channel_masks(activations, (4, 4))
    >>> kept.tolist(), float(masks.max()), float(masks.min())
    ([1], 1.0, 0.0)
    """
    low, high = channel_ranges(activations, size)
    kept = np.flatnonzero(high > low)
    upsampled = _upsampled_channels(activations, kept, size)
    masks = (upsampled - low[kept, None, None]) / (high - low)[kept, None, None]
    return masks.astype(np.float32), kept


def scorecam_weights(masked_scores: np.ndarray, channel_softmax: bool = False) -> np.ndarray:
    """Channel weights from the target's scores on the masked inputs, shape (c',) -> (c',).

    ``channel_softmax=False`` (the paper's reference code): w_k = the target's score of the input
    masked by channel k (with ``score="probability"``, the softmax probability over classes).
    ``channel_softmax=True``: w_k = softmax over channels of those scores, which equals the
    softmax over channels of the paper's "increase of confidence" f(X o H_k) - f(X_b), since a
    softmax ignores the common baseline term.

    Examples
    --------
    >>> scorecam_weights(np.array([0.2, 0.5])).tolist(), scorecam_weights(np.array([1.0, 1.0]), True).tolist()
    ([0.2, 0.5], [0.5, 0.5])
    """
    scores = np.asarray(masked_scores, np.float64)
    if not channel_softmax or scores.size == 0:
        return scores
    shifted = np.exp(scores - scores.max())
    return shifted / shifted.sum()


def run_scorecam(predictor, images: np.ndarray, *, targets: Any = None, top_labels: Any = None,
                 random_state: Any = None, verbose: Any = 1, layer: Any = None, score: str = "probability",
                 relu: bool = True, batch_size: Any = None, channel_softmax: bool = False,
                 reshape: Any = None, aug_smooth: bool = False, eigen_smooth: bool = False) -> list[Explanation]:
    """Score-CAM for a validated batch (N, H, W, C).

    For each image: the layer's activations A (h, w, c) are computed once; each channel is
    bilinearly upsampled to the input size and min-max normalised to [0, 1] (H_k); the model
    scores the masked inputs X * H_k in batches of ``batch_size``; the target's score on X * H_k
    is the weight of channel k (see :func:`scorecam_weights`); the map is
    ``ReLU(sum_k w_k A^k)`` at the layer's resolution (``feature_map``), upsampled to ``heatmap``.

    Parameters
    ----------
    layer : None, str, int or keras.layers.Layer
        As for Grad-CAM (automatic by default).
    score : {"probability", "logit"}
        Units of the masked scores: ``"probability"`` (default, as the paper: the softmax output)
        or the pre-softmax ``"logit"``.
    relu : bool
        Apply the final ReLU.
    batch_size : int
        Masked images per model call (default 64).
    channel_softmax : bool
        Normalise the weights with a softmax over channels (a common variant; see
        :func:`scorecam_weights`).
    aug_smooth : bool or list of (bool, float)
        Test-time augmentation and ``layer`` lists as for Grad-CAM
        (:func:`.cam_options.run_with_cam_options`).
    eigen_smooth : bool
        The map is the first-principal-component projection of w_k A^k instead of its channel
        sum (:func:`.cam_weighted.eigen_projection`).

    Notes
    -----
    Costs one forward pass per (image, non-constant channel): 1280 for MobileNetV2's last layer.
    Channel weights do not depend on ``targets`` beyond selecting a column, so all targets of an
    image share the same masked passes.

    Examples
    --------
    >>> import superexplain
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> e = superexplain.explain(load_demo_model(), make_shapes(1, seed=1).images[0],
    ...                          method="scorecam", verbose=0)
    >>> e.params["score_kind"]
    'probability'
    """
    return run_with_cam_options(_run_scorecam_once, predictor, images, targets=targets, top_labels=top_labels,
                                verbose=verbose, layer=layer, aug_smooth=aug_smooth, random_state=random_state,
                                score=score, relu=relu, batch_size=batch_size, channel_softmax=channel_softmax,
                                reshape=reshape, eigen_smooth=eigen_smooth)


def _run_scorecam_once(predictor, images: np.ndarray, *, targets: Any, top_labels: Any, random_state: Any,
                       verbose: Any, layer: Any, score: str, relu: bool, batch_size: Any, channel_softmax: bool,
                       reshape: Any, eigen_smooth: bool) -> list[Explanation]:
    from ..models.keras_model import as_float_input
    from ..models.batching import predict_in_batches

    check_choice(score, "score", ("logit", "probability"))
    relu = check_relu(relu)
    if not isinstance(channel_softmax, (bool, np.bool_)):
        raise TypeError(f"channel_softmax must be True or False; got {channel_softmax!r}")
    size = DEFAULT_BATCH_SIZE if batch_size is None else check_int(batch_size, "batch_size", 1)
    seed = None if random_state is None else resolve_seed(random_state)
    predictor.score_function(score)  # plain callables: the TypeError pointing to perturbation methods
    predictor, targets, finish = use_score_target(predictor, targets, top_labels)  # superexplain.targets
    resolved = layer if isinstance(layer, ResolvedLayer) else resolve_layer(predictor.keras_model, layer, reshape)
    graph, kind = cam_graph(predictor, resolved, score)
    output = "logits" if kind == "logit" and predictor.has_logits else "output"
    encoded, counts = encode_targets(predictor, len(images), targets, top_labels)
    params = layer_params(resolved, reshape)
    params.update({"score_kind": kind, "relu": relu, "upsampling": "bilinear, half-pixel centres",
                   "channel_softmax": bool(channel_softmax), "batch_size": size, "seed": seed})
    eigen_smooth = check_flag(eigen_smooth, "eigen_smooth")
    params.update(eigen_params("scorecam", eigen_smooth))
    explanations: list[Explanation] = []
    with progress(len(images), "scorecam", verbose) as bar:
        for index, image in enumerate(images):
            activations, scores = (t.numpy() for t in graph.forward(as_float_input(image[None], predictor.keras_model)))
            if resolved.is_tokens:
                activations = tokens_to_grid(activations, reshape)
            activations, scores = activations[0], scores[0]
            order = np.argsort(-scores, kind="stable")
            wanted = [int(order[-t - 1]) if t < 0 else int(t) for t in encoded[index, :counts[index]]]
            low, high = channel_ranges(activations, image.shape[:2])
            kept = np.flatnonzero(high > low)

            def masked_images(begin: int, stop: int) -> np.ndarray:
                # built one batch at a time: all of MobileNetV2's 1280 masks at 224x224 would be 770 MB
                channels = kept[begin:stop]
                upsampled = _upsampled_channels(activations, channels, image.shape[:2])
                masks = (upsampled - low[channels, None, None]) / (high - low)[channels, None, None]
                return image[None] * masks[..., None]

            masked_scores = np.zeros((0, scores.shape[0]), np.float32)
            if kept.size:
                masked_scores = predict_in_batches(predictor, masked_images, int(kept.size), batch_size=size,
                                                   output=output)
            for target in wanted:
                weights = np.zeros(activations.shape[-1], np.float64)
                weights[kept] = scorecam_weights(masked_scores[:, target], channel_softmax)
                if eigen_smooth:
                    feature_map = eigen_projection(channel_weighted(activations[None], weights[None, None]))[0, 0]
                else:
                    feature_map = cam_maps.weighted_sum(activations[None], weights[None, None])[0, 0]
                if relu:
                    feature_map = np.maximum(feature_map, 0.0)
                explanations.append(Explanation(
                    image=image, method="scorecam", target=target,
                    heatmap=cam_maps.upsample(feature_map, image.shape[:2]),
                    target_name=predictor.class_name(target), score=float(scores[target]),
                    feature_map=feature_map.astype(np.float32), params=dict(params)))
            bar.update()
    return finish(explanations)
