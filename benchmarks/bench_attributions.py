"""Integrated gradients against its floor: steps x one compiled forward+backward pass of the same images."""
from __future__ import annotations

import warnings

import numpy as np

from ._common import best_time, peak_rss_mb, table


def _floor_function(model):
    """A bare compiled forward+backward of the logits (the head's input times its kernel) for a batch."""
    import keras
    import tensorflow as tf

    head = model.get_layer("predictions")
    features = keras.Model(model.inputs[0], head.input)

    @tf.function
    def forward_backward(images, targets):
        with tf.GradientTape() as tape:
            tape.watch(images)
            logits = tf.matmul(features(images, training=False), head.kernel) + head.bias
            picked = tf.gather(logits, targets, axis=1, batch_dims=1)
        return tape.gradient(picked, images)

    return forward_backward


def run(quick: bool = False) -> str:
    import keras
    import tensorflow as tf

    from superexplain import explain
    from superexplain.datasets import load_demo_model, make_shapes

    n_images, steps = (2, 4) if quick else (8, 50)
    size = 96 if quick else 224
    keras.utils.set_random_seed(0)
    mobilenet = keras.applications.MobileNetV2(input_shape=(size, size, 3), weights=None,
                                               alpha=0.35 if quick else 1.0)
    cases = [
        (f"MobileNetV2 {size}x{size}" + (" (alpha 0.35)" if quick else ""), mobilenet,
         np.random.default_rng(0).uniform(-1, 1, (n_images, size, size, 3)).astype(np.float32)),
        ("demo CNN 64x64", load_demo_model(), make_shapes(n_images, seed=1).images),
    ]
    rounds = 3 if quick else 2
    rows = []
    for name, model, images in cases:
        targets = np.asarray(model(images)).argmax(axis=1).astype(np.int32)
        floor_fn = _floor_function(model)
        images_tensor, targets_tensor = tf.constant(images), tf.constant(targets)

        def floor():  # the literal "steps x forward+backward of the batch", exposed to the same load as IG
            for _ in range(steps):
                floor_fn(images_tensor, targets_tensor).numpy()

        def ours(batch_size, n_steps=steps):
            with warnings.catch_warnings():  # quick mode's few steps trip the completeness warning
                warnings.simplefilter("ignore")
                return explain(model, images, method="integrated_gradients", target=targets.tolist(), steps=n_steps,
                        batch_size=batch_size, verbose=0)

        batch_sizes = (n_images, None)  # None: the default, capped by pixels per call
        floor_fn(images_tensor, targets_tensor)  # trace
        labels = {}
        for batch_size in batch_sizes:
            used = ours(batch_size, 2)[0].params["batch_size"]  # trace and warm
            labels[batch_size] = f"{used} (default)" if batch_size is None else used
        times = {key: float("inf") for key in ("floor",) + batch_sizes}
        for _ in range(rounds):  # alternate, so that a busy machine slows all alike
            times["floor"] = min(times["floor"], best_time(floor, repeat=1, warmup=0))
            for batch_size in batch_sizes:
                times[batch_size] = min(times[batch_size], best_time(lambda: ours(batch_size), repeat=1, warmup=0))
        for batch_size in batch_sizes:
            rows.append([name, n_images, steps, labels[batch_size], times["floor"] / steps, times[batch_size],
                         times[batch_size] / times["floor"]])
    return (
        "## Integrated gradients vs its floor\n\n"
        f"IG with {steps} steps (midpoint rule, zero baseline, completeness check included) on a batch of "
        f"{n_images} images. Floor: a bare `tf.function` forward+backward of the {n_images} images' target logits, "
        f"run {steps} times in a loop, timed in alternation with IG (best of {rounds} rounds); `floor s` is one call. "
        f"ratio = IG time / ({steps} x floor). Goal: ratio <= 1.2. `batch` = rows (image x step) per compiled call.\n\n"
        + table(["model", "images", "steps", "batch", "floor s", "IG s", "ratio"], rows)
        + f"\n\nPeak RSS {peak_rss_mb():.0f} MB."
    )
