"""HiResCAM and element-wise Grad-CAM: gradient x activation at every location, summed over channels."""
from __future__ import annotations

from typing import Any

from ..explanation import Explanation
from .cams import run_cam_with_options

__all__ = ["run_hirescam", "run_gradcam_elementwise"]


def run_hirescam(predictor, images, *, targets: Any = None, top_labels: Any = None, random_state: Any = None,
                 verbose: Any = 1, layer: Any = None, score: str = "logit", relu: bool = True,
                 batch_size: Any = None, reshape: Any = None, aug_smooth: bool = False,
                 eigen_smooth: bool = False) -> list[Explanation]:
    """HiResCAM (Draelos & Carin, arXiv 2011.08891): ReLU(sum_k dS/dA^k_ij A^k_ij), the element-wise
    product of gradients and activations instead of Grad-CAM's averaged gradients, so every
    location keeps its own gradient. Equals Grad-CAM when the head global-average-pools the layer.
    Options as :func:`~superexplain.gradcam.cams.run_gradcam`
    (including ``layer`` lists, ``aug_smooth`` and ``eigen_smooth``).

    Examples
    --------
    >>> import superexplain
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> superexplain.explain(load_demo_model(), make_shapes(1, seed=0).images[0], method="hirescam",
    ...                      verbose=0).feature_map.shape
    (8, 8)
    """
    return run_cam_with_options("hirescam", predictor, images, targets=targets, top_labels=top_labels,
                                random_state=random_state, verbose=verbose, layer=layer, score=score, relu=relu,
                                batch_size=batch_size, reshape=reshape, aug_smooth=aug_smooth,
                                eigen_smooth=eigen_smooth)


def run_gradcam_elementwise(predictor, images, *, targets: Any = None, top_labels: Any = None, random_state: Any = None,
                            verbose: Any = 1, layer: Any = None, score: str = "logit", relu: bool = True,
                            batch_size: Any = None, reshape: Any = None, aug_smooth: bool = False,
                            eigen_smooth: bool = False) -> list[Explanation]:
    """Element-wise Grad-CAM: ReLU(sum_k ReLU(dS/dA^k_ij A^k_ij)), HiResCAM with the products rectified
    before the channel sum (pytorch-grad-cam's GradCAMElementWise). Options as
    :func:`~superexplain.gradcam.cams.run_gradcam`
    (including ``layer`` lists, ``aug_smooth`` and ``eigen_smooth``).

    Examples
    --------
    >>> import superexplain
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> e = superexplain.explain(load_demo_model(), make_shapes(1, seed=0).images[0], method="gradcam_elementwise",
    ...                          verbose=0)
    >>> bool((e.feature_map >= 0).all())
    True
    """
    return run_cam_with_options("gradcam_elementwise", predictor, images, targets=targets, top_labels=top_labels,
                                random_state=random_state, verbose=verbose, layer=layer, score=score, relu=relu,
                                batch_size=batch_size, reshape=reshape, aug_smooth=aug_smooth,
                                eigen_smooth=eigen_smooth)
