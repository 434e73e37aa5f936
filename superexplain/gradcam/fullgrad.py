"""FullGrad (Srinivas & Fleuret, NeurIPS 2019, arXiv 1905.00780): the input-gradient term plus every bias's
gradient term, each made absolute, normalised and upsampled, summed into one map.

For a network whose layers are piecewise linear (ReLU/ReLU6, max-pool, average pooling, inference-mode
BatchNorm, convolutions, Dense) the full-gradient decomposition is exact:

    f(x) = sum(grad_x f ⊙ x) + sum over bias layers l of sum(grad_{z_l} f ⊙ b_l)

with z_l the output of layer l before any fused activation. :func:`full_gradient_terms` returns these raw
terms and the gap of that identity; :func:`run_fullgrad` turns them into the saliency map.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validation import check_choice, resolve_seed
from ..explanation import Explanation
from ..models.batching import run_in_batches
from ..models.score_targets import use_score_target
from . import cam_maps
from .cam_common import check_batch_size, encode_targets
from .cam_options import run_with_cam_options
from .fullgrad_graph import fullgrad_graph

__all__ = ["FullGradientTerms", "full_gradient_terms", "fullgrad_maps", "normalise_term", "run_fullgrad"]

#: What ``params["normalisation"]`` records.
NORMALISATION = ("per term (the input term, then each bias layer): absolute value, min-max to [0, 1] per image "
                 "over all positions and channels together, channel sum, bilinear upsampling; the terms are "
                 "summed and the sum min-max normalised to [0, 1] per image")


@dataclass
class FullGradientTerms:
    """The raw (signed, not normalised) full-gradient terms of M rows, one row per (image, target),
    image-major, target-minor.

    Attributes
    ----------
    image_index, targets : ndarray (M,), int
        The image and the class of each row.
    scores : ndarray (M,)
        f(x): the explained score (``score_kind``) of the row's class.
    input_term : ndarray (M, H, W, C)
        grad_x f ⊙ x.
    bias_terms : dict of str -> ndarray (M, ...)
        For each bias layer (in call order), grad_z f ⊙ b in the layer's output shape.
    skipped : dict of str -> str
        Layers holding a bias that are not covered, and why.
    score_kind : str
    """

    image_index: np.ndarray
    targets: np.ndarray
    scores: np.ndarray
    input_term: np.ndarray
    bias_terms: dict
    skipped: dict = field(default_factory=dict)
    score_kind: str = "logit"

    def completeness_gap(self) -> np.ndarray:
        """f(x) - sum(input term) - sum(every bias term), per row, float64: 0 up to rounding for a piecewise-linear
        network explained on its logits."""
        total = self.input_term.reshape(len(self.scores), -1).astype(np.float64).sum(axis=1)
        for term in self.bias_terms.values():
            total += term.reshape(len(self.scores), -1).astype(np.float64).sum(axis=1)
        return self.scores.astype(np.float64) - total


def _rows(chunk: np.ndarray, encoded: np.ndarray, counts: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Image indices into ``chunk`` and the encoded target of each (image, target) row."""
    index = np.repeat(np.arange(len(chunk)), counts)
    codes = np.concatenate([encoded[i, :counts[i]] for i in range(len(chunk))]).astype(np.int32)
    return index, codes


def _compute(graph, predictor, chunk: np.ndarray, encoded: np.ndarray, counts: list[int]) -> tuple:
    from ..models.keras_model import as_float_input

    index, codes = _rows(chunk, encoded, counts)
    scores, resolved, input_term, bias_terms = graph.terms(as_float_input(chunk[index], predictor.keras_model), codes)
    return index, resolved.numpy(), scores.numpy(), input_term.numpy(), [t.numpy() for t in bias_terms]


