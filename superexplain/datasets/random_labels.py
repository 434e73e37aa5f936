"""The demo CNN trained on given labels, and on permuted labels until it memorises them, cached on disk."""
from __future__ import annotations

import hashlib
import os
import tempfile
from typing import Any, NamedTuple

import numpy as np

from .._validation import check_float, check_int, describe
from .shapes import make_shapes
from .demo_model import build_demo_model

__all__ = ["train_on_labels", "random_label_demo_model", "RandomLabelDemo", "default_cache_dir"]

#: Training settings of :func:`train_on_labels` (Adam, small batches: memorising random labels needs many updates).
EPOCHS = 150
BATCH_SIZE = 16
LEARNING_RATE = 2e-3
#: Part of the cache key: change it whenever the training procedure changes, so old files are not reused.
_RECIPE = "demo-cnn/frozen-bn/adam-step-decay/v1"


class RandomLabelDemo(NamedTuple):
    """What :func:`random_label_demo_model` returns."""

    model: Any  #: the demo architecture trained on ``labels``
    images: np.ndarray  #: (n_train, 64, 64, 3) the training images, ``make_shapes(n_train, seed=seed).images``
    labels: np.ndarray  #: (n_train,) the permuted labels it was trained on
    train_accuracy: float  #: its accuracy on ``labels``


