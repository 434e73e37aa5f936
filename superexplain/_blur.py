"""The one Gaussian blur of an image's spatial axes (channels never mixed), shared by every method and metric."""
from __future__ import annotations

import numpy as np

__all__ = ["gaussian_blur"]


def gaussian_blur(images: np.ndarray, sigma: float, mode: str = "nearest", truncate: float = 4.0) -> np.ndarray:
    """Blur the two spatial axes of an (H, W, C) image or an (N, H, W, C) batch; float32 out.

    The filter runs in float64 along H and W only (sigma 0 on the other axes), with
    ``scipy.ndimage.gaussian_filter``'s ``mode`` at the borders and a kernel radius of
    ``truncate * sigma`` pixels.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain._blur import gaussian_blur
    >>> image = np.zeros((9, 9, 2)); image[4, 4, 0] = 1.0  # the kernel (radius 4) fits inside
    >>> out = gaussian_blur(image, 1.0)
    >>> round(float(out[:, :, 0].sum()), 6), float(out[:, :, 1].max())
    (1.0, 0.0)
    """
    from scipy.ndimage import gaussian_filter

    array = np.asarray(images, dtype=np.float64)
    sigmas = (0.0,) * (array.ndim - 3) + (sigma, sigma, 0.0)
    return gaussian_filter(array, sigma=sigmas, mode=mode, truncate=truncate).astype(np.float32)
