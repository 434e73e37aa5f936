"""Perturbation methods on one engine: LIME, KernelSHAP, occlusion and RISE (see docs/perturbation.md)."""
from .engine import Perturbations, score_perturbations
from ._hide import hide_image
from .lime import LimeImage, run_lime
from .samplers import bernoulli_masks, orthogonal_masks, paired_masks, shapley_masks
from .surrogate import fit_weighted_ridge, lime_kernel, select_features

__all__ = [
    "LimeImage",
    "run_lime",
    "run_kernelshap",
    "run_occlusion",
    "run_rise",
    "Perturbations",
    "score_perturbations",
    "hide_image",
    "fit_weighted_ridge",
    "lime_kernel",
    "select_features",
    "bernoulli_masks",
    "paired_masks",
    "orthogonal_masks",
    "shapley_masks",
]


def __getattr__(name: str):
    # the other methods load on first use so that `import superexplain.perturbation` stays light
    modules = {"run_kernelshap": "kernelshap", "run_occlusion": "occlusion", "run_rise": "rise"}
    if name in modules:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{modules[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
