"""`explain(model, image, method=...)`: one entry point that looks a method up in a registry and dispatches.

A method is a function ``run(predictor, images, *, targets, top_labels, random_state, verbose,
**options) -> list[Explanation]`` that receives a validated float32 batch (N, H, W, C) and returns
the explanations image-major, target-minor. Adding a method is one module and one line below.
"""
from __future__ import annotations

import importlib
from typing import Any, Callable

from ._validation import check_choice
from .explanation import Explanation
from .models import as_predictor

__all__ = ["explain", "METHODS", "available_methods", "method_function"]

#: method name -> "module:function" (imported on first use, so `import superexplain` stays light).
METHODS: dict[str, str] = {
    # gradients room
    "gradcam": "superexplain.gradcam.methods:run_gradcam",
    "gradcam++": "superexplain.gradcam.methods:run_gradcam_plus_plus",
    "layercam": "superexplain.gradcam.methods:run_layercam",
    "scorecam": "superexplain.gradcam.scorecam:run_scorecam",
    "saliency": "superexplain.gradcam.attributions:run_saliency",
    "gradient_input": "superexplain.gradcam.attributions:run_gradient_input",
    "integrated_gradients": "superexplain.gradcam.attributions:run_integrated_gradients",
    "smoothgrad": "superexplain.gradcam.attributions:run_smoothgrad",
    "vargrad": "superexplain.gradcam.attributions:run_vargrad",
    "guided_backprop": "superexplain.gradcam.attributions:run_guided_backprop",
    # perturbation room
    "lime": "superexplain.perturbation.lime:run_lime",
    "kernelshap": "superexplain.perturbation.kernelshap:run_kernelshap",
    "occlusion": "superexplain.perturbation.occlusion:run_occlusion",
    "rise": "superexplain.perturbation.rise:run_rise",
}


def available_methods() -> list[str]:
    """Names accepted by ``explain(..., method=...)`` whose implementation is installed."""
    names = []
    for name in METHODS:
        try:
            method_function(name)
        except (ImportError, AttributeError):
            continue
        names.append(name)
    return names


def method_function(method: str) -> Callable[..., list[Explanation]]:
    """The implementation behind a method name."""
    check_choice(method, "method", list(METHODS))
    module_name, function_name = METHODS[method].split(":")
    return getattr(importlib.import_module(module_name), function_name)


def explain(model: Any, image: Any, method: str = "gradcam", target: Any = None, *,
            top_labels: int | None = None, class_names: Any = None, random_state: Any = None,
            verbose: int | bool = 1, **options: Any) -> Explanation | list[Explanation]:
    """Explain what ``model`` looked at in ``image``.

    Parameters
    ----------
    model : keras.Model, str, path or callable
        A Keras 3 model, a ``.keras``/``.h5`` file or SavedModel directory, or (for perturbation
        methods) any callable ``images (N, H, W, C) -> scores (N, classes)``.
    image : array_like
        One image (H, W) / (H, W, C) or a batch (N, H, W, C), in the model's input space.
    method : str
        One of :data:`METHODS`: ``"gradcam"``, ``"gradcam++"``, ``"layercam"``, ``"scorecam"``,
        ``"saliency"``, ``"gradient_input"``, ``"integrated_gradients"``, ``"smoothgrad"``,
        ``"vargrad"``, ``"guided_backprop"``, ``"lime"``, ``"kernelshap"``, ``"occlusion"``,
        ``"rise"``.
    target : int, str or list, optional
        The class to explain: None (the top class), an index or class name for every image, or one
        entry (or a list of entries) per image.
    top_labels : int, optional
        Explain each image's ``top_labels`` best classes instead of ``target``.
    class_names : list or dict, optional
        Names for the model's classes (index -> name).
    random_state : int, Generator, None or sequence of int
        Seed for every random choice; the seed used is recorded in ``params``. The perturbation
        methods (lime, kernelshap, rise, occlusion) also take one int seed per image.
    verbose : int or bool
        Show a progress bar for long work.
    **options
        Passed to the method (see each method's documentation).

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
    predictor = as_predictor(model, class_names=class_names)
    images, single = predictor.check_images(image, "image")
    explanations = run(predictor, images, targets=target, top_labels=top_labels,
                       random_state=random_state, verbose=verbose, **options)
    if single and len(explanations) == 1:
        return explanations[0]
    return explanations
