"""`rank_layers`: which layer's CAM is most faithful to the model, measured, not assumed.

Every candidate's activations and gradients come from one compiled forward and backward pass (one
sub-model with an output per candidate); the maps are then scored with the batched deletion or
insertion curves of :mod:`superexplain.metrics` (logit), or against an occlusion map.
"""
from __future__ import annotations

from typing import Any, cast

import numpy as np

from .._progress import progress
from .._validation import check_choice, describe, resolve_seed
from ..gradcam.cam_common import check_relu, encode_targets
from ..gradcam.cam_weighted import WEIGHTED_VARIANTS
from ..gradcam.class_maps import class_map_layers
from ..gradcam.layer_candidates import resolve_candidates
from ..gradcam.multi_layer import cams_at_layers
from .ranking import METRICS, LayerRanking

__all__ = ["rank_layers", "rank_for_explain", "RANKED_METHODS"]

#: The CAMs the advisor ranks: the gradient CAMs in one pass, Score-CAM and Ablation-CAM by their own runs.
RANKED_METHODS = tuple(WEIGHTED_VARIANTS) + ("scorecam", "ablationcam")


def _score(metric: str, predictor, images: np.ndarray, maps: list, reference: list | None, step: Any,
           seed: int | None) -> np.ndarray:
    from ..metrics import deletion, insertion
    from ..metrics.agreement import similarity

    if metric == "occlusion":
        return np.array([similarity(m.heatmap, r.heatmap, "spearman") for m, r in zip(maps, cast(list, reference))])
    curve = deletion if metric == "deletion" else insertion
    return np.asarray(curve(predictor, images, maps, step=step, score="logit", random_state=seed).aucs, float)


def _automatic_name(model) -> str | None:
    """The layer ``layer=None`` would use (its class-map warning is for explaining, not for ranking)."""
    from ..gradcam.layers import resolve_layer

    try:
        return resolve_layer(model, warn=False).name
    except (TypeError, ValueError):  # no spatial layer, or a subclassed model (it has no automatic layer)
        return None


