"""How every sanity check runs the method it checks: a method name, the model-free "edge" control, or a callable."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .._validation import check_choice, describe
from ..explanation import Explanation

__all__ = ["CONTROLS", "explainer", "method_label", "image_targets"]

#: Model-independent "methods" accepted by ``method=``: the test of the test.
CONTROLS = ("edge",)


def method_label(method: Any) -> str:
    """The name a result records for ``method``: its name, or the callable's ``__name__``."""
    return method if isinstance(method, str) else getattr(method, "__name__", "callable")


def explainer(method: Any) -> Callable:
    """A function ``(predictor, images, targets, seed, options, verbose=0) -> list of (H, W) float64 maps``.

    - a method name of :data:`superexplain.registry.METHODS`: one :func:`superexplain.explain`
      call for the whole batch, one target per image. A seeded method gets the same seed for every
      image (``random_state=[seed] * n``), so that each image -- and each perturbed or randomised
      copy of it -- is explained with the same random draws: what a check measures is then the
      change of the input or the model, not of the sampler.
    - ``"edge"``: the Sobel edge map of each image (:func:`superexplain.metrics.edge_map`); it
      ignores the model and takes no options.
    - a callable ``(model, images, targets=..., **options) -> list of Explanations or (H, W) maps``,
      called with the Keras model (or the plain callable the predictor wraps).
    """
    if callable(method):
        def run_callable(predictor, images, targets, seed, options, verbose=0):
            model = predictor.keras_model if predictor.keras_model is not None else predictor.function
            maps = method(model, images, targets=targets, **options)
            return [m.heatmap.astype(np.float64) if isinstance(m, Explanation) else np.asarray(m, dtype=np.float64)
                    for m in maps]
        return run_callable
    if not isinstance(method, str):
        raise TypeError(f"method must be a method name, 'edge' or a callable; got {describe(method)}")
    if method == "edge":
        from ..metrics.controls import edge_map

        def run_edge(predictor, images, targets, seed, options, verbose=0):
            if options:
                raise TypeError(f"the 'edge' control takes no method options; got {', '.join(sorted(options))}")
            return [edge_map(image, target=int(t)).heatmap.astype(np.float64) for image, t in zip(images, targets)]
        return run_edge
    from ..explain import explain
    from ..registry import METHODS

    check_choice(method, "method", list(METHODS) + list(CONTROLS))
    per_image_seeds = METHODS[method].per_image_seeds

    def run_method(predictor, images, targets, seed, options, verbose=0):
        random_state = [seed] * len(images) if per_image_seeds else seed
        out = explain(predictor, images, method=method, target=[int(t) for t in targets], random_state=random_state,
                      verbose=verbose, **options)
        out = out if isinstance(out, list) else [out]
        return [e.heatmap.astype(np.float64) for e in out]
    return run_method


def image_targets(predictor, batch: np.ndarray, targets: Any, batch_size: int | None = None) -> np.ndarray:
    """One class per image: ``targets`` resolved against the model's scores (None: each image's top class)."""
    scores = predictor.predict(batch, batch_size=batch_size, validate=False)
    rows = predictor.resolve_targets(targets, scores)
    if any(len(row) != 1 for row in rows):
        raise ValueError(f"targets must give one class per image; got {describe(targets)}")
    return np.array([row[0] for row in rows], dtype=int)
