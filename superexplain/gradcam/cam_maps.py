"""The CAM variants as small functions of (activations, gradients): Grad-CAM, Grad-CAM++, LayerCAM, and upsampling.

Shapes: ``activations`` (N, h, w, c) of the explained layer; ``gradients`` (N, K, h, w, c), the
gradient of each of K target scores per image with respect to those activations. Every function
returns the *signed* map (N, K, h, w) in float64; the caller applies the ReLU.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "weighted_sum",
    "gradcam_weights",
    "gradcam",
    "gradcam_plus_plus_weights",
    "gradcam_plus_plus",
    "layercam",
    "hirescam",
    "gradcam_elementwise",
    "xgradcam_weights",
    "xgradcam",
    "upsample",
    "CAM_VARIANTS",
]


def weighted_sum(activations: np.ndarray, channel_weights: np.ndarray) -> np.ndarray:
    """sum_k w_k A^k: activations (N, h, w, c), channel weights (N, K, c) -> maps (N, K, h, w).

    Examples
    --------
    >>> weighted_sum(np.ones((1, 2, 2, 3)), np.array([[[1.0, 2.0, -1.0]]])).tolist()
    [[[[2.0, 2.0], [2.0, 2.0]]]]
    """
    return np.einsum("nhwc,nkc->nkhw", np.asarray(activations, np.float64), np.asarray(channel_weights, np.float64))


def gradcam_weights(gradients: np.ndarray) -> np.ndarray:
    """Grad-CAM channel weights alpha_k = (1/Z) sum_ij dS/dA^k_ij (Selvaraju et al., eq. 1): (N, K, c).

    Examples
    --------
    >>> gradcam_weights(np.arange(4.0).reshape(1, 1, 2, 2, 1)).tolist()
    [[[1.5]]]
    """
    return np.asarray(gradients, np.float64).mean(axis=(2, 3))


def gradcam(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
    """Grad-CAM before its ReLU: sum_k alpha_k A^k.

    Examples
    --------
    >>> activations = np.arange(1.0, 5.0).reshape(1, 2, 2, 1)
    >>> gradcam(activations, np.full((1, 1, 2, 2, 1), -1.0)).tolist()    # a negative weight: the signed map
    [[[[-1.0, -2.0], [-3.0, -4.0]]]]
    """
    return weighted_sum(activations, gradcam_weights(gradients))


def gradcam_plus_plus_weights(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
    """Grad-CAM++ channel weights (Chattopadhay et al. 2018, eqs. 10 and 19 with Y = exp(S)).

    With the class score passed through an exponential, Y = exp(S), the higher derivatives have a
    closed form in the first: dY/dA = Y g, d2Y/dA2 = Y g^2, d3Y/dA3 = Y g^3 with g = dS/dA. Then

        alpha^k_ij = g^2_ij / (2 g^2_ij + sum_ab A^k_ab g^3_ij)     (0 where the denominator is 0)
        w_k        = sum_ij alpha^k_ij ReLU(g_ij)

    The common positive factor Y = exp(S) of every w_k is left out (as the authors' code does): it
    scales the map without changing its shape, and would overflow for large logits.

    Examples
    --------
    >>> gradcam_plus_plus_weights(np.zeros((1, 2, 2, 1)), np.ones((1, 1, 2, 2, 1))).tolist()   # alpha = 1/2
    [[[2.0]]]
    """
    activations = np.asarray(activations, np.float64)
    gradients = np.asarray(gradients, np.float64)
    # alpha * ReLU(g) = g^2 ReLU(g) / (g^2 (2 + sum_ab A g)) = ReLU(g) / (2 + sum_ab A g) where g > 0; the
    # denominator of alpha is 0 exactly where g = 0 or 2 + sum_ab A g = 0, and there the term is 0
    positive = np.maximum(gradients, 0.0)
    scale = 2.0 + activations.sum(axis=(1, 2))[:, None, None, None, :] * gradients
    terms = np.divide(positive, scale, out=np.zeros_like(positive), where=(positive > 0.0) & (scale != 0.0))
    return terms.sum(axis=(2, 3))


def gradcam_plus_plus(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
    """Grad-CAM++ before its ReLU: sum_k w_k A^k with :func:`gradcam_plus_plus_weights`.

    Examples
    --------
    >>> gradcam_plus_plus(np.ones((1, 2, 2, 1)), np.ones((1, 1, 2, 2, 1))).shape
    (1, 1, 2, 2)
    """
    return weighted_sum(activations, gradcam_plus_plus_weights(activations, gradients))


def layercam(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
    """LayerCAM before its ReLU (Jiang et al. 2021): sum_k ReLU(dS/dA^k_ij) A^k_ij, a weight per location.

    Examples
    --------
    >>> gradients = np.array([1.0, -1.0, 2.0, 0.0]).reshape(1, 1, 2, 2, 1)
    >>> layercam(np.ones((1, 2, 2, 1)), gradients).tolist()
    [[[[1.0, 0.0], [2.0, 0.0]]]]
    """
    weighted = np.maximum(np.asarray(gradients, np.float64), 0.0) * np.asarray(activations, np.float64)[:, None]
    return weighted.sum(axis=-1)


def hirescam(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
    """HiResCAM before its ReLU (Draelos & Carin, arXiv 2011.08891): sum_k dS/dA^k_ij A^k_ij, element-wise.

    With a global-average-pooling head the gradient is the same at every location, and HiResCAM
    equals Grad-CAM exactly.

    Examples
    --------
    >>> gradients = np.array([1.0, -1.0, 2.0, 0.0]).reshape(1, 1, 2, 2, 1)
    >>> hirescam(np.full((1, 2, 2, 1), 2.0), gradients).tolist()
    [[[[2.0, -2.0], [4.0, 0.0]]]]
    """
    return (np.asarray(gradients, np.float64) * np.asarray(activations, np.float64)[:, None]).sum(axis=-1)


def gradcam_elementwise(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
    """Element-wise Grad-CAM before its final ReLU: sum_k ReLU(dS/dA^k_ij A^k_ij).

    Examples
    --------
    >>> gradients = np.array([1.0, -1.0]).reshape(1, 1, 1, 1, 2)
    >>> gradcam_elementwise(np.ones((1, 1, 1, 2)), gradients).tolist()   # the negative channel is dropped
    [[[[1.0]]]]
    """
    products = np.asarray(gradients, np.float64) * np.asarray(activations, np.float64)[:, None]
    return np.maximum(products, 0.0).sum(axis=-1)


def xgradcam_weights(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
    """XGrad-CAM channel weights (Fu et al., arXiv 2008.02312): w_k = sum_ij (A^k_ij / sum_ab A^k_ab) dS/dA^k_ij.

    A channel whose activations sum to 0 gets weight 0 (its normalised activations are undefined).

    Examples
    --------
    >>> activations = np.array([1.0, 3.0]).reshape(1, 1, 2, 1)
    >>> xgradcam_weights(activations, np.array([2.0, 4.0]).reshape(1, 1, 1, 2, 1)).tolist()   # (1*2 + 3*4) / 4
    [[[3.5]]]
    """
    activations = np.asarray(activations, np.float64)
    totals = activations.sum(axis=(1, 2))  # (N, c)
    safe = np.where(totals != 0.0, totals, 1.0)
    normalised = np.where(totals[:, None, None, :] != 0.0, activations / safe[:, None, None, :], 0.0)
    return (np.asarray(gradients, np.float64) * normalised[:, None]).sum(axis=(2, 3))


def xgradcam(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
    """XGrad-CAM before its ReLU: sum_k w_k A^k with :func:`xgradcam_weights`.

    Examples
    --------
    >>> xgradcam(np.ones((1, 2, 2, 1)), np.ones((1, 1, 2, 2, 1))).tolist()
    [[[[1.0, 1.0], [1.0, 1.0]]]]
    """
    return weighted_sum(activations, xgradcam_weights(activations, gradients))


def upsample(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear upsampling of maps (..., h, w) to (..., H, W), float32.

    Convention: half-pixel centres (``align_corners=False``), as ``tf.image.resize``, PIL and
    OpenCV use: output pixel i samples the input at (i + 0.5) * h / H - 0.5, clamped at the edges.

    Examples
    --------
    >>> upsample(np.array([[0.0, 1.0]]), (1, 4)).tolist()
    [[0.0, 0.25, 0.75, 1.0]]
    """
    import tensorflow as tf

    maps = np.asarray(maps, np.float32)
    lead, (height, width) = maps.shape[:-2], maps.shape[-2:]
    if (height, width) == tuple(size):
        return maps.copy()
    flat = maps.reshape((-1, height, width, 1))
    resized = tf.image.resize(flat, size, method="bilinear", antialias=False).numpy()
    return resized.reshape(lead + tuple(size))


#: method name -> signed-map function of (activations, gradients)
CAM_VARIANTS = {
    "gradcam": gradcam,
    "gradcam++": gradcam_plus_plus,
    "layercam": layercam,
    "hirescam": hirescam,
    "gradcam_elementwise": gradcam_elementwise,
    "xgradcam": xgradcam,
}