def full_gradient_terms(predictor, images: Any, targets: Any = None, *, top_labels: Any = None,
                        score: str = "logit") -> FullGradientTerms:
    """The raw full-gradient decomposition of each (image, target), from one compiled backward pass.

    Holds every layer's term of every image at once: for a few images (:func:`run_fullgrad` goes a batch
    at a time). ``predictor`` is :func:`superexplain.models.as_predictor`'s; ``images`` a batch
    (N, H, W, C); ``targets``/``top_labels`` as for :func:`superexplain.explain`.

    Examples
    --------
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> from superexplain.models import as_predictor
    >>> terms = full_gradient_terms(as_predictor(load_demo_model()), make_shapes(2, seed=0).images)
    >>> list(terms.bias_terms), terms.input_term.shape
    (['bn1', 'bn2', 'bn3', 'last_conv', 'predictions'], (2, 64, 64, 3))
    >>> bool(abs(terms.completeness_gap()).max() < 1e-3 * abs(terms.scores).max())   # ReLU net: f = sum of terms
    True
    """
    check_choice(score, "score", ("logit", "probability"))
    predictor, targets, _ = use_score_target(predictor, targets, top_labels)
    graph, kind = fullgrad_graph(predictor, score)
    batch, _ = predictor.check_images(images, "images")
    encoded, counts = encode_targets(predictor, len(batch), targets, top_labels)
    index, resolved, scores, input_term, bias_terms = _compute(graph, predictor, batch, encoded, counts)
    return FullGradientTerms(index, resolved.astype(np.int64), scores, input_term,
                             {layer.name: term for layer, term in zip(graph.layers, bias_terms)},
                             dict(graph.skipped), kind)


def normalise_term(term: np.ndarray, channel_axis: int = -1) -> np.ndarray:
    """psi before upsampling: |term| of each row (M, h, w, c) min-max normalised to [0, 1] over all its
    positions and channels, then summed over channels: (M, h, w). A constant row gives zeros.

    Examples
    --------
    >>> normalise_term(np.array([[[[-2.0, 1.0], [0.0, 1.0]]]])).tolist()    # |.| = 2, 1, 0, 1 -> 1, .5, 0, .5
    [[[1.5, 0.5]]]
    """
    magnitude = np.abs(np.moveaxis(np.asarray(term, np.float32), channel_axis, -1))
    axes = tuple(range(1, magnitude.ndim))
    low = magnitude.min(axis=axes, keepdims=True)
    span = magnitude.max(axis=axes, keepdims=True) - low
    scaled = np.where(span > 0, (magnitude - low) / np.where(span > 0, span, 1.0), 0.0)
    return scaled.sum(axis=-1)


def _min_max(maps: np.ndarray) -> np.ndarray:
    low = maps.min(axis=(1, 2), keepdims=True)
    span = maps.max(axis=(1, 2), keepdims=True) - low
    return np.where(span > 0, (maps - low) / np.where(span > 0, span, 1.0), 0.0)


def fullgrad_maps(input_term: np.ndarray, bias_terms: list, layers: list) -> tuple[np.ndarray, list[str]]:
    """The FullGrad saliency maps (M, H, W) in [0, 1] from raw terms, and the names of the layers mapped.

    Bias terms with two spatial axes (an (M, h, w, c) output) are mapped; the others (a Dense after
    global pooling: one number per channel, constant over the image) are left out of the map, as in
    the authors' code (its per-term normalisation would make them zero anyway).

    Examples
    --------
    >>> maps, mapped = fullgrad_maps(np.array([[[[1.0], [-3.0]]]]), [], [])
    >>> maps.tolist(), mapped
    ([[[0.0, 1.0]]], [])
    """
    size = input_term.shape[1:3]
    total = normalise_term(input_term).astype(np.float64)
    mapped: list[str] = []
    by_size: dict[tuple, np.ndarray] = {}
    for layer, term in zip(layers, bias_terms):
        if term.ndim == 4:
            normalised = normalise_term(term, layer.channel_axis)
            # upsampling is linear: the maps of one resolution are summed first and upsampled once
            key = normalised.shape[1:]
            by_size[key] = normalised if key not in by_size else by_size[key] + normalised
            mapped.append(layer.name)
    for maps in by_size.values():
        total += cam_maps.upsample(maps, size)
    return _min_max(total).astype(np.float32), mapped


