"""Eigen-CAM and Eigen-Grad-CAM: the first principal component of a layer's (gradient-weighted) activations."""
from __future__ import annotations

from typing import Any

from ..explanation import Explanation
from .cams import run_cam_with_options

__all__ = ["run_eigencam", "run_eigengradcam"]


def run_eigencam(predictor, images, *, targets: Any = None, top_labels: Any = None, random_state: Any = None,
                 verbose: Any = 1, layer: Any = None, score: str = "logit", relu: bool = True,
                 batch_size: Any = None, reshape: Any = None, aug_smooth: bool = False,
                 eigen_smooth: bool = False) -> list[Explanation]:
    """Eigen-CAM (Muhammad & Yeasin, arXiv 2008.00299): ReLU(Xc v) where X is the layer's activations as a
    (h*w, c) matrix, Xc = X minus each channel's mean and v its first principal component (first
    right singular vector of Xc), as an (h, w) map.

    The map is **class-agnostic**: it does not depend on the target. The targets are still resolved
    and recorded with their scores, and ``params["class_agnostic"]`` is True. The sign of a
    principal component is arbitrary; it is chosen so that the map correlates non-negatively with
    the plain channel sum of the activations (at zero correlation: so that the map's value of
    largest magnitude is positive); see :func:`.cam_weighted.eigen_projection`. The map comes
    from the same compiled pass as Grad-CAM's (whose gradients it does not use). Options as
    :func:`~superexplain.gradcam.cams.run_gradcam` (``eigen_smooth`` changes nothing here).

    Examples
    --------
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> from superexplain.models import as_predictor
    >>> first, second = run_eigencam(as_predictor(load_demo_model()), make_shapes(1, seed=0).images,
    ...                              top_labels=2, verbose=0)
    >>> first.params["class_agnostic"], bool((first.heatmap == second.heatmap).all()), first.target != second.target
    (True, True, True)
    """
    return run_cam_with_options("eigencam", predictor, images, targets=targets, top_labels=top_labels,
                                random_state=random_state, verbose=verbose, layer=layer, score=score, relu=relu,
                                batch_size=batch_size, reshape=reshape, aug_smooth=aug_smooth,
                                eigen_smooth=eigen_smooth)


def run_eigengradcam(predictor, images, *, targets: Any = None, top_labels: Any = None, random_state: Any = None,
                     verbose: Any = 1, layer: Any = None, score: str = "logit", relu: bool = True,
                     batch_size: Any = None, reshape: Any = None, aug_smooth: bool = False,
                     eigen_smooth: bool = False) -> list[Explanation]:
    """Eigen-Grad-CAM: Eigen-CAM of the activations times the target's gradients (element-wise, g * A), so
    the map depends on the target. Sign rule as :func:`run_eigencam`, with the channel sum of
    g * A (HiResCAM's signed map) as the reference. Options as
    :func:`~superexplain.gradcam.cams.run_gradcam` (``eigen_smooth`` changes nothing here).

    Examples
    --------
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> from superexplain.models import as_predictor
    >>> e = run_eigengradcam(as_predictor(load_demo_model()), make_shapes(1, seed=0).images, verbose=0)[0]
    >>> e.params["class_agnostic"], e.feature_map.shape
    (False, (8, 8))
    """
    return run_cam_with_options("eigengradcam", predictor, images, targets=targets, top_labels=top_labels,
                                random_state=random_state, verbose=verbose, layer=layer, score=score, relu=relu,
                                batch_size=batch_size, reshape=reshape, aug_smooth=aug_smooth,
                                eigen_smooth=eigen_smooth)
