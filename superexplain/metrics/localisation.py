"""Localisation against ground-truth masks: the pointing game (Zhang et al., 1608.00507) and relevance mass."""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .._validation import check_float, describe
from ..explanation import Explanation
from .map_results import LocalisationResult

__all__ = ["pointing_game", "relevance_mass"]


def _maps_and_masks(explanation: Any, mask: Any) -> tuple[list[np.ndarray], np.ndarray, bool]:
    if isinstance(mask, (str, bytes)) or mask is None:
        raise TypeError(f"mask must be a boolean array (H, W) or (N, H, W); got {describe(mask)}")
    masks = np.asarray(mask)
    if masks.dtype.kind not in "biuf":
        raise TypeError(f"mask must be a boolean array; got dtype {masks.dtype}")
    if masks.dtype.kind != "b":
        if not np.all(np.isin(masks, (0, 1))):
            raise ValueError("mask must be boolean (or 0/1); got other values")
        masks = masks.astype(bool)
    if isinstance(explanation, (Explanation, np.ndarray)) and not (
            isinstance(explanation, np.ndarray) and explanation.ndim == 3 and masks.ndim == 3):
        explanations, single = [explanation], True
    elif isinstance(explanation, (list, tuple, np.ndarray)):
        explanations, single = list(explanation), False
    else:
        raise TypeError("explanation must be an Explanation, an (H, W) map or a list of them; "
                        f"got {describe(explanation)}")
    if masks.ndim == 2:
        masks = masks[None]
    if masks.ndim != 3 or masks.shape[0] != len(explanations):
        raise ValueError(f"mask must have shape (H, W) for one explanation or (N, H, W) for N = {len(explanations)}; "
                         f"got shape {np.shape(mask)}")
    maps = []
    for i, (item, one_mask) in enumerate(zip(explanations, masks)):
        heat = item.heatmap if isinstance(item, Explanation) else np.asarray(item, dtype=np.float64)
        if heat.ndim != 2:
            raise ValueError(f"explanation {i} must be an (H, W) map; got shape {heat.shape}")
        if heat.shape != one_mask.shape:
            raise ValueError(f"mask has shape {one_mask.shape} but explanation {i} has shape {heat.shape}; "
                             "they must match")
        if not one_mask.any():
            raise ValueError(f"mask {i} is empty: there is no object to point at")
        if not np.all(np.isfinite(heat)):
            raise ValueError(f"explanation {i} contains NaN or infinite values")
        maps.append(np.asarray(heat, dtype=np.float64))
    return maps, masks, single


def pointing_game(explanation: Any, mask: Any, tolerance: float = 0.0) -> LocalisationResult:
    """Does the explanation's maximum fall on the object? (Zhang et al., arXiv 1608.00507)

    A hit is counted when the map's maximum lies within ``tolerance`` pixels (Euclidean) of a
    mask pixel. When several pixels share the maximum, the value is the fraction of them that
    hit -- the expected score of picking one at random -- so a flat map scores the mask's
    (dilated) area fraction rather than an accident of raster order.

    Parameters
    ----------
    explanation : Explanation, (H, W) map, or a list of them
    mask : array_like (H, W) or (N, H, W), bool
        The ground-truth object (``make_shapes`` returns them).
    tolerance : float
        Pixels of slack (the paper: 15 at 224x224; one feature-map cell is a natural choice,
        8 for the 64x64 demo model with an 8x8 last layer).

    Returns
    -------
    LocalisationResult
        ``.values`` per image, ``.score`` (accuracy), ``.interval``, ``.area_fractions``, ``.plot()``.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.metrics import pointing_game
    >>> mask = np.zeros((10, 10), bool); mask[0:3, 0:3] = True
    >>> heat = np.zeros((10, 10)); heat[5, 5] = 1
    >>> pointing_game(heat, mask).score, pointing_game(heat, mask, tolerance=5).score
    (0.0, 1.0)
    """
    from scipy.ndimage import distance_transform_edt

    tolerance = check_float(tolerance, "tolerance", 0.0)
    maps, masks, _ = _maps_and_masks(explanation, mask)
    values, areas = [], []
    for heat, one_mask in zip(maps, masks):
        distance = distance_transform_edt(~one_mask)  # distance of every pixel to the nearest mask pixel
        peaks = heat == heat.max()
        values.append(float(np.mean(distance[peaks] <= tolerance + 1e-9)))
        areas.append(float(np.mean(distance <= tolerance + 1e-9)))
    return LocalisationResult("pointing_game", np.asarray(values), np.asarray(areas), {"tolerance": tolerance})


def relevance_mass(explanation: Any, mask: Any) -> LocalisationResult:
    """Share of the positive relevance that falls inside the mask (Arras et al.'s relevance mass accuracy).

    Only positive values count (evidence for the target); a map with no positive value gives NaN
    with a warning. A random map scores about the mask's area fraction.

    Parameters
    ----------
    explanation : Explanation, (H, W) map, or a list of them
    mask : array_like (H, W) or (N, H, W), bool

    Returns
    -------
    LocalisationResult

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.metrics import relevance_mass
    >>> mask = np.zeros((4, 4), bool); mask[:2] = True
    >>> heat = np.zeros((4, 4)); heat[0, 0] = 3.0; heat[3, 3] = 1.0; heat[2, 2] = -5.0
    >>> relevance_mass(heat, mask).score
    0.75
    """
    maps, masks, _ = _maps_and_masks(explanation, mask)
    values = []
    for i, (heat, one_mask) in enumerate(zip(maps, masks)):
        positive = np.clip(heat, 0.0, None)
        total = positive.sum()
        if total <= 0:
            warnings.warn(f"explanation {i} has no positive relevance; its relevance mass is NaN", RuntimeWarning,
                          stacklevel=2)
            values.append(float("nan"))
        else:
            values.append(float(positive[one_mask].sum() / total))
    areas = np.asarray([float(m.mean()) for m in masks])
    return LocalisationResult("relevance_mass", np.asarray(values), areas)
