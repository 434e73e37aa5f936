"""The model adapter: everything the methods need from a model, behind one `Predictor`."""
from .adapter import Predictor, as_predictor

__all__ = ["Predictor", "as_predictor", "load_model"]


def load_model(path):
    """Load a ``.keras``/``.h5`` file or a SavedModel directory as a Keras model (no compile)."""
    from ._keras import load_model as _load

    return _load(path)
