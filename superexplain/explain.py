"""`explain(model, image, method=...)`: one entry point that looks a method up in the registry and dispatches.

A method is a function ``run(predictor, images, *, targets, top_labels, random_state, verbose,
**options) -> list[Explanation]`` that receives a validated float32 batch (N, H, W, C) and returns
the explanations image-major, target-minor. Adding a method is one module and one entry in
:mod:`superexplain.registry`.
``targets`` arrives as a :class:`~superexplain.models.targets.Named` (the user's ``target`` and its
name, for error messages) or None: hand it to ``predictor.resolve_targets`` (or
:func:`superexplain.models.targets.resolve_targets`) as it is.
"""
from __future__ import annotations

from typing import Any, Callable

from .explanation import Explanation
from .models import as_predictor
from .models.targets import Named
from .registry import check_options, method_function

__all__ = ["explain"]

def explain(model: Any, image: Any, method: str = "gradcam", target: Any = None, *,
            top_labels: int | None = None, class_names: Any = None, random_state: Any = None,
            verbose: int | bool = 1, output: Any = None, batch: bool | None = None,
            **options: Any) -> Explanation | list[Explanation]:
    """Explain what ``model`` looked at in ``image``.

    Parameters
    ----------
    model : keras.Model, str, path or callable
        A Keras 3 model, a ``.keras``/``.h5`` file or SavedModel directory, or (for perturbation
        methods) any callable ``images (N, H, W, C) -> scores (N, classes)``.
    image : array_like
        One image (H, W) / (H, W, C), a batch (N, H, W, C) or (N, H, W) of grayscale images, or a
        list of images, in the model's input space (for a model taking ``uint8``: whole numbers
        in 0..255). See ``batch`` for how a rank-3 array is read.
    method : str
        A name of :data:`superexplain.registry.METHODS` (``superexplain.available_methods()``):
        the CAMs (``"gradcam"``, ``"gradcam++"``, ``"layercam"``, ``"hirescam"``,
        ``"gradcam_elementwise"``, ``"xgradcam"``, ``"eigencam"``, ``"eigengradcam"``,
        ``"scorecam"``, ``"ablationcam"``, ``"feature_factorization"``, ``"fullgrad"``), the pixel
        gradients (``"saliency"``, ``"gradient_input"``, ``"integrated_gradients"``,
        ``"smoothgrad"``, ``"vargrad"``, ``"guided_backprop"``) and the perturbation methods
        (``"lime"``, ``"kernelshap"``, ``"occlusion"``, ``"rise"``).
    target : int, str, list or score function, optional
        The class to explain: None (the top class), an index or class name for every image, or one
        entry (or a list of entries) per image. Or a score function of the model's output, for
        every image (:mod:`superexplain.targets`: ``Region(class_index, mask)`` for a segmentation
        model, ``Similarity(embedding)`` for an embedding model, or any callable
        ``outputs -> (batch,)`` written with ``keras.ops``).
    top_labels : int, optional
        Explain each image's ``top_labels`` best classes instead of ``target``.
    class_names : list or dict, optional
        Names for the model's classes (index -> name).
    random_state : int, Generator, None or sequence of int
        Seed for every random choice; the seed used is recorded in ``params``. The perturbation
        methods and SmoothGrad/VarGrad also take one int seed per image.
    verbose : int or bool
        Show a progress bar for long work.
    output : int or str, optional
        For a model with several outputs (a list or a dict): the index or name of the one holding
        the class scores; required there. A single sigmoid output is explained as two classes,
        0 = ``"positive"`` and 1 = ``"negative"`` (see :func:`superexplain.models.as_predictor`).
    batch : bool, optional
        Whether ``image`` is a batch. None (default) decides from its rank and the model's input
        spec: rank 2 is one grayscale image, rank 4 a batch, a list of arrays a batch; rank 3 is
        one (H, W, C) image when its last axis is a channel count the model takes (its own; 1, 3
        or 4 for a plain callable), else a batch of (N, H, W) grayscale images for a model taking
        one channel. Refused rather than guessed: a colour-looking (H, W, 3) array for a
        one-channel model (``batch=True`` reads it as grayscale images), and a
        channels-first-looking (3, H, W) array (``np.moveaxis(image, 0, -1)`` makes it one image;
        for a plain callable, where it also reads as three grayscale images, ``batch=True`` says so).
    **options
        Passed to the method (see each method's documentation). For the CAMs, ``layer="best"``
        runs the layer advisor (:func:`superexplain.gradcam.rank_layers`, insertion AUC of the
        logit) on these images, explains at the winner and records every candidate's score in
        ``params["layer_ranking"]``. Choosing on the images you show is selection: to avoid it,
        rank held-out images and pass ``layer=ranking.best``.

    Returns
    -------
    Explanation or list of Explanation
        One Explanation for one image and one target; otherwise a list, image-major.

    Examples
    --------
    >>> import superexplain
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> model, data = load_demo_model(), make_shapes(1, seed=7)
    >>> explanation = superexplain.explain(model, data.images[0], method="gradcam", verbose=0)
    >>> explanation.heatmap.shape
    (64, 64)
    """
    run = method_function(method)
    check_options(method, options)  # before the model is loaded: a misspelt option fails at once
    predictor = as_predictor(model, class_names=class_names, output=output)
    images, single = predictor.check_images(image, "image", batch=batch)
    if target is not None and top_labels is not None:
        raise ValueError(f"give either target or top_labels, not both; got target={target!r} and "
                         f"top_labels={top_labels!r}")
    # the method resolves the targets; Named makes its errors say target=, the name the user gave
    targets = None if target is None else Named(target, "target")
    ranking = None
    if isinstance(options.get("layer"), str) and options["layer"] == "best":
        ranking = _best_layer(predictor, images, method, target, top_labels, random_state, options)
        options["layer"] = ranking.best
    explanations = run(predictor, images, targets=targets, top_labels=top_labels,
                       random_state=random_state, verbose=verbose, **options)
    if ranking is not None:
        record = ranking.to_dict()
        for explanation in explanations:
            explanation.params["layer_ranking"] = record
            explanation.params["layer_reason"] = (f"best of {len(ranking.layers)} candidates by "
                                                  f"{record['label']} on the explained images")
    if single and len(explanations) == 1:
        return explanations[0]
    return explanations


#: The layer advisor ``layer="best"`` runs (:func:`superexplain.advisor.rank.rank_for_explain`), wired by the
#: package on import: the advisor scores maps with the metrics, which run ``explain`` themselves, so this
#: module cannot import it.
_LAYER_ADVISOR: list = []


def register_layer_advisor(rank: Callable) -> None:
    """Let ``layer="best"`` run ``rank(predictor, images, method, target, top_labels, random_state, options)``."""
    _LAYER_ADVISOR[:] = [rank]


def _best_layer(predictor, images, method: str, target: Any, top_labels: Any, random_state: Any, options: dict):
    return _LAYER_ADVISOR[0](predictor, images, method, target, top_labels, random_state, options)
