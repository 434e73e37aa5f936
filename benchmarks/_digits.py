"""The digits CNN of the research benchmarks: scikit-learn's ``load_digits`` upsampled to 32x32, a small CNN."""
from __future__ import annotations

import numpy as np

__all__ = ["digits_data", "train_digits"]


def digits_data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(images (1797, 32, 32, 1) in [0, 1], labels, a fixed shuffled order)``.

    The 8x8 digits (0..16) are upsampled x4 to 32x32 and scaled to [0, 1]: background 0, as MNIST's.
    The order is ``default_rng(0).permutation``: its first 1500 are for training, the rest for testing.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.kron(digits.images / 16.0, np.ones((4, 4)))[..., None].astype(np.float32)
    return images, digits.target, np.random.default_rng(0).permutation(len(images))


def train_digits(images: np.ndarray, labels: np.ndarray, seed: int, epochs: int = 15):
    """Two 3x3 convolutions (16, 32 channels) with max pooling, a 64-unit dense layer and a softmax; Adam,
    batches of 64, ``keras.utils.set_random_seed(seed)`` first. ``(images, labels, seed) -> model``: the
    ``build_and_train`` that data randomisation needs."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((32, 32, 1))
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(64, activation="relu")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(images, labels, epochs=epochs, batch_size=64, verbose=0)
    return model
