"""XGrad-CAM (Fu et al. 2020): channel weights from gradients weighted by the normalised activations."""
from __future__ import annotations

from typing import Any

from ..explanation import Explanation
from .cams import run_cam_with_options

__all__ = ["run_xgradcam"]


def run_xgradcam(predictor, images, *, targets: Any = None, top_labels: Any = None, random_state: Any = None,
                 verbose: Any = 1, layer: Any = None, score: str = "logit", relu: bool = True,
                 batch_size: Any = None, reshape: Any = None, aug_smooth: bool = False,
                 eigen_smooth: bool = False) -> list[Explanation]:
    """XGrad-CAM (Fu et al., arXiv 2008.02312): ReLU(sum_k w_k A^k) with w_k = sum_ij (A^k_ij / sum_ab A^k_ab)
    dS/dA^k_ij, the weights the paper derives from its sensitivity and conservation axioms (a
    channel whose activations sum to 0 weighs 0). Options as :func:`~superexplain.gradcam.cams.run_gradcam`
    (including ``layer`` lists, ``aug_smooth`` and ``eigen_smooth``).

    Examples
    --------
    >>> import superexplain
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> superexplain.explain(load_demo_model(), make_shapes(1, seed=0).images[0], method="xgradcam",
    ...                      verbose=0).method
    'xgradcam'
    """
    return run_cam_with_options("xgradcam", predictor, images, targets=targets, top_labels=top_labels,
                                random_state=random_state, verbose=verbose, layer=layer, score=score, relu=relu,
                                batch_size=batch_size, reshape=reshape, aug_smooth=aug_smooth,
                                eigen_smooth=eigen_smooth)