def default_cache_dir() -> str:
    """``$SUPEREXPLAIN_CACHE`` if set, else ``~/.cache/superexplain``."""
    return os.environ.get("SUPEREXPLAIN_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "superexplain")


def _cache_path(cache_dir: Any, images: np.ndarray, labels: np.ndarray, settings: tuple) -> str | None:
    if cache_dir is False:
        return None
    if cache_dir is not None and not isinstance(cache_dir, (str, os.PathLike)):
        raise TypeError(f"cache_dir must be a folder path, None (the default folder) or False (no cache); "
                        f"got {describe(cache_dir)}")
    import keras

    digest = hashlib.sha256()
    for part in (images, labels):
        digest.update(str((part.shape, part.dtype.str)).encode())
        digest.update(np.ascontiguousarray(part).tobytes())
    digest.update(repr(settings + (_RECIPE, keras.__version__)).encode())
    folder = os.path.join(os.fspath(default_cache_dir() if cache_dir is None else cache_dir), "trained_on_labels")
    return os.path.join(folder, f"demo_cnn_{digest.hexdigest()[:24]}.keras")


def _save_atomically(model, path: str) -> None:
    """Write to a temporary file in the same folder and rename it: a reader never sees half a file."""
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(suffix=".keras", dir=folder)
    os.close(handle)
    try:
        model.save(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def train_on_labels(images: Any, labels: Any, seed: int, epochs: int = EPOCHS, *, batch_size: int = BATCH_SIZE,
                    learning_rate: float = LEARNING_RATE, cache_dir: Any = False) -> Any:
    """Train the demo architecture on ``(images, labels)``: the ``build_and_train`` of the demo CNN.

    The model of :func:`~superexplain.datasets.train_demo.build_demo_model` (sized to the images),
    trained with Adam (``learning_rate``, divided by 10 for the last fifth of the epochs) and
    sparse cross-entropy, seeded (``keras.utils.set_random_seed`` and
    TensorFlow op determinism, as ``train_demo_model`` does): the same arguments give the same
    weights on the CPU. It is what :func:`superexplain.sanity.data_randomization` needs to run the
    data randomisation test of Adebayo et al. (arXiv 1810.03292) on the demo CNN.

    Parameters
    ----------
    images : array_like (N, S, S, 3)
        Square RGB images in [0, 1].
    labels : array_like (N,)
        Class indices in ``0..3`` (the demo's four classes).
    seed : int
        Seeds the initial weights and the shuffling.
    epochs, batch_size, learning_rate
        Training settings; the defaults memorise 128 permuted labels (train accuracy >= 0.9).
    cache_dir : str, None or False
        False (default): no cache. A folder, or None for :func:`default_cache_dir`: the trained
        model is saved there under a key of the data and the settings, and loaded on the next call.

    Returns
    -------
    keras.Model
        Softmax output, the demo's class names as ``model.class_names``.

    Notes
    -----
    The BatchNormalization layers are frozen at their initial state (an identity, up to
    ``1/sqrt(1 + epsilon)``) and run in inference mode during training. With batch statistics
    the demo CNN memorised permuted labels in training mode (train accuracy 1.0 after 70 epochs
    on 256 images) but kept only 0.66 of them in inference mode, the mode explanations use.

    Examples
    --------
    >>> from superexplain.datasets import make_shapes, train_on_labels
    >>> data = make_shapes(8, seed=0)
    >>> model = train_on_labels(data.images, data.labels, seed=0, epochs=1)
    >>> model(data.images).shape
    TensorShape([8, 4])
    """
    import keras
    import tensorflow as tf

    from .shapes import CLASS_NAMES

    batch = np.array(images, dtype=np.float32)
    if batch.ndim != 4 or batch.shape[1] != batch.shape[2] or batch.shape[3] != 3:
        raise ValueError(f"images must be square RGB images (N, S, S, 3); got {describe(batch)}")
    targets = np.array(labels)
    if targets.shape != (len(batch),) or targets.dtype.kind not in "iu":
        raise ValueError(f"labels must be {len(batch)} class indices, shape ({len(batch)},); got {describe(targets)}")
    if targets.min() < 0 or targets.max() >= len(CLASS_NAMES):
        raise ValueError(f"labels must lie in 0..{len(CLASS_NAMES) - 1}; got {targets.min()}..{targets.max()}")
    seed = check_int(seed, "seed", 0)
    epochs = check_int(epochs, "epochs", 1)
    batch_size = check_int(batch_size, "batch_size", 1)
    learning_rate = check_float(learning_rate, "learning_rate", 0.0, strict=True)
    path = _cache_path(cache_dir, batch, targets.astype(np.int64), (seed, epochs, batch_size, learning_rate))
    if path is not None and os.path.exists(path):
        model = keras.models.load_model(path, compile=False)
    else:
        keras.utils.set_random_seed(seed)
        tf.config.experimental.enable_op_determinism()
        model = build_demo_model(size=batch.shape[1])
        for layer in model.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False  # inference mode throughout: see Notes
        # the last fifth of the epochs at a tenth of the rate: memorisation oscillates at the full rate
        steps = epochs * -(-len(batch) // batch_size)
        schedule = keras.optimizers.schedules.PiecewiseConstantDecay([int(0.8 * steps)],
                                                                     [learning_rate, learning_rate / 10])
        model.compile(optimizer=keras.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy")
        model.fit(batch, targets, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0)
        if path is not None:
            _save_atomically(model, path)
    model.class_names = tuple(CLASS_NAMES)
    return model


def random_label_demo_model(seed: int = 0, n_train: int = 128, epochs: int = EPOCHS,
                            cache_dir: Any = None) -> RandomLabelDemo:
    """The demo CNN trained on ``make_shapes`` images with PERMUTED labels, until it memorises them.

    The random-label model of the data randomisation test (Adebayo et al., arXiv 1810.03292,
    section 4): it has learnt nothing about shapes, only the training set by heart. The labels of
    ``make_shapes(n_train, seed=seed)`` are permuted with ``numpy.random.default_rng(seed)`` and
    the model is trained by :func:`train_on_labels`. The first call trains (about a minute on two
    CPU cores with the defaults) and saves the model in ``cache_dir``; later calls load it.

    Parameters
    ----------
    seed : int
        Seeds the images, the permutation and the training.
    n_train, epochs : int
        Training images and epochs; the defaults reach a train accuracy >= 0.9 on the permuted labels.
    cache_dir : str, None or False
        None: :func:`default_cache_dir` (``$SUPEREXPLAIN_CACHE`` or ``~/.cache/superexplain``);
        False: no cache.

    Returns
    -------
    RandomLabelDemo
        ``(model, images, labels, train_accuracy)``.

    Examples
    --------
    >>> from superexplain.datasets import random_label_demo_model
    >>> demo = random_label_demo_model(n_train=8, epochs=1, cache_dir=False)
    >>> demo.images.shape, demo.labels.shape, 0.0 <= demo.train_accuracy <= 1.0
    ((8, 64, 64, 3), (8,), True)
    """
    seed = check_int(seed, "seed", 0)
    n_train = check_int(n_train, "n_train", 2)
    data = make_shapes(n_train, seed=seed)
    labels = data.labels[np.random.default_rng(seed).permutation(n_train)]
    model = train_on_labels(data.images, labels, seed, epochs, cache_dir=cache_dir)
    accuracy = float(np.mean(model.predict(data.images, verbose=0).argmax(axis=1) == labels))
    return RandomLabelDemo(model=model, images=data.images, labels=labels, train_accuracy=accuracy)
