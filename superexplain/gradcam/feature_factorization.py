"""Deep Feature Factorization (Collins et al. 2018, arXiv 1806.10206): NMF of a layer's activations into concepts."""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .._progress import progress
from .._validation import check_choice, check_int, resolve_seed
from ..explanation import Explanation
from . import cam_maps
from .cam_common import check_batch_size, check_relu, decode_target
from .cam_head import head_run

__all__ = ["run_feature_factorization", "factorize", "concept_scores", "DEFAULT_CONCEPTS", "TOP_CLASSES"]

#: Concepts per image unless ``n_concepts`` says otherwise.
DEFAULT_CONCEPTS = 4
#: Classes listed per concept in ``params["concepts"]["top_classes"]``.
TOP_CLASSES = 3


def factorize(activations: np.ndarray, n_concepts: int = DEFAULT_CONCEPTS, max_iter: int = 500) -> tuple:
    """Non-negative matrix factorisation of one image's activations (h, w, c) into ``n_concepts`` concepts.

    The activations, reshaped to V (h*w, c), are factorised as V ~ W H with scikit-learn's
    :class:`~sklearn.decomposition.NMF` (coordinate descent, deterministic "nndsvda"
    initialisation: no random draws). Returns ``(maps, embeddings, iterations)``: W as concept
    maps (k, h, w), H as concept embeddings (k, c), and the solver's iteration count (equal to
    ``max_iter`` where it stopped before converging). NMF fixes W H, not the scale of either
    factor alone. All-zero activations give all-zero maps and embeddings.

    Examples
    --------
    >>> maps = np.zeros((2, 2, 2)); maps[0, :, 0] = 1.0; maps[1, :, 1] = 3.0   # two concepts, one per row
    >>> concept_maps, embeddings, _ = factorize(maps, 2)
    >>> bool(np.allclose(np.einsum("khw,kc->hwc", concept_maps, embeddings), maps, atol=1e-4))
    True
    """
    from sklearn.decomposition import NMF
    from sklearn.exceptions import ConvergenceWarning

    height, width, channels = activations.shape
    matrix = np.asarray(activations, np.float64).reshape(height * width, channels)
    if not matrix.any():
        return np.zeros((n_concepts, height, width)), np.zeros((n_concepts, channels)), 0
    model = NMF(n_components=n_concepts, init="nndsvda", max_iter=max_iter, random_state=0)
    with warnings.catch_warnings():  # a solver stopping at max_iter is recorded in params, not printed
        warnings.simplefilter("ignore", ConvergenceWarning)
        weights = model.fit_transform(matrix)
    return weights.T.reshape(n_concepts, height, width), model.components_, int(model.n_iter_)


def concept_scores(head, activations, crossing: tuple, embeddings: np.ndarray) -> np.ndarray:
    """The model's scores (k, classes) for each concept: the head applied to activations equal to the
    concept's embedding at every location (every token of a token layer).

    ``head`` is a :class:`~superexplain.gradcam.cam_head.CamHead`; ``activations`` one image's
    (1, ..., c) and ``crossing`` its tensors crossing the cut, as ``head.forward`` returns them
    (a skip connection around the layer keeps carrying the image's own values). With a global
    average pooling + Dense head this is exactly Dense(embedding), pytorch-grad-cam's convention.

    Examples
    --------
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> from superexplain.gradcam import resolve_layer
    >>> from superexplain.gradcam.cam_head import cam_head
    >>> from superexplain.models import as_predictor
    >>> model = load_demo_model()
    >>> head, _ = cam_head(as_predictor(model), resolve_layer(model), "logit")
    >>> activations, crossing, _ = head.forward(make_shapes(1, seed=0).images)
    >>> concept_scores(head, activations, crossing, np.ones((2, 64))).shape
    (2, 4)
    """
    import tensorflow as tf

    count = len(embeddings)
    shape = (count,) + tuple(activations.shape[1:-1]) + (1,)
    filled = np.ones(shape, np.float32) * np.asarray(embeddings, np.float32).reshape(
        (count,) + (1,) * (len(shape) - 2) + (-1,))
    filled = tf.cast(filled, activations.dtype)
    repeated = tuple(tf.repeat(t, count, axis=0) for t in crossing)
    return head.scores(filled, repeated).numpy().astype(np.float64)


