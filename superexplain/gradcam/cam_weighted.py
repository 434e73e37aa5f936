"""Every CAM variant as its per-channel weighted activations, and the two ways to make a map of them.

Shapes as in :mod:`superexplain.gradcam.cam_maps`: ``activations`` (N, h, w, c), ``gradients``
(N, K, h, w, c). Each ``*_weighted`` function returns the weighted activations (N, K, h, w, c)
whose channel sum is the variant's signed map (the functions of :mod:`.cam_maps`):

==================== ==============================
gradcam              alpha_k A^k (channel means of the gradients)
gradcam++            w_k A^k (Grad-CAM++ weights)
xgradcam             w_k A^k (XGrad-CAM weights)
layercam             ReLU(g) * A
hirescam             g * A
gradcam_elementwise  ReLU(g * A)
eigengradcam         g * A
eigencam             A (the same for every target)
==================== ==============================

:func:`cam_map` makes the map: the channel sum (the default), or with ``eigen_smooth`` the
projection on the first principal component (:func:`eigen_projection`).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import describe
from . import cam_maps

__all__ = ["channel_weighted", "gradcam_weighted", "gradcam_plus_plus_weighted", "xgradcam_weighted",
           "layercam_weighted", "hirescam_weighted", "gradcam_elementwise_weighted", "eigencam_weighted",
           "eigen_projection", "cam_map", "check_flag", "eigen_params", "WEIGHTED_VARIANTS", "EIGEN_METHODS", "SIGN_RULE"]

#: How :func:`eigen_projection` fixes the sign of the principal component (``params["sign_rule"]``).
SIGN_RULE = ("sign chosen so that the projection correlates non-negatively with the channel sum of the same "
             "weighted activations; at zero correlation, so that its largest-magnitude value is positive")
#: The methods whose map is always the eigen projection (``eigen_smooth`` changes nothing for them).
EIGEN_METHODS = ("eigencam", "eigengradcam")


def _float(array: Any) -> np.ndarray:
    return np.asarray(array, np.float64)


def check_flag(value: Any, name: str) -> bool:
    """A True/False option (a truthy string is more likely a mistake than a choice).

    Examples
    --------
    >>> check_flag(True, "eigen_smooth")
    True
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {describe(value)}")
    return bool(value)


def channel_weighted(activations: np.ndarray, channel_weights: np.ndarray) -> np.ndarray:
    """w_k A^k: activations (N, h, w, c) and channel weights (N, K, c) -> (N, K, h, w, c).

    Examples
    --------
    >>> channel_weighted(np.ones((1, 1, 1, 2)), np.array([[[2.0, -1.0]]])).tolist()
    [[[[[2.0, -1.0]]]]]
    """
    return _float(channel_weights)[:, :, None, None, :] * _float(activations)[:, None]


