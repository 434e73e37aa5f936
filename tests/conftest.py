"""Shared fixtures: tiny models with known answers, the demo model and images."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np
import pytest


@pytest.fixture(scope="session")
def keras():
    import keras as _keras

    return _keras


@pytest.fixture(scope="session")
def demo_model():
    from superexplain.datasets import load_demo_model

    return load_demo_model()


@pytest.fixture(scope="session")
def demo_model_file(demo_model, tmp_path_factory):
    """The demo model as a .keras file (written by the installed Keras), for the command line."""
    path = tmp_path_factory.mktemp("demo_model") / "demo.keras"
    demo_model.save(path)
    return str(path)


@pytest.fixture(scope="session")
def demo_data():
    from superexplain.datasets import make_shapes

    return make_shapes(16, seed=2024)


@pytest.fixture(scope="session")
def softmax_cnn(keras):
    """A small Functional CNN ending in Dense(softmax), seeded."""
    keras.utils.set_random_seed(1)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv_a")(inputs)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv_b")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(5, activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(scope="module")
def ray_started():
    """A local Ray with 2 CPUs, as explain_dataset starts it, for one test module."""
    from superexplain.runner import ray_backend

    ray = ray_backend.import_ray()
    started = ray_backend.start_ray(ray, None, 2, 0)
    yield ray
    if started:
        ray.shutdown()