def run_feature_factorization(predictor, images: np.ndarray, *, targets: Any = None, top_labels: Any = None,
                              random_state: Any = None, verbose: Any = 1, layer: Any = None, score: str = "logit",
                              relu: bool = True, batch_size: Any = None, n_concepts: Any = DEFAULT_CONCEPTS,
                              max_iter: Any = 500, negative: str = "raise", reshape: Any = None) -> list[Explanation]:
    """Deep Feature Factorization (Collins et al. 2018, arXiv 1806.10206) for a validated batch (N, H, W, C).

    Per image, the layer's non-negative activations are factorised into ``n_concepts`` concepts
    (:func:`factorize`): concept maps (k, h, w) saying where each concept is, and embeddings
    (k, c) saying what it is. Each concept is scored by the model's head on activations equal
    to its embedding everywhere (:func:`concept_scores`). For each target, ``heatmap`` is the
    upsampled map of the concept scoring highest for the target (``params["concept"]`` is its
    index) and ``params["concepts"]`` holds every concept: ``"maps"`` (k, h, w),
    ``"class_scores"`` (k, classes), ``"top_classes"`` (each concept's best classes, best first)
    and ``"top_class_names"`` (their names, or None); see :func:`superexplain.plotting.plot_concepts`.

    Parameters
    ----------
    layer, reshape : as for Grad-CAM
        The factorised layer (automatic by default); tokens -> grid for a transformer layer.
    score : {"logit", "probability"}
        Units of the concepts' class scores (default: the pre-softmax logits).
    relu : bool
        Accepted for the CAMs' common interface; the maps are non-negative either way.
    batch_size : int
        Images per backbone call (default 32).
    n_concepts : int
        Concepts per image (default 4), at most min(h*w, c).
    max_iter : int
        Iterations of the NMF solver (``params["nmf_iterations"]`` records how many it used).
    negative : {"raise", "clip"}
        Activations below 0 (a layer without a ReLU): a ValueError, or clipped to 0 first.

    Examples
    --------
    >>> import superexplain
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> e = superexplain.explain(load_demo_model(), make_shapes(1, seed=1).images[0],
    ...                          method="feature_factorization", n_concepts=3, verbose=0)
    >>> len(e.params["concepts"]["maps"]), len(e.params["concepts"]["top_classes"][0])
    (3, 3)
    """
    if isinstance(layer, (list, tuple)):
        raise TypeError(f"feature_factorization factorises one layer's activations; layer must name one layer, not "
                        f"a list (fusing several layers' maps is for the other CAMs); got {list(layer)!r}")
    check_choice(score, "score", ("logit", "probability"))
    check_choice(negative, "negative", ("raise", "clip"))
    relu = check_relu(relu)
    size = check_batch_size(batch_size)
    concepts = check_int(n_concepts, "n_concepts", 1)
    iterations = check_int(max_iter, "max_iter", 1)
    seed = None if random_state is None else resolve_seed(random_state)  # deterministic: nothing to seed
    run = head_run(predictor, len(images), targets, top_labels, layer, score, reshape)
    predictor, head, encoded, counts = run.predictor, run.head, run.encoded, run.counts
    params = {**run.params, "relu": relu, "n_concepts": concepts,
              "nmf": "sklearn NMF, init nndsvda, coordinate descent", "negative": negative, "seed": seed}
    explanations: list[Explanation] = []
    with progress(len(images), "feature_factorization", verbose) as bar:
        for start, batch, activations, crossing, grids, scores in run.batches(images, size, np.float64):
            _check_grid(grids, concepts, negative, run.resolved.name)
            for i, image in enumerate(batch):
                maps, embeddings, used = factorize(np.maximum(grids[i], 0.0), concepts, iterations)
                crossing_i = tuple(t[i:i + 1] for t in crossing)
                class_scores = concept_scores(head, activations[i:i + 1], crossing_i, embeddings)
                top = np.argsort(-class_scores, axis=1, kind="stable")[:, :TOP_CLASSES]
                record = {"maps": maps.astype(np.float32).tolist(), "class_scores": class_scores.tolist(),
                          "top_classes": top.tolist(),
                          "top_class_names": [[predictor.class_name(int(c)) for c in row] for row in top]}
                for t in encoded[start + i, :counts[start + i]]:
                    target = decode_target(scores[i], t)
                    best = int(np.argmax(class_scores[:, target]))
                    explanations.append(Explanation(
                        image=image, method="feature_factorization", target=target,
                        heatmap=cam_maps.upsample(maps[best], image.shape[:2]),
                        target_name=predictor.class_name(target), score=float(scores[i, target]),
                        feature_map=maps[best].astype(np.float32),
                        params={**params, "nmf_iterations": used, "concept": best, "concepts": record}))
                bar.update()
    return run.finish(explanations)


def _check_grid(grids: np.ndarray, concepts: int, negative: str, name: str) -> None:
    height, width, channels = grids.shape[1:]
    if concepts > min(height * width, channels):
        raise ValueError(f"n_concepts must be at most min(h*w, c) = {min(height * width, channels)} for layer "
                         f"{name!r} ({height}x{width}, {channels} channels); got {concepts}")
    lowest = float(grids.min()) if grids.size else 0.0
    if negative == "raise" and lowest < 0.0:
        raise ValueError(f"feature_factorization needs non-negative activations (NMF), but layer {name!r} has "
                         f"values down to {lowest:.3g}; pick a layer after a ReLU, or pass negative='clip'")
