"""Adapter overhead: Predictor.predict against a bare compiled forward pass and model.predict."""
from __future__ import annotations

from ._common import best_time, mobilenet_astronaut, table


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
    overhead = ("## Model adapter overhead (demo model, 64x64)\n\n"
                "Floor: the model under a bare `tf.function`, same batches. Goal: ours / floor <= 1.10.\n\n"
                + table(["batch", "images", "floor s", "ours s", "ours / floor", "model.predict / floor"], rows))
    return overhead + "\n\n" + _batch_size_section(model, quick)


def _batch_size_section(demo, quick: bool) -> str:
    """``Predictor.fastest_batch_size`` against an exhaustive sweep, and LIME at its pick."""
    import time

    import numpy as np

    import superexplain
    from superexplain.datasets import make_shapes
    from superexplain.models import as_predictor

    sizes = (8, 16, 32, 64, 128, 256)
    cases = [("demo CNN 64x64", demo, make_shapes(16, seed=2024).images[5], 1024, 1000)]
    if not quick:
        mobilenet, astronaut = mobilenet_astronaut()
        cases.append(("MobileNetV2 224x224", mobilenet, astronaut, 256, 1000))
    rows = []
    for name, model, image, n_images, n_samples in cases:
        if quick:
            n_images, n_samples = 256, 200
        predictor = as_predictor(model)
        start = time.perf_counter()
        pick = predictor.fastest_batch_size(image)
        tuning = time.perf_counter() - start
        images = np.random.default_rng(1).random((n_images,) + image.shape, dtype=np.float32)
        sweep = {size: np.inf for size in sizes}
        lime_s = np.inf
        for round_index in range(3):  # round 0 warms every shape up; rounds interleave the sizes
            for size in sizes:
                start = time.perf_counter()
                predictor.predict(images, batch_size=size, validate=False)
                if round_index:
                    sweep[size] = min(sweep[size], (time.perf_counter() - start) / n_images)
            start = time.perf_counter()
            superexplain.explain(predictor, image, method="lime", num_samples=n_samples, batch_size=pick,
                                 random_state=0, verbose=0)
            if round_index:
                lime_s = min(lime_s, (time.perf_counter() - start) / n_samples)
        best = min(sizes, key=lambda size: sweep[size])
        rows.append([name, pick, f"{tuning:.1f}", best, " / ".join(f"{1000 * sweep[s]:.3g}" for s in sizes),
                     sweep[pick] / sweep[best], sweep[64] / sweep[best], lime_s / sweep[best]])
    return ("## Choosing the batch size: `Predictor.fastest_batch_size`\n\n"
            "The pick of `fastest_batch_size(image)` (defaults: candidates 8-256 from the smallest up, 2 timings "
            "each after a warm-up call, each timing over at least 64 images, stopping after two in a row slower "
            "than the best) and its tuning time, "
            "against a sweep of `Predictor.predict` at every candidate on random images (2 interleaved rounds "
            "after a warm-up round; ms per image, best round). "
            "pick / best and 64 / best compare times per image at the pick and at the default 64 with the best "
            "size of the sweep. LIME / best: `explain(method=\"lime\", batch_size=pick)`, segmentation "
            "included, per sample, over the best floor per image (goal of the perturbation engine: <= 1.10).\n\n"
            + table(["model", "pick", "tuning s", "sweep best", "ms per image at " + " / ".join(map(str, sizes)),
                     "pick / best", "64 / best", "LIME / best"], rows))
