"""Data randomisation test (Adebayo et al., arXiv 1810.03292, section 4): does the explanation depend on the labels?"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from .._progress import progress
from .._validation import check_choice, check_float, describe, seeded_rng
from ..metrics.agreement import similarity as _similarity
from ..metrics.score_results import ScoreResult
from ._methods import explainer, image_targets, method_label

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["data_randomization", "DataRandomizationResult"]

#: The default similarity measures (HOG can be added: ``similarity=(..., "hog")``).
DEFAULT_SIMILARITIES = ("spearman_abs", "spearman", "ssim")


@dataclass
class DataRandomizationResult:
    """What :func:`superexplain.sanity.data_randomization` found.

    Attributes
    ----------
    scores : dict
        ``{measure: ScoreResult}``; each holds the per-image similarity between the true-label and
        the random-label model's maps for the method and for the ``"edge"`` control (always 1).
        Lower is better: a method that explains what the model learnt changes with the labels.
    original, maps : ndarray (n_images, H, W)
        The heatmaps of the true-label and of the random-label model.
    images : ndarray (n_images, H, W, C)
    train_accuracy : dict
        ``{"true": ..., "random": ...}``: each model's accuracy on the labels it was trained on.
    params : dict
        ``method``, ``seed``, ``targets``, ``permutation`` (label i of the random model is
        ``labels[permutation[i]]``).

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.metrics import ScoreResult
    >>> from superexplain.sanity import DataRandomizationResult
    >>> scores = {"spearman": ScoreResult("spearman", {"gradcam": [0.1, 0.3], "edge": [1.0, 1.0]}, False)}
    >>> r = DataRandomizationResult(scores, np.zeros((2, 4, 4)), np.zeros((2, 4, 4)), np.zeros((2, 4, 4, 3)),
    ...                             {"true": 1.0, "random": 0.95}, {"method": "gradcam"})
    >>> r.mean(), r.control()
    ({'spearman': 0.2}, {'spearman': 1.0})
    """

    scores: dict
    original: np.ndarray
    maps: np.ndarray
    images: np.ndarray
    train_accuracy: dict
    params: dict = field(default_factory=dict)

    @property
    def method(self) -> str:
        return str(self.params.get("method", next(iter(self.scores.values())).methods[0]))

    def similarities(self, measure: str) -> np.ndarray:
        """The method's per-image similarity for one measure, (n_images,)."""
        return self.scores[measure].values[self.scores[measure].methods[0]]

    def mean(self) -> dict:
        """Per measure, the method's mean similarity over images."""
        return {name: result.score for name, result in self.scores.items()}

    def interval(self) -> dict:
        """Per measure, the 95% bootstrap interval of the method's mean similarity."""
        return {name: result.interval for name, result in self.scores.items()}

    def control(self) -> dict:
        """Per measure, the edge control's mean similarity (1 by construction: it ignores the model)."""
        return {name: result.scores["edge"] for name, result in self.scores.items()}

    def plot(self, max_images: int = 4, figsize: tuple | None = None) -> Figure:
        """Per image: the image, the true-label map and the random-label map, titled with the similarities.

        Returns the matplotlib Figure.
        """
        import matplotlib.pyplot as plt

        rows = min(int(max_images), len(self.original))
        figure, axes = plt.subplots(rows, 3, figsize=figsize or (7.5, 2.6 * rows), squeeze=False)
        for row in range(rows):
            image = self.images[row]
            axes[row, 0].imshow(np.clip(image[..., 0] if image.shape[-1] == 1 else image[..., :3], 0, 1),
                                cmap="gray" if image.shape[-1] == 1 else None)
            axes[row, 1].imshow(np.abs(self.original[row]), cmap="inferno")
            axes[row, 2].imshow(np.abs(self.maps[row]), cmap="inferno")
            text = ", ".join(f"{name} {self.similarities(name)[row]:.2f}" for name in self.scores)
            axes[row, 0].set_title(f"image {row}", fontsize="small")
            axes[row, 1].set_title(f"true labels (acc {self.train_accuracy['true']:.2f})", fontsize="small")
            axes[row, 2].set_title(f"random labels (acc {self.train_accuracy['random']:.2f})\n{text}",
                                   fontsize="x-small")
            for ax in axes[row]:
                ax.set_axis_off()
        figure.suptitle(f"{self.method}: data randomisation (lower similarity passes)", fontsize="medium")
        figure.tight_layout()
        return figure


