"""Every CAM of the registry: batch cost against the compiled floor, and which CAM to pick (pointing game, deletion).

Speed: per-explanation time of each CAM at batch 32 divided by the floor measured in the same run
(one bare compiled forward+backward pass to the same layer, top class), on the demo CNN and
MobileNetV2 (``weights=None``: an untrained network costs the same to run). Smoothing is reported
per augmentation (``aug_smooth`` runs 6 copies). Score-CAM and Ablation-CAM spend one forward pass
per channel (Score-CAM through the whole network, Ablation-CAM through the part above the layer
only), so they are timed on fewer images and also set against their own floor: one pass of the
head per channel batch.

Quality: on planted-shapes images (the object's mask is the ground truth), each CAM's pointing game
(the map's peak on the object, no tolerance), deletion AUC (probability, zero baseline) and insertion
AUC (probability, from a blurred image), beside a random map and a Sobel edge map.
"""
from __future__ import annotations

import numpy as np

from ._common import best_time, peak_rss_mb, table
from .bench_gradcam import _floor_function

#: Methods whose cost is per channel, not per gradient pass: timed on this many images.
PER_CHANNEL = {"scorecam": 2, "ablationcam": 8}
#: Options that make a variant worth a row of its own.
VARIANTS = (("gradcam", {"aug_smooth": True}), ("gradcam", {"eigen_smooth": True}))


def _cam_methods() -> list[str]:
    from superexplain.registry import method_names

    return list(method_names("cam"))


def _layer_options(method: str, layer: str) -> dict:
    from superexplain.registry import METHODS

    return {"layer": layer} if METHODS[method].takes_layer else {}


def _head_floor(model, layer_name, images, channel_batch: int) -> float:
    """Seconds for the head above ``layer_name`` to score one batch of ``channel_batch`` activation copies."""
    import tensorflow as tf

    from superexplain.gradcam import resolve_layer
    from superexplain.gradcam.cam_head import cam_head
    from superexplain.models import as_predictor

    head, _ = cam_head(as_predictor(model), resolve_layer(model, layer_name), "logit")
    activations, crossing, _ = head.forward(tf.constant(images[:1]))
    copies = tf.repeat(activations, channel_batch, axis=0)
    crossing = tuple(tf.repeat(t, channel_batch, axis=0) for t in crossing)
    return best_time(lambda: head.scores(copies, crossing).numpy(), repeat=3)


