"""Grad-CAM, Grad-CAM++ and LayerCAM: the registry's run functions, one compiled gradient call per batch of images."""
from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_choice, resolve_seed
from ..explanation import Explanation
from ..models.batching import run_in_batches
from ..models.score_targets import use_score_target
from . import cam_maps
from .cam_common import check_batch_size, check_relu, encode_targets, layer_params
from .cam_graph import cam_graph
from .cam_options import run_with_cam_options
from .cam_weighted import cam_map, check_flag, eigen_params
from .layers import ResolvedLayer, resolve_layer
from .tokens import tokens_to_grid

__all__ = ["run_gradcam", "run_gradcam_plus_plus", "run_layercam"]


def run_cam(method: str, predictor, images: np.ndarray, *, targets: Any = None, top_labels: Any = None,
             random_state: Any = None, verbose: Any = 1, layer: Any = None, score: str = "logit",
             relu: bool = True, batch_size: Any = None, reshape: Any = None,
             eigen_smooth: bool = False) -> list[Explanation]:
    """One layer, no augmentation: the plain run behind every gradient CAM (``method`` a key of
    :data:`.cam_weighted.WEIGHTED_VARIANTS`); :func:`run_cam_with_options` adds ``aug_smooth`` and layer lists."""
    from ..models.keras_model import as_float_input

    check_choice(score, "score", ("logit", "probability"))
    relu = check_relu(relu)
    size = check_batch_size(batch_size)
    seed = None if random_state is None else resolve_seed(random_state)  # deterministic: nothing to seed
    predictor.score_function(score)  # the TypeError for plain callables comes first
    # a score function as target (superexplain.targets): its view of the model, class 0
    predictor, targets, finish = use_score_target(predictor, targets, top_labels)
    resolved = layer if isinstance(layer, ResolvedLayer) else resolve_layer(predictor.keras_model, layer, reshape)
    graph, kind = cam_graph(predictor, resolved, score)
    encoded, counts = encode_targets(predictor, len(images), targets, top_labels)
    eigen_smooth = check_flag(eigen_smooth, "eigen_smooth")
    params = layer_params(resolved, reshape)
    params.update({"score_kind": kind, "relu": relu, "upsampling": "bilinear, half-pixel centres", "seed": seed})
    params.update(eigen_params(method, eigen_smooth))
    explanations: list[Explanation] = []
    starts = range(0, len(images), size)

    def build(index: int) -> tuple:
        start = starts[index]
        return as_float_input(images[start:start + size], predictor.keras_model), encoded[start:start + size]

    def call(index: int, batch: tuple) -> list[np.ndarray]:
        return [t.numpy() for t in graph.gradients(*batch)]

    def consume(index: int, result: list[np.ndarray]) -> None:
        start = starts[index]
        chunk = images[start:start + size]
        activations, scores, gradients, resolved_targets = result
        if resolved.is_tokens:
            activations = tokens_to_grid(activations, reshape)
            gradients = tokens_to_grid(gradients, reshape)
        maps = cam_map(method, activations, gradients, eigen_smooth)
        if relu:
            maps = np.maximum(maps, 0.0)
        heatmaps = cam_maps.upsample(maps, chunk.shape[1:3])
        for i in range(len(chunk)):
            for k in range(counts[start + i]):
                target = int(resolved_targets[i, k])
                explanations.append(Explanation(
                    image=chunk[i], method=method, target=target, heatmap=heatmaps[i, k],
                    target_name=predictor.class_name(target), score=float(scores[i, target]),
                    feature_map=maps[i, k].astype(np.float32), params=dict(params)))

    run_in_batches(build, call, len(starts), consume, verbose=verbose, desc=method)
    return finish(explanations)


def run_cam_with_options(method: str, predictor, images: np.ndarray, *, targets: Any = None, top_labels: Any = None,
                         verbose: Any = 1, layer: Any = None, aug_smooth: Any = False, **options) -> list[Explanation]:
    """:func:`run_cam` with ``aug_smooth`` and layer lists (:func:`.cam_options.run_with_cam_options`).

    Examples
    --------
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> from superexplain.models import as_predictor
    >>> e = run_cam_with_options("hirescam", as_predictor(load_demo_model()), make_shapes(1, seed=0).images,
    ...                          layer=["last_conv"], verbose=0)[0]
    >>> e.params["layer"]
    'last_conv'
    """
    def once(predictor, images, *, targets, top_labels, verbose, layer, **rest):
        return run_cam(method, predictor, images, targets=targets, top_labels=top_labels, verbose=verbose,
                       layer=layer, **rest)

    return run_with_cam_options(once, predictor, images, targets=targets, top_labels=top_labels, verbose=verbose,
                                layer=layer, aug_smooth=aug_smooth, **options)


