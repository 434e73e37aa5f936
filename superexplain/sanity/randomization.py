"""Model-parameter randomisation test (Adebayo et al., arXiv 1810.03292): does the explanation depend on the weights?"""
from __future__ import annotations

from typing import Any

import numpy as np

from .._progress import progress
from .._validation import check_choice, seeded_rng
from ..metrics.agreement import SIMILARITIES
from ..metrics.agreement import similarity as _similarity
from ._methods import CONTROLS, explainer, method_label
from ._reinit import check_layers, clone_with_weights, reinitialize_layer
from ._result import RandomizationResult

__all__ = ["model_randomization", "CONTROLS"]


def model_randomization(model: Any, images: Any, method: Any = "gradcam", mode: str = "cascading",
                        similarity: Any = SIMILARITIES, *, layers: Any = None,
                        reinit: str = "initializer", targets: Any = None, random_state: Any = None,
                        verbose: int | bool = 0, **method_options: Any) -> RandomizationResult:
    """Re-initialise the model's layers and measure how much the explanation changes.

    The model-parameter randomisation test of Adebayo et al. (arXiv 1810.03292): an explanation
    that reflects what the model learnt must change when the learnt weights are destroyed. Layers
    are re-initialised with their own initialisers (``kernel_initializer``, ``bias_initializer``,
    BatchNorm's ``gamma``/``beta``/moving-statistics initialisers), as in the paper's code, either
    cumulatively from the output down (``"cascading"``) or one at a time with the others left
    trained (``"independent"``). After each step the explanation of every image is recomputed for
    the same class and compared with the original one. All of this happens on a clone: the
    user's model is never modified.

    Parameters
    ----------
    model : keras.Model or path
        A Keras model (cloned with ``keras.models.clone_model``).
    images : array_like
        One image or a batch (N, H, W, C).
    method : str or callable
        A method name of :func:`superexplain.explain` (``"gradcam"``, ``"lime"``, ...), the control
        ``"edge"`` (a Sobel map that ignores the model; its similarity must stay 1), or a callable
        ``(keras_model, images, targets=...) -> list of Explanations or (H, W) maps``.
    mode : {"cascading", "independent"}
    similarity : sequence of str
        Among ``"spearman_abs"``, ``"spearman"``, ``"ssim"``, ``"hog"`` (the paper's four).
    layers : list of str, optional
        Names of the layers to randomise (default: every layer with weights), always taken from
        the output down.
    reinit : {"initializer", "permute"}
        Re-draw with the layer's initialisers (the paper), or permute each variable's entries
        (what Quantus's MPRT does; it keeps the weight distribution).
    targets : int, str or list, optional
        Classes to explain (default: the trained model's top class per image, kept fixed).
    random_state : int, Generator or None
        Seeds the re-initialisation and the method; recorded in ``params["seed"]``.
    verbose : int or bool
        Progress bar over randomisation steps.
    **method_options
        Passed to the method (e.g. ``num_samples=300`` for LIME).

    Returns
    -------
    RandomizationResult
        ``.layers`` (in the order randomised), ``.scores`` ``{measure: (len(layers), n_images)}``,
        ``.original`` and ``.maps`` (the heatmaps), and ``.plot()``.

    Raises
    ------
    ValueError
        When a layer cannot be re-initialised (a variable without an initialiser; the message
        names the layer and the variable) or the model cannot be cloned.

    Examples
    --------
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> from superexplain.sanity import model_randomization
    >>> result = model_randomization(load_demo_model(), make_shapes(2, seed=1).images, method="gradcam",
    ...                              random_state=0)
    >>> result.layers[0], result.scores["spearman_abs"].shape
    ('predictions', (8, 2))
    """
    from ..models import as_predictor

    mode = check_choice(mode, "mode", ("cascading", "independent"))
    reinit = check_choice(reinit, "reinit", ("initializer", "permute"))
    measures = [similarity] if isinstance(similarity, str) else list(similarity)
    for measure in measures:
        check_choice(measure, "similarity", SIMILARITIES)
    predictor = as_predictor(model)
    if predictor.keras_model is None:
        raise TypeError("model randomisation needs a Keras model (its layers are re-initialised); got a callable")
    batch, _ = predictor.check_images(images, "images")
    rng, seed = seeded_rng(random_state)
    method_seed = int(rng.integers(0, 2**31 - 1))
    run = explainer(method)
    clone = clone_with_weights(predictor.keras_model)
    chosen = check_layers(clone, layers)[::-1]  # from the output down
    trained = [np.array(w) for w in clone.get_weights()]
    clone_predictor = as_predictor(clone, class_names=predictor.class_names)
    if targets is None:
        target_list = np.argmax(clone_predictor.predict(batch, validate=False), axis=1)
    else:
        target_list = np.array([row[0] for row in clone_predictor.resolve_targets(
            targets, np.zeros((len(batch), clone_predictor.num_classes or 1), np.float32))])
    layer_seeds = rng.integers(0, 2**31 - 1, size=len(chosen))
    original = run(clone_predictor, batch, target_list, method_seed, method_options)
    scores = {m: np.empty((len(chosen), len(batch))) for m in measures}
    maps = []
    with progress(len(chosen), f"randomisation ({mode})", verbose) as bar:
        for step, layer in enumerate(chosen):
            if mode == "independent":
                clone.set_weights(trained)
            reinitialize_layer(layer, reinit, np.random.default_rng(int(layer_seeds[step])))
            current = run(clone_predictor, batch, target_list, method_seed, method_options)
            maps.append(np.stack(current))
            for measure in measures:
                scores[measure][step] = [_similarity(a, b, measure) for a, b in zip(original, current)]
            bar.update()
    params = {"mode": mode, "reinit": reinit, "seed": seed,
              "method": method_label(method),
              "targets": [int(t) for t in target_list]}
    return RandomizationResult(layers=[layer.name for layer in chosen], scores=scores, original=np.stack(original),
                               maps=np.stack(maps), images=batch, params=params)