def run_fullgrad(predictor, images: np.ndarray, *, targets: Any = None, top_labels: Any = None,
                 random_state: Any = None, verbose: Any = 1, score: str = "logit",
                 batch_size: Any = None, aug_smooth: Any = False) -> list[Explanation]:
    """FullGrad saliency maps (Srinivas & Fleuret 2019, arXiv 1905.00780) for a validated batch (N, H, W, C).

    S(x) = psi(grad_x f ⊙ x) + sum over bias layers l of psi(grad_{z_l} f ⊙ b_l), with z_l the layer's
    output before any fused activation and psi = absolute value, min-max normalisation per image over
    the whole term (all positions and channels, as the authors' code), channel sum and bilinear
    upsampling; S is then min-max normalised to [0, 1] (``heatmap``).

    Bias layers (``params["bias_layers"]``): Conv1D/2D/3D, DepthwiseConv1D/2D, SeparableConv1D/2D,
    Conv1D/2D/3DTranspose and Dense with ``use_bias=True``, and BatchNormalization (implicit
    inference-mode bias beta - gamma * moving_mean / sqrt(moving_variance + epsilon)), nested models
    included. Layers with ``use_bias=False`` add nothing. A bias layer without two spatial axes (a Dense
    after global pooling) is in the decomposition but not the map (``params["bias_layers_not_mapped"]``);
    other layers holding a bias (LayerNormalization, EinsumDense, ...) are listed in
    ``params["skipped_layers"]``. ``params["completeness_gap"]`` is f(x) minus the sum of every raw term:
    0 up to rounding for a piecewise-linear network on its logits, not for softmax probabilities or
    smooth activations. Cost: one forward and one backward pass per (image, target), plus the linear map of
    each layer with a fused non-linear activation computed once more (forward only).

    Options: ``score`` ("logit" or "probability"), ``batch_size`` (images per compiled call, default 32),
    ``aug_smooth`` (True, or ``(horizontal_flip, multiplier)`` pairs: the mean of the [0, 1] maps of
    augmented copies, see :func:`.cam_options.run_with_cam_options`; the completeness gap recorded is the
    original image's). ``random_state`` is accepted and recorded (nothing is random). A score target
    (:mod:`superexplain.targets`) as ``targets`` is explained as the other CAMs explain it.

    Examples
    --------
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> from superexplain.models import as_predictor
    >>> e = run_fullgrad(as_predictor(load_demo_model()), make_shapes(1, seed=0).images, verbose=0)[0]
    >>> e.heatmap.shape, float(e.heatmap.min()), float(e.heatmap.max()), e.params["bias_layers"]
    ((64, 64), 0.0, 1.0, ['bn1', 'bn2', 'bn3', 'last_conv'])
    """
    def once(predictor, images, *, targets, top_labels, verbose, layer):
        return _run_once(predictor, images, targets=targets, top_labels=top_labels, random_state=random_state,
                         verbose=verbose, score=score, batch_size=batch_size)

    check_choice(score, "score", ("logit", "probability"))
    check_batch_size(batch_size)
    return run_with_cam_options(once, predictor, images, targets=targets, top_labels=top_labels, verbose=verbose,
                                layer=None, aug_smooth=aug_smooth, fusion_layers=False)


def _run_once(predictor, images: np.ndarray, *, targets: Any, top_labels: Any, random_state: Any, verbose: Any,
              score: str, batch_size: Any) -> list[Explanation]:
    """FullGrad on the images as they are (no augmentation)."""
    size = check_batch_size(batch_size)
    seed = None if random_state is None else resolve_seed(random_state)  # deterministic: nothing to seed
    predictor, targets, finish = use_score_target(predictor, targets, top_labels)
    graph, kind = fullgrad_graph(predictor, score)
    encoded, counts = encode_targets(predictor, len(images), targets, top_labels)
    params = {"score_kind": kind, "normalisation": NORMALISATION, "skipped_layers": dict(graph.skipped),
              "upsampling": "bilinear, half-pixel centres", "seed": seed}
    explanations: list[Explanation] = []
    starts = range(0, len(images), size)

    def call(index: int, start: int) -> tuple:
        stop = start + size
        return _compute(graph, predictor, images[start:stop], encoded[start:stop], counts[start:stop])

    def consume(index: int, result: tuple) -> None:
        start = starts[index]
        rows, resolved, scores, input_term, bias_terms = result
        maps, mapped = fullgrad_maps(input_term, bias_terms, graph.layers)
        gaps = FullGradientTerms(rows, resolved, scores, input_term, dict(enumerate(bias_terms))).completeness_gap()
        not_mapped = {layer.name: f"output shape {tuple(term.shape[1:])} has no two spatial axes"
                      for layer, term in zip(graph.layers, bias_terms) if layer.name not in mapped}
        for row, image in enumerate(rows):
            target = int(resolved[row])
            row_params = dict(params, bias_layers=list(mapped), bias_layers_not_mapped=dict(not_mapped),
                              completeness_gap=float(gaps[row]))
            explanations.append(Explanation(
                image=images[start + image], method="fullgrad", target=target, heatmap=maps[row],
                target_name=predictor.class_name(target), score=float(scores[row]), params=row_params))

    run_in_batches(lambda index: starts[index], call, len(starts), consume, verbose=verbose, desc="fullgrad")
    return finish(explanations)