def _input_floor(model, images, repeat) -> float:
    """Seconds per image of one compiled forward + backward pass to the input (FullGrad's least cost)."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([None, *model.inputs[0].shape[1:]], tf.float32)])
    def floor(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            score = tf.reduce_sum(tf.reduce_max(model(x, training=False), axis=1))
        return tape.gradient(score, x)

    return best_time(lambda: floor(tf.constant(images)).numpy(), repeat=repeat) / len(images)


def _forward_floor(model, images, repeat) -> float:
    """Seconds per image of a compiled forward pass at batch 64 (Score-CAM's unit of work)."""
    import tensorflow as tf

    batch = tf.constant(np.resize(images, (64,) + images.shape[1:]))
    forward = tf.function(lambda x: model(x, training=False))
    return best_time(lambda: forward(batch).numpy(), repeat=repeat) / 64


def _speed(label, model, layer_name, images, repeat) -> list[list]:
    import tensorflow as tf

    from superexplain.models import as_predictor
    from superexplain.registry import method_function

    predictor = as_predictor(model)
    floor = _floor_function(model, layer_name)
    floor_s = best_time(lambda: floor(tf.constant(images)).numpy(), repeat=repeat) / len(images)
    rows = [[label, "floor: compiled forward+backward", len(images), floor_s * 1e3, 1.0, "-"]]
    cases = [(m, {}) for m in _cam_methods()] + [v for v in VARIANTS]
    for method, extra in cases:
        count = min(len(images), PER_CHANNEL.get(method, len(images)))
        batch = images[:count]
        run = method_function(method)
        options = {**_layer_options(method, layer_name), **extra}
        try:
            seconds = best_time(lambda: run(predictor, batch, verbose=0, **options),
                                repeat=1 if method in PER_CHANNEL else repeat) / count
        except Exception as exc:  # a failure is a finding: record it
            rows.append([label, method, count, float("nan"), float("nan"), f"{type(exc).__name__}: {exc}"[:90]])
            continue
        name = method + "".join(f", {k}=True" for k in extra)
        copies = 6 if extra.get("aug_smooth") else 1
        note = "per augmentation" if copies > 1 else ""
        channels = int(model.get_layer(layer_name).output.shape[-1])
        if method == "fullgrad":
            note = f"{seconds / _input_floor(model, images, repeat):.2f}x forward+backward to the input"
        elif method == "scorecam":
            note = f"{seconds / (channels * _forward_floor(model, images, repeat)):.2f}x one forward pass per channel"
        elif method == "feature_factorization":
            note = "an NMF per image (scikit-learn)"
        elif method == "ablationcam":
            from superexplain.gradcam.ablationcam import channel_batch_for

            chunk = channel_batch_for(tuple(model.get_layer(layer_name).output.shape[1:]))
            head_s = _head_floor(model, layer_name, images, chunk) * int(np.ceil(channels / chunk))
            backbone_s = _forward_floor(model, images, repeat)
            note = (f"{seconds / (head_s + backbone_s):.2f}x (one forward pass + one head pass per batch of "
                    f"{chunk} channels)")
        rows.append([label, name, count, seconds * 1e3, seconds / floor_s / copies, note])
    return rows


def _quality(quick: bool) -> list[list]:
    import superexplain
    from superexplain.datasets import load_demo_model, make_shapes
    from superexplain.metrics import deletion, edge_map, insertion, pointing_game, random_map

    model = load_demo_model()
    data = make_shapes(6 if quick else 32, seed=21)
    targets = [int(t) for t in data.labels]
    explanations = {}
    for method in _cam_methods() + ["gradcam + aug_smooth", "gradcam + eigen_smooth"]:
        name, _, option = method.partition(" + ")
        extra = {option: True} if option else {}
        explanations[method] = superexplain.explain(model, data.images, method=name, target=targets, verbose=0,
                                                    **extra)
    first = explanations["gradcam"]
    explanations["control: random map"] = [random_map(e, random_state=i) for i, e in enumerate(first)]
    explanations["control: edge map"] = [edge_map(e) for e in first]
    rows = []
    for name, found in explanations.items():
        pointing = pointing_game(found, data.masks)
        curves = [deletion(model, data.images, found, random_state=0), insertion(model, data.images, found,
                                                                                  random_state=0)]
        rows.append([name, pointing.score, _interval(pointing.interval)]
                    + [value for curve in curves for value in (curve.auc, _interval(curve.interval))])
    return rows


def _interval(interval) -> str:
    return f"{interval[0]:.2f}-{interval[1]:.2f}"


def run(quick: bool = False) -> str:
    import keras

    from superexplain.datasets import load_demo_model, make_shapes

    batch = 4 if quick else 32
    repeat = 1 if quick else 3
    rows = _speed("demo 64x64", load_demo_model(), "last_conv", make_shapes(batch, seed=9).images, repeat)
    size = 96 if quick else 224
    keras.utils.set_random_seed(0)
    mobilenet = keras.applications.MobileNetV2(weights=None, input_shape=(size, size, 3))
    images = np.random.default_rng(0).random((batch, size, size, 3)).astype("float32")
    rows += _speed(f"MobileNetV2 {size}x{size}", mobilenet, "out_relu", images, repeat)
    quality = _quality(quick)
    return (
        "## The CAM family: cost and which to pick\n\n"
        "Per-explanation latency at batch 32 (fewer images for the per-channel methods) against the floor "
        "measured in the same run: a bare `tf.function` doing one forward + backward pass to the same layer. "
        "Goals: gradient CAMs <= 1.2x the floor, <= 1.5x per augmentation with `aug_smooth`; Ablation-CAM <= "
        "one forward pass of the backbone plus one head pass per channel batch (its own floor, last column).\n\n"
        + table(["model", "method", "images", "ms per explanation", "x floor", "note"], rows)
        + "\n\nWhich CAM to pick, on planted-shapes images of the demo CNN (each image's true class; the "
        "object mask is the ground truth). Pointing game: the share of images whose map peaks on the object "
        "(no tolerance; higher is better). Deletion AUC: the probability as the most relevant pixels are "
        "zeroed first (lower is better); insertion AUC: as they are restored into a blurred copy (higher is "
        "better). 95% intervals over images. Zeroing pixels in a scattered order also destroys the object, "
        "so the random map's deletion AUC is low too: read deletion beside the controls.\n\n"
        + table(["explanation", "pointing game", "95% CI", "deletion AUC", "95% CI", "insertion AUC", "95% CI"],
                quality)
        + f"\n\nPeak RSS {peak_rss_mb():.0f} MB.\n"
    )
