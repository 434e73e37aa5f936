"""Grad-CAM, Grad-CAM++ and LayerCAM: the registry's run functions and the `GradCAM` class."""
from __future__ import annotations

from typing import Any

import numpy as np

from .._progress import progress
from .._validation import check_choice, check_int, describe, resolve_seed
from ..models.targets import resolve_targets
from ..explanation import Explanation
from . import _cam
from ._graph import cam_graph
from .layers import ResolvedLayer, resolve_layer, token_grid, tokens_to_grid

__all__ = ["GradCAM", "run_gradcam", "run_gradcam_plus_plus", "run_layercam", "encode_targets"]

#: Images per compiled gradient call unless ``batch_size`` says otherwise.
DEFAULT_BATCH_SIZE = 32
CAM_METHODS = ("gradcam", "gradcam++", "layercam", "scorecam")


def check_relu(relu: Any) -> bool:
    """``relu`` must be a bool (a truthy string is more likely a mistake than a choice)."""
    if not isinstance(relu, (bool, np.bool_)):
        raise TypeError(f"relu must be True or False; got {describe(relu)}")
    return bool(relu)


def encode_targets(predictor, n_images: int, targets: Any, top_labels: Any) -> tuple[np.ndarray, list[int]]:
    """Targets as an int32 (N, K) array, ``-r`` standing for "the image's r-th best class", and the
    number of real targets per image.

    Explicit targets are validated here (indices, class names, one entry per image); an image
    given fewer targets than others is padded with its first one (the extra rows are dropped).
    """
    num_classes = predictor.num_classes
    if num_classes is None:
        raise ValueError("the model's number of classes is unknown (its output shape is not defined)")
    rows = resolve_targets(targets, num_classes, predictor.class_names, n_images=n_images, top_labels=top_labels)
    width = max(len(row) for row in rows)
    encoded = np.array([row + [row[0]] * (width - len(row)) for row in rows], dtype=np.int32)
    return encoded, [len(row) for row in rows]


def layer_params(resolved: ResolvedLayer, reshape: Any = None) -> dict:
    """What an Explanation records of its layer: the path, whether and why it was chosen automatically, token handling."""
    params = {"layer": resolved.name, "layer_automatic": resolved.automatic, "layer_reason": resolved.reason}
    if resolved.is_tokens:
        tokens = resolved.output_shape[1]
        if reshape is not None:
            params["tokens"] = f"{tokens} tokens, reshape= callable"
        else:
            side, leading = token_grid(tokens)
            params["tokens"] = f"{tokens} tokens as a {side}x{side} grid" + (", class token dropped" if leading else "")
    return params


def _check_batch_size(batch_size: Any) -> int:
    return DEFAULT_BATCH_SIZE if batch_size is None else check_int(batch_size, "batch_size", 1)


def _run_cam(method: str, predictor, images: np.ndarray, *, targets: Any = None, top_labels: Any = None,
             random_state: Any = None, verbose: Any = 1, layer: Any = None, score: str = "logit",
             relu: bool = True, batch_size: Any = None, reshape: Any = None) -> list[Explanation]:
    from ..models.keras_model import as_float_input

    check_choice(score, "score", ("logit", "probability"))
    relu = check_relu(relu)
    size = _check_batch_size(batch_size)
    seed = None if random_state is None else resolve_seed(random_state)  # deterministic: nothing to seed
    predictor.score_function(score)  # the TypeError for plain callables comes first
    resolved = layer if isinstance(layer, ResolvedLayer) else resolve_layer(predictor.keras_model, layer, reshape)
    graph, kind = cam_graph(predictor, resolved, score)
    encoded, counts = encode_targets(predictor, len(images), targets, top_labels)
    combine = _cam.CAM_VARIANTS[method]
    params = layer_params(resolved, reshape)
    params.update({"score_kind": kind, "relu": relu, "upsampling": "bilinear, half-pixel centres", "seed": seed})
    explanations: list[Explanation] = []
    starts = range(0, len(images), size)
    with progress(len(starts), method, verbose) as bar:
        for start in starts:
            chunk = images[start:start + size]
            activations, scores, gradients, resolved_targets = (
                t.numpy() for t in graph.gradients(as_float_input(chunk, predictor.keras_model), encoded[start:start + size]))
            if resolved.is_tokens:
                activations = tokens_to_grid(activations, reshape)
                gradients = tokens_to_grid(gradients, reshape)
            maps = combine(activations, gradients)
            if relu:
                maps = np.maximum(maps, 0.0)
            heatmaps = _cam.upsample(maps, chunk.shape[1:3])
            for i in range(len(chunk)):
                for k in range(counts[start + i]):
                    target = int(resolved_targets[i, k])
                    explanations.append(Explanation(
                        image=chunk[i], method=method, target=target, heatmap=heatmaps[i, k],
                        target_name=predictor.class_name(target), score=float(scores[i, target]),
                        feature_map=maps[i, k].astype(np.float32), params=dict(params)))
            bar.update()
    return explanations


def run_gradcam(predictor, images, **options) -> list[Explanation]:
    """Grad-CAM (Selvaraju et al. 2017, arXiv 1610.02391) for a validated batch; see :class:`GradCAM`.

    Options: ``layer`` (None = automatic), ``score`` ("logit" or "probability"), ``relu``
    (False keeps the signed map), ``batch_size`` (images per compiled call, default 32),
    ``reshape`` (tokens -> grid for a transformer layer; see :class:`GradCAM`).

    Examples
    --------
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> from superexplain.models import as_predictor
    >>> explanations = run_gradcam(as_predictor(load_demo_model()), make_shapes(2, seed=0).images,
    ...                            top_labels=2, relu=False, verbose=0)
    >>> len(explanations), explanations[0].params["score_kind"]
    (4, 'logit')
    """
    return _run_cam("gradcam", predictor, images, **options)