def run_gradcam(predictor, images, *, targets: Any = None, top_labels: Any = None, random_state: Any = None,
                verbose: Any = 1, layer: Any = None, score: str = "logit", relu: bool = True, batch_size: Any = None,
                reshape: Any = None, aug_smooth: bool = False, eigen_smooth: bool = False) -> list[Explanation]:
    """Grad-CAM (Selvaraju et al. 2017, arXiv 1610.02391) for a validated batch; see :class:`.GradCAM`.

    Options: ``layer`` (None = automatic), ``score`` ("logit" or "probability"), ``relu``
    (False keeps the signed map), ``batch_size`` (images per compiled call, default 32),
    ``reshape`` (tokens -> grid for a transformer layer; see :class:`.GradCAM`). ``random_state``
    is accepted and recorded (the method draws no random numbers).

    ``layer`` may also be a list of layers: their maps are fused (each divided by its own
    maximum, then the element-wise maximum; see :func:`.cam_options.run_with_cam_options`).
    ``aug_smooth`` (True, or a list of ``(horizontal_flip, multiplier)`` pairs): the mean of the
    maps of 6 augmented copies (identity and horizontal flip x pixel multipliers 0.9, 1.0, 1.1),
    each flipped back, with the targets resolved once on the original image.
    ``eigen_smooth``: the map is the projection of the weighted activations (alpha_k A^k here)
    on their first principal component instead of their channel sum
    (:func:`.cam_weighted.eigen_projection`, which documents the sign rule).

    Examples
    --------
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> from superexplain.models import as_predictor
    >>> explanations = run_gradcam(as_predictor(load_demo_model()), make_shapes(2, seed=0).images,
    ...                            top_labels=2, relu=False, verbose=0)
    >>> len(explanations), explanations[0].params["score_kind"]
    (4, 'logit')
    """
    return run_cam_with_options("gradcam", predictor, images, targets=targets, top_labels=top_labels,
                                random_state=random_state, verbose=verbose, layer=layer, score=score, relu=relu,
                                batch_size=batch_size, reshape=reshape, aug_smooth=aug_smooth,
                                eigen_smooth=eigen_smooth)


def run_gradcam_plus_plus(predictor, images, *, targets: Any = None, top_labels: Any = None,
                          random_state: Any = None, verbose: Any = 1, layer: Any = None, score: str = "logit",
                          relu: bool = True, batch_size: Any = None, reshape: Any = None, aug_smooth: bool = False,
                          eigen_smooth: bool = False) -> list[Explanation]:
    """Grad-CAM++ (Chattopadhay et al. 2018, arXiv 1710.11063); options as :func:`run_gradcam`.

    Examples
    --------
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> from superexplain.models import as_predictor
    >>> run_gradcam_plus_plus(as_predictor(load_demo_model()), make_shapes(1, seed=0).images, verbose=0)[0].method
    'gradcam++'
    """
    return run_cam_with_options("gradcam++", predictor, images, targets=targets, top_labels=top_labels,
                                random_state=random_state, verbose=verbose, layer=layer, score=score, relu=relu,
                                batch_size=batch_size, reshape=reshape, aug_smooth=aug_smooth,
                                eigen_smooth=eigen_smooth)


def run_layercam(predictor, images, *, targets: Any = None, top_labels: Any = None, random_state: Any = None,
                 verbose: Any = 1, layer: Any = None, score: str = "logit", relu: bool = True, batch_size: Any = None,
                 reshape: Any = None, aug_smooth: bool = False, eigen_smooth: bool = False) -> list[Explanation]:
    """LayerCAM (Jiang et al. 2021, IEEE TIP 30); options as :func:`run_gradcam`.

    Examples
    --------
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> from superexplain.models import as_predictor
    >>> run_layercam(as_predictor(load_demo_model()), make_shapes(1, seed=0).images, verbose=0)[0].feature_map.shape
    (8, 8)
    """
    return run_cam_with_options("layercam", predictor, images, targets=targets, top_labels=top_labels,
                                random_state=random_state, verbose=verbose, layer=layer, score=score, relu=relu,
                                batch_size=batch_size, reshape=reshape, aug_smooth=aug_smooth,
                                eigen_smooth=eigen_smooth)
