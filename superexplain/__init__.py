"""superexplain: explain what a Keras image classifier looked at -- gradients and perturbations, one Explanation.

The public surface only; everything is defined in the sub-packages and imported on first use, so
``import superexplain`` stays fast and does not load TensorFlow.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> "module:attribute" (attribute None: the module itself)
_PUBLIC = {
    "Explanation": "superexplain.explanation:Explanation",
    "ExplanationFileError": "superexplain.explanation_file:ExplanationFileError",
    "explain": "superexplain.explain:explain",
    "available_methods": "superexplain.registry:available_methods",
    "GradCAM": "superexplain.gradcam:GradCAM",
    "LimeImage": "superexplain.perturbation:LimeImage",
    "plot": "superexplain.plotting:plot",
    "plot_superpixels": "superexplain.plotting:plot_superpixels",
    "plot_superpixels_grid": "superexplain.plotting:plot_superpixels_grid",
    "plot_concepts": "superexplain.plotting:plot_concepts",
    "compare": "superexplain.plotting:compare",
    "format_as_image": "superexplain.plotting:format_as_image",
    "explain_dataset": "superexplain.runner:explain_dataset",
    "evaluate": "superexplain.evaluation:evaluate",
    "segmentation": "superexplain.segmentation:",
    "metrics": "superexplain.metrics:",
    "sanity": "superexplain.sanity:",
    "datasets": "superexplain.datasets:",
    "models": "superexplain.models:",
    "targets": "superexplain.targets:",
}

__all__ = sorted(_PUBLIC)

# The submodule superexplain.explain shares the function's name: whoever imported the submodule
# first would leave `superexplain.explain` bound to the module. Binding the function now (a light
# import: no TensorFlow) keeps `superexplain.explain(...)` the function whatever is imported later.
from .explain import explain  # noqa: E402,F401
from .explain import register_layer_advisor as _register_layer_advisor  # noqa: E402
from .explanation import set_renderer as _set_renderer  # noqa: E402


def _plot(explanation, **options):
    from .plotting import plot

    return plot(explanation, **options)


def _png(explanation) -> bytes:
    from .plotting import explanation_png

    return explanation_png(explanation)


# Explanation.plot() and notebooks' PNGs draw with superexplain.plotting, loaded on first use: the
# package wires the two rooms, so that explanation.py never imports plotting (which imports it).
_set_renderer(_plot, _png)


def _rank_for_explain(*arguments):
    from .advisor.rank import rank_for_explain

    return rank_for_explain(*arguments)


# explain(..., layer="best") runs the layer advisor, which scores maps with the metrics (they run explain
# themselves): wired here, loaded on first use, as the renderer is.
_register_layer_advisor(_rank_for_explain)


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'superexplain' has no attribute {name!r}")
    module_name, attribute = _PUBLIC[name].split(":")
    module = importlib.import_module(module_name)
    value = getattr(module, attribute) if attribute else module
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_PUBLIC))