def gradcam_weighted(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
    """Grad-CAM's alpha_k A^k (:func:`.cam_maps.gradcam_weights`).

    Examples
    --------
    >>> gradcam_weighted(np.ones((1, 1, 2, 1)), np.array([1.0, 3.0]).reshape(1, 1, 1, 2, 1)).ravel().tolist()
    [2.0, 2.0]
    """
    return channel_weighted(activations, cam_maps.gradcam_weights(gradients))


def gradcam_plus_plus_weighted(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
    """Grad-CAM++'s w_k A^k (:func:`.cam_maps.gradcam_plus_plus_weights`).

    Examples
    --------
    >>> gradcam_plus_plus_weighted(np.zeros((1, 2, 2, 1)), np.ones((1, 1, 2, 2, 1))).shape
    (1, 1, 2, 2, 1)
    """
    return channel_weighted(activations, cam_maps.gradcam_plus_plus_weights(activations, gradients))


def xgradcam_weighted(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
    """XGrad-CAM's w_k A^k (:func:`.cam_maps.xgradcam_weights`).

    Examples
    --------
    >>> xgradcam_weighted(np.ones((1, 1, 1, 1)), np.full((1, 1, 1, 1, 1), 3.0)).ravel().tolist()
    [3.0]
    """
    return channel_weighted(activations, cam_maps.xgradcam_weights(activations, gradients))


def layercam_weighted(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
    """LayerCAM's ReLU(g) * A, a weight per location and channel.

    Examples
    --------
    >>> layercam_weighted(np.full((1, 1, 1, 2), 2.0), np.array([1.0, -1.0]).reshape(1, 1, 1, 1, 2)).ravel().tolist()
    [2.0, 0.0]
    """
    return np.maximum(_float(gradients), 0.0) * _float(activations)[:, None]


def hirescam_weighted(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
    """HiResCAM's (and Eigen-Grad-CAM's) g * A, element-wise.

    Examples
    --------
    >>> hirescam_weighted(np.full((1, 1, 1, 2), 2.0), np.array([1.0, -1.0]).reshape(1, 1, 1, 1, 2)).ravel().tolist()
    [2.0, -2.0]
    """
    return _float(gradients) * _float(activations)[:, None]


def gradcam_elementwise_weighted(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
    """Element-wise Grad-CAM's ReLU(g * A).

    Examples
    --------
    >>> gradcam_elementwise_weighted(np.ones((1, 1, 1, 2)), np.array([1.0, -1.0]).reshape(1, 1, 1, 1, 2)).ravel().tolist()
    [1.0, 0.0]
    """
    return np.maximum(hirescam_weighted(activations, gradients), 0.0)


def eigencam_weighted(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
    """Eigen-CAM's plain activations A, repeated for each of the K targets (the gradients give K only).

    Examples
    --------
    >>> eigencam_weighted(np.ones((1, 2, 2, 3)), np.zeros((1, 4, 2, 2, 3))).shape
    (1, 4, 2, 2, 3)
    """
    activations = _float(activations)[:, None]
    return np.broadcast_to(activations, (activations.shape[0], np.shape(gradients)[1]) + activations.shape[2:])


def eigen_projection(weighted: np.ndarray) -> np.ndarray:
    """First-principal-component projection of weighted activations (..., h, w, c) -> (..., h, w).

    For each map, X is the (h*w, c) matrix of the weighted activations, Xc = X minus each
    channel's mean, v the first right singular vector of Xc (the first principal component) and
    the map is Xc v (computed from the eigenvectors of the smaller of Xc Xc^T and Xc^T Xc). A principal component's sign is arbitrary; it is fixed so that the map
    correlates non-negatively with the plain channel sum X 1 (the map the channel sum would
    give); where that correlation is zero (to 1e-12 relative), so that the map's value of
    largest magnitude (the first, in row-major order) is positive. All-constant activations
    give a zero map.

    Examples
    --------
    >>> t = np.array([0.0, 1.0, 2.0, 3.0]).reshape(2, 2)
    >>> weighted = np.stack([t, -2.0 * t], axis=-1)      # one direction, v = (1, -2)/sqrt(5) up to sign
    >>> projected = eigen_projection(weighted) / np.sqrt(5.0)   # the channel sum is -t: the sign follows it
    >>> np.round(projected, 6).tolist()
    [[1.5, 0.5], [-0.5, -1.5]]
    """
    weighted = _float(weighted)
    lead, (height, width, channels) = weighted.shape[:-3], weighted.shape[-3:]
    flat = weighted.reshape(lead + (height * width, channels))
    centred = flat - flat.mean(axis=-2, keepdims=True)
    if flat.size == 0:
        return np.zeros(lead + (height, width))
    # the first principal component from the smaller Gram matrix (an eigh of min(h*w, c) squared, much
    # cheaper than an SVD when one side is long, e.g. 7x7 positions x 1280 channels): Xc v1 = u1 s1
    if height * width <= channels:
        values, vectors = np.linalg.eigh(centred @ np.swapaxes(centred, -1, -2))
        projection = vectors[..., -1] * np.sqrt(np.maximum(values[..., -1:], 0.0))
    else:
        values, vectors = np.linalg.eigh(np.swapaxes(centred, -1, -2) @ centred)
        projection = np.einsum("...pc,...c->...p", centred, vectors[..., -1])
    channel_sum = flat.sum(axis=-1)
    channel_sum = channel_sum - channel_sum.mean(axis=-1, keepdims=True)
    covariance = (projection * channel_sum).sum(axis=-1)
    scale = np.linalg.norm(projection, axis=-1) * np.linalg.norm(channel_sum, axis=-1)
    tie = np.abs(covariance) <= 1e-12 * scale
    largest = np.take_along_axis(projection, np.abs(projection).argmax(axis=-1)[..., None], axis=-1)[..., 0]
    sign = np.where(tie, np.where(largest < 0, -1.0, 1.0), np.where(covariance < 0, -1.0, 1.0))
    projection = projection * sign[..., None]
    projection[values[..., -1] <= 0.0] = 0.0  # all-constant activations: no component
    return projection.reshape(lead + (height, width))


#: method name -> weighted-activation function of (activations, gradients)
WEIGHTED_VARIANTS = {
    "gradcam": gradcam_weighted,
    "gradcam++": gradcam_plus_plus_weighted,
    "layercam": layercam_weighted,
    "hirescam": hirescam_weighted,
    "gradcam_elementwise": gradcam_elementwise_weighted,
    "xgradcam": xgradcam_weighted,
    "eigengradcam": hirescam_weighted,
    "eigencam": eigencam_weighted,
}


def cam_map(method: str, activations: np.ndarray, gradients: np.ndarray, eigen_smooth: bool = False) -> np.ndarray:
    """The signed map (N, K, h, w) of a variant: its channel sum, or with ``eigen_smooth`` (and always
    for :data:`EIGEN_METHODS`) the :func:`eigen_projection` of its weighted activations.

    The channel sum is computed by :data:`.cam_maps.CAM_VARIANTS` (the same bits as before).

    Examples
    --------
    >>> activations, gradients = np.ones((1, 2, 2, 3)), np.ones((1, 1, 2, 2, 3))
    >>> cam_map("gradcam", activations, gradients).tolist()
    [[[[3.0, 3.0], [3.0, 3.0]]]]
    >>> cam_map("gradcam", activations, gradients, eigen_smooth=True).tolist()   # constant: no component
    [[[[0.0, 0.0], [0.0, 0.0]]]]
    """
    if method == "eigencam":  # class-agnostic: one projection per image, repeated for its K targets
        projected = eigen_projection(_float(activations)[:, None])
        return np.repeat(projected, np.shape(gradients)[1], axis=1)
    if eigen_smooth or method in EIGEN_METHODS:
        return eigen_projection(WEIGHTED_VARIANTS[method](activations, gradients))
    return cam_maps.CAM_VARIANTS[method](activations, gradients)


def eigen_params(method: str, eigen_smooth: bool) -> dict:
    """What an Explanation records of the eigen projection: nothing for a plain channel-sum map.

    Examples
    --------
    >>> eigen_params("gradcam", False), eigen_params("eigencam", False)["class_agnostic"]
    ({}, True)
    """
    if method == "eigencam":
        return {"class_agnostic": True, "sign_rule": SIGN_RULE,
                "note": "class-agnostic: the map is the same for every target; target and score are only recorded"}
    if method in EIGEN_METHODS:
        return {"class_agnostic": False, "sign_rule": SIGN_RULE}
    if eigen_smooth:
        return {"eigen_smooth": True, "sign_rule": SIGN_RULE}
    return {}
