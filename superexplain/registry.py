"""THE method registry: every explanation method's name, implementation and traits, in one table.

:func:`superexplain.explain`, :func:`superexplain.explain_dataset`, the command line and the
README's method table all derive from :data:`METHODS`. Adding a method is one module with a
``run_<name>(predictor, images, *, targets, top_labels, random_state, verbose, **options)``
function and one :class:`Method` entry below.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from ._validation import check_choice

__all__ = ["Method", "METHODS", "FAMILIES", "method_info", "method_function", "method_options", "check_options",
           "available_methods", "method_names", "method_table"]

#: What every run function takes from ``explain`` itself; a method's own options are the rest.
COMMON_ARGUMENTS = ("targets", "top_labels", "random_state", "verbose")

#: Method families, in the order the table lists them.
FAMILIES = ("cam", "gradient", "perturbation")


@dataclass(frozen=True)
class Method:
    """One explanation method and what the code around it needs to know about it.

    Attributes
    ----------
    name : str
        The ``method=`` name.
    entry : str
        ``"module:function"`` of its run function (imported on first use, so that
        ``import superexplain`` stays light).
    family : {"cam", "gradient", "perturbation"}
        Class activation maps of a layer; pixel attributions from input gradients; or scores of
        perturbed copies of the image.
    needs_keras : bool
        True: it differentiates the model or reads its layers, so it takes a Keras model only.
        False: any callable ``images -> scores`` will do.
    seeded : bool
        Whether it draws random numbers (``random_state`` matters).
    per_image_seeds : bool
        Whether it takes one seed per image (``random_state=[s0, s1, ...]``) and batches several
        images' model calls together without changing any image's result. A method that is not
        seeded batches images freely; a seeded one without per-image seeds explains one image per
        call, each with its own seed.
    takes_layer : bool
        Whether it maps one layer (``layer=``).
    takes_segments : bool
        Whether it explains superpixels (``segmentation=``/``segments=``).
    samples_option : str or None
        The option that sets how many random draws it makes (``num_samples``, ``num_masks``).
    what : str
        What it computes, in one line (the method table's).
    reference : str
        The paper.

    Examples
    --------
    >>> from superexplain.registry import method_info
    >>> info = method_info("lime")
    >>> info.family, info.needs_keras, info.takes_segments
    ('perturbation', False, True)
    """

    name: str
    entry: str
    family: str
    needs_keras: bool
    seeded: bool
    per_image_seeds: bool
    takes_layer: bool
    takes_segments: bool
    samples_option: str | None
    what: str
    reference: str

    @property
    def deterministic(self) -> bool:
        """Draws no random numbers."""
        return not self.seeded

    @property
    def batches_images(self) -> bool:
        """Several images may share a call without changing any image's result."""
        return self.deterministic or self.per_image_seeds


def _cam(name: str, entry: str, what: str, reference: str) -> Method:
    return Method(name, entry, "cam", needs_keras=True, seeded=False, per_image_seeds=False, takes_layer=True,
                  takes_segments=False, samples_option=None, what=what, reference=reference)


def _gradient(name: str, entry: str, what: str, reference: str, seeded: bool = False) -> Method:
    # the seeded ones (SmoothGrad, VarGrad) draw each image's noise from its own seed
    return Method(name, entry, "gradient", needs_keras=True, seeded=seeded, per_image_seeds=seeded, takes_layer=False,
                  takes_segments=False, samples_option="num_samples" if seeded else None, what=what,
                  reference=reference)


def _perturbation(name: str, entry: str, what: str, reference: str, seeded: bool = True, segments: bool = True,
                  samples_option: str | None = "num_samples") -> Method:
    return Method(name, entry, "perturbation", needs_keras=False, seeded=seeded, per_image_seeds=True,
                  takes_layer=False, takes_segments=segments, samples_option=samples_option, what=what,
                  reference=reference)


_ENTRIES = [
    _cam("gradcam", "superexplain.gradcam.cams:run_gradcam",
         "ReLU of the gradient-weighted sum of a conv layer's channels (pre-softmax logit)",
         "Selvaraju et al., arXiv 1610.02391"),
    _cam("gradcam++", "superexplain.gradcam.cams:run_gradcam_plus_plus", "higher-order channel weights",
         "Chattopadhay et al., arXiv 1710.11063"),
    _cam("layercam", "superexplain.gradcam.cams:run_layercam", "ReLU(gradient) × activation, per location",
         "Jiang et al., IEEE TIP 2021"),
    _cam("hirescam", "superexplain.gradcam.hirescam:run_hirescam",
         "element-wise gradient × activation summed over channels (= Grad-CAM under a GAP head)",
         "Draelos & Carin, arXiv 2011.08891"),
    _cam("gradcam_elementwise", "superexplain.gradcam.hirescam:run_gradcam_elementwise",
         "ReLU of each gradient × activation product, then the channel sum", "after Draelos & Carin, arXiv 2011.08891"),
    _cam("xgradcam", "superexplain.gradcam.xgradcam:run_xgradcam",
         "channel weights: gradients averaged with the normalised activations as weights",
         "Fu et al., arXiv 2008.02312"),
    _cam("eigencam", "superexplain.gradcam.eigencam:run_eigencam",
         "projection of the layer's activations on their first principal component (class-agnostic)",
         "Muhammad & Yeasin, arXiv 2008.00299"),
    _cam("eigengradcam", "superexplain.gradcam.eigencam:run_eigengradcam",
         "first principal component of gradient × activation (class-dependent Eigen-CAM)",
         "after Muhammad & Yeasin, arXiv 2008.00299"),
    _cam("scorecam", "superexplain.gradcam.scorecam:run_scorecam",
         "channels weighted by the score of the image masked by each channel (forward passes only)",
         "Wang et al., arXiv 1910.01279"),
    _cam("ablationcam", "superexplain.gradcam.ablationcam:run_ablationcam",
         "channels weighted by the relative score drop when each is zeroed (head-only passes)",
         "Desai & Ramaswamy, WACV 2020"),
    _cam("feature_factorization", "superexplain.gradcam.feature_factorization:run_feature_factorization",
         "NMF of the layer's activations into concepts; the map of the concept scoring highest for the target",
         "Collins et al., arXiv 1806.10206"),
    Method("fullgrad", "superexplain.gradcam.fullgrad:run_fullgrad", "cam", needs_keras=True, seeded=False,
           per_image_seeds=False, takes_layer=False, takes_segments=False, samples_option=None,
           what="\\|input-gradient × input\\| plus \\|bias-gradient × bias\\| of every conv/BatchNorm layer, "
                "normalised and summed (no layer to pick)",
           reference="Srinivas & Fleuret, arXiv 1905.00780"),
    _gradient("saliency", "superexplain.gradcam.saliency:run_saliency", "\\|∂score/∂x\\|, max over channels",
              "Simonyan et al., arXiv 1312.6034"),
    _gradient("gradient_input", "superexplain.gradcam.saliency:run_gradient_input",
              "x ⊙ ∂score/∂x (= ε-LRP on ReLU nets, Ancona et al.)", "Shrikumar et al., arXiv 1605.01713"),
    _gradient("integrated_gradients", "superexplain.gradcam.integrated_gradients:run_integrated_gradients",
              "path integral from a baseline; completeness gap recorded", "Sundararajan et al., arXiv 1703.01365"),
    _gradient("smoothgrad", "superexplain.gradcam.smoothgrad:run_smoothgrad",
              "mean of a base method's attribution over noisy copies", "Smilkov et al., arXiv 1706.03825", seeded=True),
    _gradient("vargrad", "superexplain.gradcam.smoothgrad:run_vargrad",
              "variance of a base method's attribution over noisy copies", "Adebayo et al., arXiv 1810.03292",
              seeded=True),
    _gradient("guided_backprop", "superexplain.gradcam.guided_backprop:run_guided_backprop",
              "rectified ReLU gradients on a copy of the model", "Springenberg et al., arXiv 1412.6806"),
    _perturbation("lime", "superexplain.perturbation.lime:run_lime",
                  "weighted ridge surrogate on superpixel on/off masks, with standard errors",
                  "Ribeiro et al., arXiv 1602.04938"),
    _perturbation("kernelshap", "superexplain.perturbation.kernelshap:run_kernelshap",
                  "Shapley-kernel weights, efficiency enforced exactly", "Lundberg & Lee, arXiv 1705.07874"),
    _perturbation("occlusion", "superexplain.perturbation.occlusion:run_occlusion",
                  "drop of the score when one superpixel (or a sliding window) is hidden",
                  "Zeiler & Fergus, arXiv 1311.2901", seeded=False, samples_option=None),
    _perturbation("rise", "superexplain.perturbation.rise:run_rise",
                  "score-weighted average of random smooth masks", "Petsiuk et al., arXiv 1806.07421",
                  segments=False, samples_option="num_masks"),
]

#: method name -> :class:`Method`, in the order of the method table.
METHODS: dict[str, Method] = {method.name: method for method in _ENTRIES}


def method_info(method: str) -> Method:
    """The registry entry of a method name (a ValueError lists the names for an unknown one)."""
    check_choice(method, "method", list(METHODS))
    return METHODS[method]


def method_function(method: str) -> Callable:
    """The run function behind a method name, imported on first use."""
    module_name, function_name = method_info(method).entry.split(":")
    return getattr(importlib.import_module(module_name), function_name)


def method_options(method: str) -> list[str]:
    """The options of a method: its run function's keyword-only parameters beyond the common ones (sorted).

    Examples
    --------
    >>> method_options("rise")[:3]
    ['batch_size', 'hide_color', 'mask_resolution']
    """
    import inspect

    parameters = inspect.signature(method_function(method)).parameters.values()
    return sorted(p.name for p in parameters if p.kind is p.KEYWORD_ONLY and p.name not in COMMON_ARGUMENTS)


def check_options(method: str, options: dict, name: str = "option") -> None:
    """Refuse an option the method does not take, naming it and listing the method's options.

    Examples
    --------
    >>> check_options("lime", {"num_samples": 100})
    >>> check_options("gradcam", {"num_samples": 100})
    Traceback (most recent call last):
    ...
    TypeError: method 'gradcam' has no option 'num_samples'; its options: aug_smooth, batch_size, eigen_smooth, layer, relu, reshape, score
    """
    known = method_options(method)
    for key in options:
        if key not in known:
            raise TypeError(f"method {method!r} has no {name} {key!r}; its options: {', '.join(known)}")


def method_names(family: str | None = None, *, needs_keras: bool | None = None) -> list[str]:
    """Method names, in registry order, optionally of one family or by whether they need a Keras model.

    Examples
    --------
    >>> method_names("perturbation")
    ['lime', 'kernelshap', 'occlusion', 'rise']
    """
    if family is not None:
        check_choice(family, "family", FAMILIES)
    return [m.name for m in METHODS.values()
            if (family is None or m.family == family) and (needs_keras is None or m.needs_keras == needs_keras)]


def available_methods() -> list[str]:
    """Names accepted by ``explain(..., method=...)`` whose implementation imports.

    Examples
    --------
    >>> import superexplain
    >>> "gradcam" in superexplain.available_methods()
    True
    """
    names = []
    for name in METHODS:
        try:
            method_function(name)
        except (ImportError, AttributeError):
            continue
        names.append(name)
    return names


_FAMILY_WORDS = {"cam": "gradients (class activation map)", "gradient": "gradients (pixels)",
                 "perturbation": "perturbation"}


def method_table() -> str:
    """The README's method table (Markdown), generated from the registry; a test keeps the README equal to it."""
    lines = ["| method | family | model | random | what it computes | reference |",
             "|---|---|---|---|---|---|"]
    for m in METHODS.values():
        model = "Keras" if m.needs_keras else "any callable"
        random = ("per image" if m.per_image_seeds else "per call") if m.seeded else "no"
        lines.append(f"| `{m.name}` | {_FAMILY_WORDS[m.family]} | {model} | {random} | {m.what} | {m.reference} |")
    return "\n".join(lines)
