"""The bundled demo model: a small CNN trained on :func:`make_shapes` images (see ``train_demo.py``)."""
from __future__ import annotations

import os

from .shapes import CLASS_NAMES

__all__ = ["DEMO_MODEL_PATH", "load_demo_model"]

#: Where the bundled model file lies inside the installed package.
DEMO_MODEL_PATH = os.path.join(os.path.dirname(__file__), "demo_model.keras")


def load_demo_model():
    """Load the bundled demo CNN (64x64 RGB in [0, 1] -> 4 shape classes, softmax output).

    The model carries its class names (:data:`CLASS_NAMES`) as ``model.class_names``, which
    superexplain's adapter picks up. No network is needed: the weights ship with the package.

    Architecture: four 3x3 ReLU convolutions (16, 32, 64, 64 filters; the first three with
    batch normalisation; the last, ``last_conv``, at 8x8), max-pooling between them, global average pooling and ``Dense(4, softmax)`` named
    ``predictions``. It is trained by ``python -m superexplain.datasets.train_demo``.

    Examples
    --------
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> model = load_demo_model()
    >>> data = make_shapes(8, seed=123)
    >>> model(data.images).shape
    TensorShape([8, 4])
    """
    import keras

    if not os.path.exists(DEMO_MODEL_PATH):
        raise FileNotFoundError(
            f"the demo model file is missing at {DEMO_MODEL_PATH}; "
            "rebuild it with `python -m superexplain.datasets.train_demo`"
        )
    model = keras.models.load_model(DEMO_MODEL_PATH, compile=False)
    model.class_names = tuple(CLASS_NAMES)
    return model
