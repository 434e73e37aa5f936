"""Reference "explanations" to read every metric against: a random map and a model-independent edge map."""
from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_image, check_int, check_segments, seeded_rng
from ..explanation import Explanation

__all__ = ["random_map", "edge_map"]


def _image_and_target(like: Any, target: Any) -> tuple[np.ndarray, int, str | None, np.ndarray | None]:
    if isinstance(like, Explanation):
        chosen = like.target if target is None else check_int(target, "target", 0)
        name = like.target_name if target is None else None
        return like.image, chosen, name, like.segments
    image = check_image(like, "like")
    if target is None:
        raise ValueError("target is required when like is an image (give the class the compared explanations explain)")
    return image, check_int(target, "target", 0), None, None


def random_map(like: Any, target: int | None = None, *, segments: Any = None, random_state: Any = None) -> Explanation:
    """A random "explanation": the baseline every method must beat.

    Per pixel, values drawn uniformly in [0, 1). When ``like`` is a perturbation explanation (or
    ``segments`` are given) one uniform value is drawn per superpixel instead, so that in a
    superpixel metric the random map is not secretly "larger segments matter more".

    Parameters
    ----------
    like : Explanation or image (H, W, C)
        The explanation to mimic (its image, target and segments are copied) or an image.
    target : int, optional
        The class; required when ``like`` is an image.
    segments : (H, W) int array, optional
    random_state : int, Generator or None
        Recorded in ``params["seed"]``.

    Returns
    -------
    Explanation
        ``method="random"``.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.metrics import random_map
    >>> e = random_map(np.zeros((8, 8, 3)), target=1, random_state=0)
    >>> e.method, e.heatmap.shape, e == random_map(np.zeros((8, 8, 3)), target=1, random_state=0)
    ('random', (8, 8), True)
    """
    image, chosen, name, own_segments = _image_and_target(like, target)
    rng, seed = seeded_rng(random_state)
    labels = own_segments if segments is None else check_segments(segments, image.shape)
    params = {"seed": seed, "control": "random"}
    if labels is None:
        return Explanation(image=image, method="random", target=chosen, target_name=name,
                           heatmap=rng.random(image.shape[:2]), params=params)
    weights = rng.random(int(labels.max()) + 1)
    return Explanation(image=image, method="random", target=chosen, target_name=name, heatmap=weights[labels],
                       segments=labels, weights=weights, params=params)


def edge_map(like: Any, target: int | None = None) -> Explanation:
    """A model-independent "explanation": the Sobel edge magnitude of the image.

    It depends on the image only, so a metric that ranks it high, or a randomisation test under
    which it changes, is measuring the image rather than the model (Adebayo et al., arXiv
    1810.03292, show that some methods behave like this edge detector).

    Parameters
    ----------
    like : Explanation or image (H, W, C)
    target : int, optional
        Required when ``like`` is an image.

    Returns
    -------
    Explanation
        ``method="edge"``, heatmap = Sobel magnitude of the grey level (ITU-R 709 luma of the first
        three channels, or the single channel), in the image's own units: the map of a copy scaled
        by ``c`` is ``c`` times the map, and nothing depends on a guessed value range.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.metrics import edge_map
    >>> image = np.zeros((8, 8, 3)); image[:, 4:] = 1.0
    >>> e = edge_map(image, target=0)
    >>> bool(e.heatmap[:, 3:5].min() > e.heatmap[:, :2].max())
    True
    """
    from skimage.filters import sobel

    image, chosen, name, _ = _image_and_target(like, target)
    # the image's own units, never a guessed display range: a perturbed copy of an image that
    # touches 1.0 must not be read as a 0..255 image (the robustness checks compare the two)
    values = np.asarray(image, dtype=np.float64)
    grey = values[..., 0] if values.shape[2] < 3 else values[..., :3] @ np.array([0.2125, 0.7154, 0.0721])
    heat = sobel(grey)
    return Explanation(image=image, method="edge", target=chosen, target_name=name, heatmap=heat,
                       params={"control": "sobel"})