def _check_labels(labels: Any, n_images: int) -> np.ndarray:
    if isinstance(labels, (str, bytes)) or labels is None:
        raise TypeError(f"labels must be an array of class indices (N,) or one-hot rows (N, C); got {describe(labels)}")
    array = np.array(labels)  # a copy: the user's labels are never touched
    if array.ndim not in (1, 2) or array.dtype.kind not in "iuf":
        raise ValueError(f"labels must be class indices (N,) or one-hot rows (N, C); got {describe(array)}")
    if len(array) != n_images:
        raise ValueError(f"labels must hold one label per image ({n_images}); got {len(array)}")
    classes = array.argmax(axis=1) if array.ndim == 2 else array
    if array.ndim == 1 and (array.dtype.kind == "f" and not np.all(array == np.round(array))):
        raise ValueError("labels as a 1-D array must be whole class indices; got fractional values")
    if len(np.unique(classes)) < 2:
        raise ValueError("labels must hold at least two classes: permuting a single class changes nothing")
    return array


def _trained(model: Any) -> Any:
    if model is None or isinstance(model, (str, bytes, np.ndarray)) or not callable(model):
        raise TypeError(f"build_and_train returned {describe(model)}; it must return a trained model "
                        "(a keras.Model or a callable images -> scores)")
    return model


def _train_accuracy(predictor, images: np.ndarray, labels: np.ndarray) -> float:
    classes = labels.argmax(axis=1) if labels.ndim == 2 else labels.astype(np.int64)
    return float(np.mean(predictor.predict(images, validate=False).argmax(axis=1) == classes))


