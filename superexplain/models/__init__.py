"""The model adapter: everything the methods need from a model, behind one `Predictor`, and the one batch loop."""
from __future__ import annotations

import os
from typing import Any

from .adapter import Predictor
from .batching import build_ahead, fastest_batch_size, predict_in_batches, run_in_batches
from .wrapping import as_predictor

__all__ = ["Predictor", "as_predictor", "load_model", "predict_in_batches", "run_in_batches", "build_ahead",
           "fastest_batch_size"]


def load_model(path: str | os.PathLike) -> Any:
    """Load a ``.keras``/``.h5`` file or a SavedModel directory as a Keras model (no compile)."""
    from .keras_model import load_model as _load

    return _load(path)
