"""`plot_concepts`: Deep Feature Factorization's concepts drawn over the image, one colour per concept."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .._validation import check_float, describe
from ..segmentation import display_image
from ._common import check_explanation
from ._plot import _show_image, new_axes, set_title

__all__ = ["plot_concepts", "concept_regions"]

#: Concept colours (matplotlib's "tab10": distinct, also in the colour-blind simulations it was chosen for).
_PALETTE = "tab10"


def _resize(maps: np.ndarray, size: tuple[int, ...]) -> np.ndarray:
    """Bilinear resize of maps (k, h, w) to (k, H, W) with half-pixel centres (as the CAMs' upsampling), numpy only."""
    def axis_weights(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        where = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0.0, n_in - 1)
        low = np.floor(where).astype(int)
        high = np.minimum(low + 1, n_in - 1)
        return low, high, where - low

    (rows_low, rows_high, row_t), (cols_low, cols_high, col_t) = (axis_weights(maps.shape[1], size[0]),
                                                                  axis_weights(maps.shape[2], size[1]))
    rows = maps[:, rows_low] * (1 - row_t)[None, :, None] + maps[:, rows_high] * row_t[None, :, None]
    return rows[:, :, cols_low] * (1 - col_t) + rows[:, :, cols_high] * col_t


def concept_regions(maps: Any, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel's dominant concept and that concept's strength in [0, 1], from concept maps (k, h, w).

    Every map is upsampled to ``size`` and divided by its own maximum (so that concepts of
    different scales compete fairly); a pixel belongs to the concept with the largest normalised
    value, which is its strength. Returns ``(labels (H, W) int, strength (H, W) float)``.

    Examples
    --------
    >>> maps = np.array([[[1.0, 0.0]], [[0.0, 4.0]]])       # concept 0 left, concept 1 right
    >>> labels, strength = concept_regions(maps, (1, 2))
    >>> labels.tolist(), strength.tolist()
    ([[0, 1]], [[1.0, 1.0]])
    """
    maps = np.asarray(maps, np.float64)
    if maps.ndim != 3 or not maps.size:
        raise ValueError(f"concept maps must have shape (k, h, w); got shape {maps.shape}")
    upsampled = _resize(maps, tuple(size)) if maps.shape[1:] != tuple(size) else maps
    peaks = upsampled.max(axis=(1, 2))
    normalised = np.where(peaks[:, None, None] > 0, upsampled / np.where(peaks > 0, peaks, 1.0)[:, None, None], 0.0)
    return normalised.argmax(axis=0), np.clip(normalised.max(axis=0), 0.0, 1.0)


def plot_concepts(explanation: Any, ax: Any = None, *, alpha: float = 0.6, class_names: Sequence[str] | None = None,
                  title: Any = None, fontsize: float = 8, legend: bool = True) -> Any:
    """Draw a Deep Feature Factorization explanation: the image, each pixel tinted by its dominant concept.

    The tint's opacity grows with the concept's strength there (up to ``alpha``); the legend
    lists each concept's top classes, best first, and marks with "*" the concept that scores
    highest for the explained target (the one in ``explanation.heatmap``).

    Parameters
    ----------
    explanation : Explanation
        From ``method="feature_factorization"`` (it needs ``params["concepts"]``).
    ax : matplotlib Axes, optional
        Where to draw (a new figure when None).
    alpha : float
        Opacity of a concept's colour where it is strongest, in [0, 1].
    class_names : sequence of str, optional
        Names for class indices; default: the names the explanation recorded, else "class i".
    title : None, str or False
        None: an automatic title; False: none.
    fontsize : float
        Title and legend font size.
    legend : bool
        Draw the legend (one entry per concept).

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import superexplain
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> e = superexplain.explain(load_demo_model(), make_shapes(1, seed=1).images[0],
    ...                          method="feature_factorization", n_concepts=3, verbose=0)
    >>> ax = plot_concepts(e)
    >>> len(ax.get_legend().get_texts())
    3
    """
    import matplotlib
    from matplotlib.patches import Patch

    explanation = check_explanation(explanation)
    concepts = explanation.params.get("concepts")
    if not isinstance(concepts, dict) or "maps" not in concepts:
        raise ValueError(f"explanation has no concepts to plot (method {explanation.method!r}); "
                         "plot_concepts draws method='feature_factorization' explanations")
    alpha = check_float(alpha, "alpha", 0.0, 1.0)
    if class_names is not None and (isinstance(class_names, str) or not isinstance(class_names, Sequence)):
        raise TypeError(f"class_names must be a sequence of str or None; got {describe(class_names)}")
    ax = new_axes(ax, figsize=(5, 5.6) if legend else (4, 4))
    image = display_image(explanation.image)
    labels, strength = concept_regions(concepts["maps"], image.shape[:2])
    palette = matplotlib.colormaps[_PALETTE]
    colors = np.array([palette(j % palette.N)[:3] for j in range(len(concepts["maps"]))])
    overlay = np.concatenate([colors[labels], (alpha * strength)[..., None]], axis=-1)
    _show_image(ax, image)
    ax.imshow(overlay, interpolation="nearest")
    if legend:
        handles = [Patch(facecolor=colors[j], alpha=max(alpha, 0.3), label=_legend_label(concepts, j, explanation,
                                                                                         class_names))
                   for j in range(len(colors))]
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.01), fontsize=fontsize,
                  frameon=False, ncol=1, handlelength=1.2)
    target = explanation.target_name if explanation.target_name is not None else f"class {explanation.target}"
    set_title(ax, title, f"{len(colors)} concepts ({explanation.params.get('layer', 'layer')}); target {target}",
              fontsize + 1)
    return ax


def _legend_label(concepts: dict, index: int, explanation: Any, class_names: Sequence[str] | None) -> str:
    top = concepts.get("top_classes", [[]])[index]
    recorded = concepts.get("top_class_names", [[None] * len(top)])[index]
    names = []
    for position, cls in enumerate(top):
        name = class_names[cls] if class_names is not None and cls < len(class_names) else recorded[position]
        names.append(str(name) if name is not None else f"class {cls}")
    mark = " *" if explanation.params.get("concept") == index else ""
    return f"concept {index + 1}{mark}: " + ", ".join(names)
