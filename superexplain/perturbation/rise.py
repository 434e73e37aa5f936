"""RISE (Petsiuk, Das & Saenko, BMVC 2018, arXiv 1806.07421): random smooth masks, score-weighted average."""
from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_float, check_int, image_random_states
from ..explanation import Explanation
from ..models.score_targets import use_score_target
from .engine import Perturbations, check_common, score_perturbations, unperturbed_targets
from .masking import blend
from ._hide import describe_hide, hide_image

__all__ = ["run_rise", "bilinear_matrix", "RiseMasks"]


def bilinear_matrix(size_out: int, size_in: int) -> np.ndarray:
    """The (size_out, size_in) matrix of 1-D bilinear upsampling (pixel centres aligned, edges clamped).

    Examples
    --------
    >>> bilinear_matrix(4, 2).tolist()
    [[1.0, 0.0], [0.75, 0.25], [0.25, 0.75], [0.0, 1.0]]
    """
    coordinate = np.clip((np.arange(size_out) + 0.5) * size_in / size_out - 0.5, 0, size_in - 1)
    low = np.floor(coordinate).astype(int)
    high = np.minimum(low + 1, size_in - 1)
    fraction = coordinate - low
    matrix = np.zeros((size_out, size_in))
    np.add.at(matrix, (np.arange(size_out), low), 1.0 - fraction)
    np.add.at(matrix, (np.arange(size_out), high), fraction)
    return matrix


class RiseMasks:
    """RISE's masks, drawn up front as small binary grids and shifts, upsampled one batch at a time.

    A ``resolution x resolution`` grid of Bernoulli(``p_keep``) cells is upsampled bilinearly to
    ``(resolution + 1) * cell`` pixels (``cell = ceil(size / resolution)``) and cropped at a random
    offset in ``[0, cell)`` per axis, so the masks are smooth and not aligned to one grid.

    Examples
    --------
    >>> import numpy as np
    >>> masks = RiseMasks(np.random.default_rng(0), 3, (16, 16), resolution=4, p_keep=0.5)
    >>> masks.batch(0, 3).shape, bool(masks.batch(0, 3).min() >= 0)
    ((3, 16, 16), True)
    """

    def __init__(self, rng: np.random.Generator, num_masks: int, shape: tuple[int, int], resolution: int,
                 p_keep: float) -> None:
        height, width = shape
        self.shape = shape
        cell_y, cell_x = -(-height // resolution), -(-width // resolution)
        self.grids = (rng.random((num_masks, resolution, resolution)) < p_keep).astype(np.float32)
        self.shift_y = rng.integers(0, cell_y, num_masks)
        self.shift_x = rng.integers(0, cell_x, num_masks)
        self.up_y = bilinear_matrix((resolution + 1) * cell_y, resolution).astype(np.float32)
        self.up_x = bilinear_matrix((resolution + 1) * cell_x, resolution).astype(np.float32)

    def batch(self, start: int, stop: int) -> np.ndarray:
        """Masks ``start .. stop - 1`` at image resolution, (b, H, W) float32 in [0, 1]."""
        height, width = self.shape
        rows = self.up_y[self.shift_y[start:stop, None] + np.arange(height)]  # (b, H, r)
        cols = self.up_x[self.shift_x[start:stop, None] + np.arange(width)]  # (b, W, r)
        return rows @ self.grids[start:stop] @ cols.transpose(0, 2, 1)


def run_rise(predictor: Any, images: np.ndarray, *, targets: Any = None, top_labels: int | None = None,
             random_state: Any = None, verbose: int | bool = 1, num_masks: int = 4000, mask_resolution: int = 7,
             p_keep: float = 0.5, batch_size: int | None = None, hide_color: Any = 0.0,
             score: str = "probability") -> list[Explanation]:
    """RISE saliency: ``heatmap = sum_i f_c(image * M_i) M_i / (num_masks * p_keep)``.

    Parameters
    ----------
    num_masks : int
        Random masks per image (the paper used 4000 on ImageNet).
    mask_resolution : int
        Cells per side of the low-resolution grid (the paper's ``s``, 7 for 224x224).
    p_keep : float
        Probability that a cell is kept (0.5 in the paper).
    batch_size, score :
        As for :func:`~superexplain.perturbation.run_lime`; RISE explains probabilities by default.
    hide_color :
        What masked-out pixels blend into (default 0, the paper's ``image * mask``); as for LIME,
        with ``"mean"`` the image's mean colour.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.models import as_predictor
    >>> image = np.ones((1, 16, 16, 1), dtype=np.float32)
    >>> model = as_predictor(lambda x: x[:, :, :8].mean(axis=(1, 2, 3))[:, None])
    >>> [e] = run_rise(model, image, num_masks=500, mask_resolution=4, random_state=0, verbose=0)
    >>> bool(e.heatmap[:, :8].mean() > e.heatmap[:, 8:].mean())
    True
    """
    num_masks = check_common(num_masks, batch_size, score, name="num_masks")
    # a score function as target (superexplain.targets): its view of the model, class 0
    predictor, targets, finish = use_score_target(predictor, targets, top_labels)
    mask_resolution = check_int(mask_resolution, "mask_resolution", 1, min(images.shape[1:3]))
    p_keep = check_float(p_keep, "p_keep", 0.0, 1.0, strict=True)
    generators, seeds = image_random_states(random_state, len(images))
    output, score_kind = predictor.output_for(score)
    unperturbed, target_lists = unperturbed_targets(predictor, images, targets, top_labels, output,
                                                    batch_size)

    def job(index: int) -> tuple[Perturbations, np.ndarray]:
        image = images[index]
        hide = hide_image(image, None, hide_color)
        masks = RiseMasks(generators[index], num_masks, image.shape[:2], mask_resolution, p_keep)
        classes = np.array(target_lists[index])
        saliency = np.zeros((classes.size,) + image.shape[:2])
        built: dict[int, np.ndarray] = {}  # masks of the batches built but not yet consumed

        def build(start, stop, out=None):
            built[start] = masks.batch(start, stop)
            return blend(image, hide, built[start], out=out)

        def consume(start, stop, scores):
            saliency[...] += np.einsum("bt,bhw->thw", scores[:, classes].astype(np.float64), built.pop(start))

        # fill: the masked copies are blended straight into the batch arrays the engine reuses
        return Perturbations(num_masks, build, consume, fill=build, shape=image.shape), saliency

    # masks are drawn image by image, in order, before any is scored
    jobs = [job(index) for index in range(len(images))]
    score_perturbations(predictor, [perturbations for perturbations, _ in jobs], batch_size, output, verbose,
                        desc="rise")
    explanations = []
    for index, (_, saliency) in enumerate(jobs):
        saliency /= num_masks * p_keep
        params = {"num_masks": num_masks, "samples_used": num_masks, "mask_resolution": mask_resolution,
                  "p_keep": p_keep, "batch_size": batch_size or predictor.batch_size,
                  "hide_color": describe_hide(hide_color), "seed": seeds[index], "score_kind": score_kind}
        for position, target in enumerate(target_lists[index]):
            explanations.append(Explanation(
                image=images[index], method="rise", target=int(target), heatmap=saliency[position],
                target_name=predictor.class_name(int(target)), score=float(unperturbed[index, target]),
                params=params))
    return finish(explanations)