def rank_layers(model: Any, images: Any, target: Any = None, *, method: str = "gradcam", metric: str = "insertion",
                candidates: Any = None, relu: bool = True, step: int | None = None, random_state: Any = 0,
                verbose: int | bool = 0) -> LayerRanking:
    """Rank the layers a CAM could explain by how faithful each layer's map is to the model.

    "Use the last convolutional layer" can be wrong: on a model whose last convolution is a class
    map (one channel per class, then global pooling), Grad-CAM there is the class map itself, which
    may point away from the evidence that occlusion finds. This measures instead: each candidate's
    map is scored on ``images`` and the layers are returned best first.

    Parameters
    ----------
    model : keras.Model, path or Predictor
        A Functional or Sequential Keras model (nested backbones included), or a subclassed one with
        ``candidates=`` given (each candidate then runs the method once; see :mod:`.subclassed`).
    images : array_like (N, H, W, C) or one image
        The images to score on. Choosing a layer on the very images you then show is selection: rank
        on held-out (calibration) images and pass ``layer=ranking.best`` when explaining others.
    target : int, str or list, optional
        The class per image (default: each image's top class).
    method : str
        A gradient CAM (``"gradcam"``, ``"gradcam++"``, ``"layercam"``, ``"hirescam"``, ``"xgradcam"``,
        ``"gradcam_elementwise"``, ``"eigencam"``, ``"eigengradcam"``): every candidate's map from one
        pass. Another CAM (``"scorecam"``, ``"ablationcam"``) runs once per candidate.
    metric : {"insertion", "deletion", "occlusion"}
        ``"insertion"`` (default): the area under the target's **logit** as the map's most relevant
        pixels are revealed on a blurred copy of the image (RISE, arXiv 1806.07421); higher is better.
        The logit rather than the probability, because a confident model's probability saturates and
        would not separate the layers. ``"deletion"``: the pixels are set to 0 instead; lower is better.
        Deletion is not the default because setting pixels to 0 leaves the images the model was trained
        on: the logit can fall far below its value on any real image, and a map that happens to find
        such pixels wins. On the rolled-CNN test (a demo CNN whose last feature map is rolled by half
        its grid), deletion ranked an early layer first with an interval 30 logits wide, while
        insertion and occlusion both ranked the layers before the roll first and the rolled one last.
        ``"occlusion"``: Spearman correlation with an occlusion map of the same image (Zeiler &
        Fergus, arXiv 1311.2901): agreement with a direct, model-agnostic measurement; higher is better.
    candidates : list, optional
        Layers to compare (names, paths, indices or layer objects). Default: the last spatial layer of
        each resolution stage plus the last four spatial layers
        (:func:`~superexplain.gradcam.layer_candidates.default_candidates`).
    relu : bool
        The CAMs' final ReLU, as for the methods.
    step : int, optional
        Pixels per step of the curves (default: 1/64 of the image).
    random_state : int
        Breaks ties in the curves' order.
    verbose : int or bool
        A progress bar over the candidates.

    Returns
    -------
    LayerRanking
        ``.layers`` (best first), ``.scores``, ``.values`` (per image), ``.best``, ``.class_maps``,
        a table as its ``repr``, ``.plot()``.

    Examples
    --------
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> from superexplain.gradcam import rank_layers
    >>> ranking = rank_layers(load_demo_model(), make_shapes(2, seed=0).images, candidates=["conv1", "last_conv"])
    >>> sorted(ranking.layers), ranking.values.shape
    (['conv1', 'last_conv'], (2, 2))
    """
    from ..models import as_predictor
    from ..models.graph import traceable
    from ..models.targets import Named

    method = check_choice(method, "method", RANKED_METHODS)
    metric = check_choice(metric, "metric", tuple(METRICS))
    relu = check_relu(relu)
    seed = resolve_seed(random_state)
    if callable(target):
        raise TypeError(f"rank_layers takes a class target (int, name or one per image); got {describe(target)}")
    predictor = as_predictor(model)
    if predictor.keras_model is None:
        raise TypeError(f"rank_layers needs a Keras model; got {describe(model)}")
    batch, _ = predictor.check_images(images, "images")
    layers = resolve_candidates(predictor.keras_model, candidates)
    named = None if target is None else Named(target, "target")
    if isinstance(target, (list, tuple)) and any(isinstance(t, (list, tuple)) for t in target):
        raise ValueError("rank_layers scores one target per image; give target= as one class per image")
    one_pass = method in WEIGHTED_VARIANTS and traceable(predictor.keras_model)
    if one_pass:
        encoded = encode_targets(predictor, len(batch), named, None)[0][:, :1]
    else:
        from ..registry import method_function

        run = method_function(method)
    with progress(len(layers) + 1, "rank_layers", verbose) as bar:
        if one_pass:
            maps = cams_at_layers(method, predictor, batch, encoded, layers, relu)
        else:  # Score-CAM, Ablation-CAM, a subclassed model: the method's own run per candidate
            maps = {layer.name: run(predictor, batch, targets=named, top_labels=None, random_state=seed, verbose=0,
                                    layer=layer.name, relu=relu)
                    for layer in layers}
        bar.update()
        first = maps[layers[0].name]
        reference = None
        if metric == "occlusion":
            from ..registry import method_function

            reference = method_function("occlusion")(predictor, batch, targets=[[e.target] for e in first],
                                                     top_labels=None, random_state=seed, verbose=0)
        values = []
        for layer in layers:
            values.append(_score(metric, predictor, batch, maps[layer.name], reference, step, seed))
            bar.update()
    table = np.array(values)
    means = np.nanmean(table, axis=1)
    order = np.argsort(-means if METRICS[metric][1] else means, kind="stable")
    return LayerRanking(layers=[layers[i].name for i in order], scores=means[order], values=table[order],
                        metric=metric, method=method,
                        class_maps=class_map_layers(predictor.keras_model, layers, predictor.num_classes),
                        automatic=_automatic_name(predictor.keras_model), explanations=maps)


def rank_for_explain(predictor, images, method: str, target: Any, top_labels: Any, random_state: Any,
                     options: dict) -> LayerRanking:
    """``explain(..., layer="best")``: the ranking on the explained images, or a ValueError that says how to rank."""
    if method not in RANKED_METHODS:
        raise ValueError(f'layer="best" ranks the layers of {", ".join(RANKED_METHODS)}; method {method!r} cannot '
                         "use it. Give layer= a layer name")
    several = isinstance(target, list) and any(isinstance(t, (list, tuple)) for t in target)
    if top_labels is not None or callable(target) or several:
        raise ValueError('layer="best" ranks the layers for one class per image; give target= as a class (or one per '
                         "image), or rank with superexplain.gradcam.rank_layers and give layer=ranking.best")
    seed = random_state if isinstance(random_state, int) else 0
    return rank_layers(predictor, images, target, method=method, relu=options.get("relu", True), random_state=seed)