def data_randomization(build_and_train: Callable, images: Any, labels: Any, method: Any = "gradcam", *,
                       explain_images: Any = None, model: Any = None, similarity: Any = DEFAULT_SIMILARITIES,
                       targets: Any = None, min_train_accuracy: float = 0.9, random_state: Any = None,
                       verbose: int | bool = 0, **method_options: Any) -> DataRandomizationResult:
    """Train on permuted labels and measure how much the explanation changes.

    The data randomisation test of Adebayo et al. (arXiv 1810.03292, section 4): the training
    labels are permuted, a model of the same architecture is trained on them until it memorises
    them, and the explanations of the same images, for the same class, are compared with those of
    the model trained on the true labels. A method whose maps stay alike (high similarity) does
    not depend on the relation between images and labels the model learnt -- the paper finds
    Guided Backprop failing this way, and Gradient and Grad-CAM passing (low similarity).

    Both models are trained by ``build_and_train`` with the same seed, so the labels are the only
    difference between them. The edge control (a Sobel map that ignores the model) is run along:
    its similarity is exactly 1, the reading of a method that ignores the model.

    Parameters
    ----------
    build_and_train : callable
        ``(images, labels, seed) -> keras.Model`` (or any model superexplain accepts): your own
        training function. It receives copies. For the demo CNN use
        :func:`superexplain.datasets.train_on_labels`.
    images : array_like (N, H, W, C)
        The training images.
    labels : array_like
        Class indices (N,) or one-hot rows (N, C); permuted with a seeded Generator.
    method : str or callable
        A method name of :func:`superexplain.explain`, ``"edge"``, or a callable
        ``(keras_model, images, targets=...) -> list of Explanations or (H, W) maps``.
    explain_images : array_like, optional
        The images to explain (default: the first 8 of ``images``).
    model : keras.Model, optional
        The model already trained on the true labels (then only the random-label model is trained).
    similarity : sequence of str
        Among ``"spearman_abs"``, ``"spearman"``, ``"ssim"``, ``"hog"``.
    targets : int, str or list, optional
        Classes to explain (default: the true-label model's top class per image).
    min_train_accuracy : float
        A ``UserWarning`` is issued when the random-label model's accuracy on its own labels is
        below this: it has not memorised them, and the test is weak.
    random_state : int, Generator or None
        Seeds the permutation, the training seed and the method; recorded in ``params["seed"]``.
    verbose : int or bool
        Progress bar over the four steps (two trainings, two explanation runs).
    **method_options
        Passed to the method.

    Returns
    -------
    DataRandomizationResult
        ``.scores`` ``{measure: ScoreResult}`` (method and edge control), ``.mean()``,
        ``.interval()``, ``.train_accuracy``, ``.original`` and ``.maps``, ``.plot()``.

    References
    ----------
    J. Adebayo, J. Gilmer, M. Muelly, I. Goodfellow, M. Hardt, B. Kim. Sanity Checks for Saliency
    Maps. NeurIPS 2018, arXiv:1810.03292 (section 4; code: ``src/train_cnn_models.py``).

    Examples
    --------
    A tiny Dense model on 8x8 images; with the demo CNN, pass
    ``superexplain.datasets.train_on_labels`` and ``make_shapes(...)`` images and labels instead.

    >>> import keras, numpy as np
    >>> from superexplain.sanity import data_randomization
    >>> def build_and_train(images, labels, seed):
    ...     keras.utils.set_random_seed(seed)
    ...     model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(2)])
    ...     model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    ...     model.fit(images, labels, epochs=2, verbose=0)
    ...     return model
    >>> rng = np.random.default_rng(0)
    >>> images, labels = rng.random((16, 8, 8, 1)).astype("float32"), np.arange(16) % 2
    >>> result = data_randomization(build_and_train, images, labels, method="saliency",
    ...                             min_train_accuracy=0.0, random_state=0)
    >>> sorted(result.mean()), result.control()["spearman_abs"]
    (['spearman', 'spearman_abs', 'ssim'], 1.0)
    """
    from ..metrics.agreement import SIMILARITIES
    from ..models import as_predictor

    if not callable(build_and_train):
        raise TypeError(f"build_and_train must be a callable (images, labels, seed) -> model; "
                        f"got {describe(build_and_train)}")
    measures = [similarity] if isinstance(similarity, str) else list(similarity)
    if not measures:
        raise ValueError("similarity must name at least one measure")
    for measure in measures:
        check_choice(measure, "similarity", SIMILARITIES)
    threshold = check_float(min_train_accuracy, "min_train_accuracy", 0.0, 1.0)
    if isinstance(images, (str, bytes)) or images is None:
        raise TypeError(f"images must be a batch of training images (N, H, W, C); got {describe(images)}")
    train_images = np.array(images, dtype=np.float32)  # a copy, handed to build_and_train
    if train_images.ndim != 4:
        raise ValueError(f"images must be a batch of training images (N, H, W, C); got shape {train_images.shape}")
    true_labels = _check_labels(labels, len(train_images))
    run = explainer(method)
    rng, seed = seeded_rng(random_state)
    permutation = rng.permutation(len(true_labels))
    train_seed, method_seed = (int(s) for s in rng.integers(0, 2**31 - 1, size=2))
    random_labels = true_labels[permutation]
    with progress(4, "data randomisation", verbose) as bar:
        if model is None:
            model = _trained(build_and_train(train_images.copy(), true_labels.copy(), train_seed))
        bar.update()
        random_model = _trained(build_and_train(train_images.copy(), random_labels.copy(), train_seed))
        bar.update()
        true_predictor, random_predictor = as_predictor(model), as_predictor(random_model)
        chosen = train_images[:8] if explain_images is None else explain_images
        batch, _ = true_predictor.check_images(chosen, "explain_images")
        target_list = image_targets(true_predictor, batch, targets)
        original = np.stack(run(true_predictor, batch, target_list, method_seed, method_options))
        bar.update()
        randomized = np.stack(run(random_predictor, batch, target_list, method_seed, method_options))
        bar.update()
    accuracy = {"true": _train_accuracy(true_predictor, train_images, true_labels),
                "random": _train_accuracy(random_predictor, train_images, random_labels)}
    if accuracy["random"] < threshold:
        warnings.warn(f"the random-label model reaches {accuracy['random']:.3f} accuracy on its own labels "
                      f"(< min_train_accuracy={threshold}): it has not memorised them, so the test is weak; "
                      "train it longer", UserWarning, stacklevel=2)
    edge = explainer("edge")
    edge_true = edge(true_predictor, batch, target_list, method_seed, {})
    edge_random = edge(random_predictor, batch, target_list, method_seed, {})
    name = method_label(method)
    results = {}
    for measure in measures:
        values = {name: [_similarity(a, b, measure) for a, b in zip(original, randomized)]}
        values["edge"] = [_similarity(a, b, measure) for a, b in zip(edge_true, edge_random)]
        results[measure] = ScoreResult(f"data_randomization_{measure}", values, higher_is_better=False,
                                       params={"seed": seed, "measure": measure})
    params = {"method": name, "seed": seed, "targets": [int(t) for t in target_list],
              "permutation": permutation, "train_seed": train_seed}
    return DataRandomizationResult(scores=results, original=original, maps=randomized, images=batch,
                                   train_accuracy=accuracy, params=params)
