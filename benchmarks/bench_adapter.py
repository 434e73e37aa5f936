"""Adapter overhead: Predictor.predict against a bare compiled forward pass and model.predict."""
from __future__ import annotations

from ._common import best_time, table


def run(quick: bool = False) -> str:
    import tensorflow as tf

    from superexplain.datasets import load_demo_model, make_shapes
    from superexplain.models import as_predictor

    model = load_demo_model()
    images = make_shapes(64 if quick else 1024, seed=5).images
    rows = []
    for batch_size in (32, 256):
        predictor = as_predictor(model, batch_size=batch_size)
        floor_fn = tf.function(lambda x: model(x, training=False))

        def floor():
            for start in range(0, len(images), batch_size):
                floor_fn(tf.constant(images[start:start + batch_size])).numpy()

        floor_s = best_time(floor)
        ours_s = best_time(lambda: predictor.predict(images))
        keras_s = best_time(lambda: model.predict(images, batch_size=batch_size, verbose=0))
        rows.append([batch_size, len(images), floor_s, ours_s, ours_s / floor_s, keras_s / floor_s])
    return ("## Model adapter overhead (demo model, 64x64)\n\n"
            "Floor: the model under a bare `tf.function`, same batches. Goal: ours / floor <= 1.10.\n\n"
            + table(["batch", "images", "floor s", "ours s", "ours / floor", "model.predict / floor"], rows))