def run_gradcam_plus_plus(predictor, images, **options) -> list[Explanation]:
    """Grad-CAM++ (Chattopadhay et al. 2018, arXiv 1710.11063); options as :func:`run_gradcam`.

    Examples
    --------
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> from superexplain.models import as_predictor
    >>> run_gradcam_plus_plus(as_predictor(load_demo_model()), make_shapes(1, seed=0).images, verbose=0)[0].method
    'gradcam++'
    """
    return _run_cam("gradcam++", predictor, images, **options)


def run_layercam(predictor, images, **options) -> list[Explanation]:
    """LayerCAM (Jiang et al. 2021, IEEE TIP 30); options as :func:`run_gradcam`.

    Examples
    --------
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> from superexplain.models import as_predictor
    >>> run_layercam(as_predictor(load_demo_model()), make_shapes(1, seed=0).images, verbose=0)[0].feature_map.shape
    (8, 8)
    """
    return _run_cam("layercam", predictor, images, **options)


class GradCAM:
    """Class activation maps for a Keras image classifier: Grad-CAM, Grad-CAM++, LayerCAM or Score-CAM.

    Parameters
    ----------
    model : keras.Model or str
        A Functional or Sequential Keras 3 model (nested sub-models allowed), or a model file.
    layer : None, str, int or keras.layers.Layer
        The layer whose activations are mapped; None picks the last layer with a spatial output
        that the score depends on (see :func:`superexplain.gradcam.resolve_layer`). Nested layers
        are named by path, ``"backbone/conv5_block3_out"``.
    method : {"gradcam", "gradcam++", "layercam", "scorecam"}
    score : {"logit", "probability"}, optional
        ``"logit"`` explains the pre-softmax score when the model ends in a softmax/sigmoid (as
        the original Grad-CAM); ``"probability"`` the model's output. Default: ``"logit"``, and
        ``"probability"`` for Score-CAM (whose weights are the paper's softmax probabilities).
    relu : bool
        Apply the final ReLU (True, the papers' maps); False keeps the signed map.
    class_names : list or dict, optional
        Names for the classes (default: the model's ``class_names`` attribute, if any).
    batch_size : int, optional
        Images per compiled call (Score-CAM: masked images per model call).
    output : int or str, optional
        For a model with several outputs: the one holding the class scores (see
        :func:`superexplain.models.as_predictor`).
    reshape : callable, optional
        For a layer that outputs tokens (N, tokens, c), a vision transformer's: maps them to a grid
        (N, h, w, c). Without it a square token grid, with or without one leading class token, is
        reshaped automatically (said in ``params["tokens"]``).

    Examples
    --------
    >>> from superexplain import GradCAM
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> cam = GradCAM(load_demo_model())
    >>> explanation = cam.explain(make_shapes(1, seed=3).images[0])
    >>> explanation.params["layer"], explanation.feature_map.shape, explanation.heatmap.shape
    ('last_conv', (8, 8), (64, 64))
    """

    def __init__(self, model: Any, layer: Any = None, method: str = "gradcam", score: str | None = None,
                 relu: bool = True, class_names: Any = None, batch_size: int | None = None,
                 output: Any = None, reshape: Any = None) -> None:
        from ..models import as_predictor

        self.method = check_choice(method, "method", CAM_METHODS)
        if score is None:
            score = "probability" if self.method == "scorecam" else "logit"
        self.score = check_choice(score, "score", ("logit", "probability"))
        self.relu = check_relu(relu)
        self.batch_size = None if batch_size is None else check_int(batch_size, "batch_size", 1)
        self.predictor = as_predictor(model, class_names=class_names, output=output)
        self.predictor.score_function(score)  # plain callables are refused here, with the way out
        self.reshape = reshape
        self.layer = resolve_layer(self.predictor.keras_model, layer, reshape)

    def explain(self, images: Any, targets: Any = None, top_labels: int | None = None,
                verbose: int | bool = 0, **options: Any) -> Explanation | list[Explanation]:
        """Explain one image or a batch.

        Parameters
        ----------
        images : array_like
            One image (H, W[, C]) or a batch (N, H, W, C), in the model's input space.
        targets : None, int, str or list
            None: each image's top class; an index or class name for every image; or one entry
            (an index, a name, or a list of them) per image.
        top_labels : int, optional
            Explain each image's ``top_labels`` best classes (image-major, best first).
        verbose : int or bool
            Progress bar over batches.
        **options
            Method options (Score-CAM: ``channel_softmax``).

        Returns
        -------
        Explanation or list of Explanation
            One Explanation for one image and one target, else a list, image-major.

        Examples
        --------
        >>> from superexplain import GradCAM
        >>> from superexplain.datasets import load_demo_model, make_shapes
        >>> cam = GradCAM(load_demo_model(), method="layercam")
        >>> explanations = cam.explain(make_shapes(1, seed=4).images, top_labels=2)
        >>> len(explanations), explanations[0].score >= explanations[1].score
        (2, True)
        """
        if self.method == "scorecam":
            from .scorecam import run_scorecam as run
        else:
            run = {"gradcam": run_gradcam, "gradcam++": run_gradcam_plus_plus, "layercam": run_layercam}[self.method]
        batch, single = self.predictor.check_images(images, "images")
        explanations = run(
            self.predictor, batch, targets=targets, top_labels=top_labels, verbose=verbose,
            layer=self.layer, score=self.score,
            relu=self.relu, batch_size=self.batch_size, reshape=self.reshape, **options)
        if single and len(explanations) == 1:
            return explanations[0]
        return explanations

    def __repr__(self) -> str:
        return f"GradCAM(method={self.method!r}, layer={self.layer.name!r}, score={self.score!r})"
