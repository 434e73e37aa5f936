"""The bundled demo model: a small CNN trained on :func:`make_shapes` images (see ``train_demo.py``)."""
from __future__ import annotations

import os
from typing import Any

from .shapes import CLASS_NAMES

__all__ = ["DEMO_WEIGHTS_PATH", "build_demo_model", "load_demo_model", "save_demo_weights"]

#: The bundled weights: arrays ``"000"``, ``"001"``, ... in ``model.get_weights()`` order of
#: :func:`build_demo_model`. Plain arrays rather than a ``.keras`` file, because a ``.keras`` file
#: written by one Keras release may not load in an older one (initialiser arguments added since),
#: and the package supports every Keras from its floor on.
DEMO_WEIGHTS_PATH = os.path.join(os.path.dirname(__file__), "demo_model_weights.npz")


def build_demo_model(size: int = 64) -> Any:
    """The demo architecture (untrained): (conv-BN-ReLU-pool) x3, conv, global average pooling, Dense softmax."""
    import keras
    from keras import layers

    inputs = keras.Input((size, size, 3), name="image")
    x = inputs
    for i, filters in enumerate((16, 32, 64)):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{i + 1}")(x)
        x = layers.BatchNormalization(name=f"bn{i + 1}")(x)
        x = layers.Activation("relu", name=f"relu{i + 1}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{i + 1}")(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu", name="last_conv")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(len(CLASS_NAMES), activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="superexplain_demo_cnn")


def save_demo_weights(model, path: str = DEMO_WEIGHTS_PATH) -> None:
    """Write ``model``'s weights (the demo architecture) as the bundled ``.npz``."""
    import numpy as np

    np.savez_compressed(path, **{f"{i:03d}": array for i, array in enumerate(model.get_weights())})


def load_demo_model() -> Any:
    """Load the bundled demo CNN (64x64 RGB in [0, 1] -> 4 shape classes, softmax output).

    The model carries its class names (:data:`CLASS_NAMES`) as ``model.class_names``, which
    superexplain's adapter picks up. No network is needed: the weights ship with the package
    (:data:`DEMO_WEIGHTS_PATH`); the architecture is :func:`build_demo_model`. To use the model
    from the command line, save it: ``load_demo_model().save("demo.keras")``.

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
    import numpy as np

    if not os.path.exists(DEMO_WEIGHTS_PATH):
        raise FileNotFoundError(f"the demo model's weights are missing at {DEMO_WEIGHTS_PATH}; "
                                "rebuild them with `python -m superexplain.datasets.train_demo`")
    model = build_demo_model()
    with np.load(DEMO_WEIGHTS_PATH) as stored:
        model.set_weights([stored[f"{i:03d}"] for i in range(len(stored.files))])
    model.class_names = tuple(CLASS_NAMES)
    return model
