"""Grad-CAM, Grad-CAM++ and LayerCAM: the registry's run functions, one compiled gradient call per batch of images."""
from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_choice, resolve_seed
from ..explanation import Explanation
from ..models.batching import run_in_batches
from . import cam_maps
from .cam_common import check_batch_size, check_relu, encode_targets, layer_params
from .cam_graph import cam_graph
from .layers import ResolvedLayer, resolve_layer
from .tokens import tokens_to_grid

__all__ = ["run_gradcam", "run_gradcam_plus_plus", "run_layercam"]


def run_cam(method: str, predictor, images: np.ndarray, *, targets: Any = None, top_labels: Any = None,
             random_state: Any = None, verbose: Any = 1, layer: Any = None, score: str = "logit",
             relu: bool = True, batch_size: Any = None, reshape: Any = None) -> list[Explanation]:
    from ..models.keras_model import as_float_input

    check_choice(score, "score", ("logit", "probability"))
    relu = check_relu(relu)
    size = check_batch_size(batch_size)
    seed = None if random_state is None else resolve_seed(random_state)  # deterministic: nothing to seed
    predictor.score_function(score)  # the TypeError for plain callables comes first
    resolved = layer if isinstance(layer, ResolvedLayer) else resolve_layer(predictor.keras_model, layer, reshape)
    graph, kind = cam_graph(predictor, resolved, score)
    encoded, counts = encode_targets(predictor, len(images), targets, top_labels)
    combine = cam_maps.CAM_VARIANTS[method]
    params = layer_params(resolved, reshape)
    params.update({"score_kind": kind, "relu": relu, "upsampling": "bilinear, half-pixel centres", "seed": seed})
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
        maps = combine(activations, gradients)
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
    return explanations


def run_gradcam(predictor, images, *, targets: Any = None, top_labels: Any = None, random_state: Any = None,
                verbose: Any = 1, layer: Any = None, score: str = "logit", relu: bool = True, batch_size: Any = None,
                reshape: Any = None) -> list[Explanation]:
    """Grad-CAM (Selvaraju et al. 2017, arXiv 1610.02391) for a validated batch; see :class:`.GradCAM`.

    Options: ``layer`` (None = automatic), ``score`` ("logit" or "probability"), ``relu``
    (False keeps the signed map), ``batch_size`` (images per compiled call, default 32),
    ``reshape`` (tokens -> grid for a transformer layer; see :class:`.GradCAM`). ``random_state``
    is accepted and recorded (the method draws no random numbers).

    Examples
    --------
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> from superexplain.models import as_predictor
    >>> explanations = run_gradcam(as_predictor(load_demo_model()), make_shapes(2, seed=0).images,
    ...                            top_labels=2, relu=False, verbose=0)
    >>> len(explanations), explanations[0].params["score_kind"]
    (4, 'logit')
    """
    return run_cam("gradcam", predictor, images, targets=targets, top_labels=top_labels, random_state=random_state,
                    verbose=verbose, layer=layer, score=score, relu=relu, batch_size=batch_size, reshape=reshape)


def run_gradcam_plus_plus(predictor, images, *, targets: Any = None, top_labels: Any = None,
                          random_state: Any = None, verbose: Any = 1, layer: Any = None, score: str = "logit",
                          relu: bool = True, batch_size: Any = None, reshape: Any = None) -> list[Explanation]:
    """Grad-CAM++ (Chattopadhay et al. 2018, arXiv 1710.11063); options as :func:`run_gradcam`.

    Examples
    --------
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> from superexplain.models import as_predictor
    >>> run_gradcam_plus_plus(as_predictor(load_demo_model()), make_shapes(1, seed=0).images, verbose=0)[0].method
    'gradcam++'
    """
    return run_cam("gradcam++", predictor, images, targets=targets, top_labels=top_labels, random_state=random_state,
                    verbose=verbose, layer=layer, score=score, relu=relu, batch_size=batch_size, reshape=reshape)


def run_layercam(predictor, images, *, targets: Any = None, top_labels: Any = None, random_state: Any = None,
                 verbose: Any = 1, layer: Any = None, score: str = "logit", relu: bool = True, batch_size: Any = None,
                 reshape: Any = None) -> list[Explanation]:
    """LayerCAM (Jiang et al. 2021, IEEE TIP 30); options as :func:`run_gradcam`.

    Examples
    --------
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> from superexplain.models import as_predictor
    >>> run_layercam(as_predictor(load_demo_model()), make_shapes(1, seed=0).images, verbose=0)[0].feature_map.shape
    (8, 8)
    """
    return run_cam("layercam", predictor, images, targets=targets, top_labels=top_labels, random_state=random_state,
                    verbose=verbose, layer=layer, score=score, relu=relu, batch_size=batch_size, reshape=reshape)
