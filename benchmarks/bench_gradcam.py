"""Grad-CAM family speed: ours against a bare compiled forward+backward pass (the floor) and the Keras example recipe."""
from __future__ import annotations

import warnings

import numpy as np

from ._common import best_time, peak_rss_mb, table


def _floor_function(model, layer_name):
    """The least any Grad-CAM can do: one compiled forward + backward pass to the layer, top class."""
    import keras
    import tensorflow as tf

    grad_model = keras.Model(model.inputs[0], [model.get_layer(layer_name).output, model.outputs[0]])

    @tf.function(input_signature=[tf.TensorSpec([None, *model.inputs[0].shape[1:]], tf.float32)])
    def floor(x):
        with tf.GradientTape() as tape:
            activations, outputs = grad_model(x, training=False)
            score = tf.reduce_sum(tf.reduce_max(outputs, axis=1))
        return tape.gradient(score, activations)

    return floor


def _keras_example_recipe(model, layer_name, image):
    """Grad-CAM as the keras.io example writes it: eager, one image at a time."""
    import keras
    import tensorflow as tf

    grad_model = keras.models.Model(model.inputs, [model.get_layer(layer_name).output, model.output])
    with tf.GradientTape() as tape, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the recipe's list-of-inputs model warns on a tensor input
        last_conv_layer_output, preds = grad_model(image[None])
        pred_index = tf.argmax(preds[0])
        class_channel = preds[:, pred_index]
    grads = tape.gradient(class_channel, last_conv_layer_output)
    pooled_grads = tf.reduce_mean(grads, axis=(0, 1, 2))
    heatmap = last_conv_layer_output[0] @ pooled_grads[..., tf.newaxis]
    heatmap = tf.squeeze(heatmap)
    return (tf.maximum(heatmap, 0) / tf.math.reduce_max(heatmap)).numpy()


def _third_party() -> list[list[str]]:
    rows = []
    for name, module in (("tf-keras-vis", "tf_keras_vis.gradcam"), ("xplique", "xplique.attributions")):
        try:
            __import__(module)
            rows.append([name, "imports beside Keras 3" + (" (timed above)" if name == "tf-keras-vis" else "")])
        except Exception as exc:  # any failure is the finding: record it
            rows.append([name, f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"])
    return rows


def _tf_keras_vis(model, layer_name, images, repeat):
    """Seconds per image for tf-keras-vis's Gradcam (its defaults: linear-activation clone, normalised maps)."""
    try:
        from tf_keras_vis.gradcam import Gradcam
        from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
        from tf_keras_vis.utils.scores import CategoricalScore
    except Exception:  # not installed here: reported in the third-party table
        return None
    cam = Gradcam(model, model_modifier=ReplaceToLinear(), clone=True)
    score = CategoricalScore(list(model(images).numpy().argmax(axis=1)))
    return best_time(lambda: cam(score, images, penultimate_layer=layer_name), repeat=repeat) / len(images)


def _bench_model(label, model, layer_name, images, batch, recipe_images, repeat):
    import tensorflow as tf

    from superexplain.registry import method_function
    from superexplain.models import as_predictor

    predictor = as_predictor(model)
    floor = _floor_function(model, layer_name)
    floor_s = best_time(lambda: floor(tf.constant(images)).numpy(), repeat=repeat) / len(images)
    rows = [[label, "floor: compiled forward+backward", batch, 1, floor_s * 1e3, 1 / floor_s, 1.0]]
    cases = [("gradcam", {}), ("gradcam++", {}), ("layercam", {}), ("gradcam", {"top_labels": 3})]
    for method, extra in cases:
        run = method_function(method)
        count = len(images) * extra.get("top_labels", 1)
        seconds = best_time(lambda: run(predictor, images, layer=layer_name, batch_size=batch, verbose=0, **extra),
                            repeat=repeat) / count
        name = method + (f", top_labels={extra['top_labels']} (per explanation)" if extra else "")
        rows.append([label, name, batch, extra.get("top_labels", 1), seconds * 1e3, 1 / seconds, seconds / floor_s])
    recipe_s = best_time(lambda: [_keras_example_recipe(model, layer_name, image) for image in recipe_images],
                         repeat=max(1, repeat - 1)) / len(recipe_images)
    rows.append([label, "Keras example recipe (eager, 1 image)", 1, 1, recipe_s * 1e3, 1 / recipe_s, recipe_s / floor_s])
    vis_s = _tf_keras_vis(model, layer_name, images, repeat)
    if vis_s is not None:
        rows.append([label, "tf-keras-vis Gradcam", batch, 1, vis_s * 1e3, 1 / vis_s, vis_s / floor_s])
    ours = rows[1][4]
    return rows, recipe_s * 1e3 / ours


def run(quick: bool = False) -> str:
    import keras

    from superexplain.datasets import load_demo_model, make_shapes

    batch = 4 if quick else 32
    repeat = 1 if quick else 3
    rows, speedups = [], []
    demo = load_demo_model()
    demo_images = make_shapes(batch, seed=9).images
    model_rows, speedup = _bench_model("demo 64x64", demo, "last_conv", demo_images, batch,
                                       demo_images[: 2 if quick else 16], repeat)
    rows += model_rows
    speedups.append(["demo 64x64", speedup])
    size = 96 if quick else 224
    mobilenet = keras.applications.MobileNetV2(weights=None, input_shape=(size, size, 3))
    mobile_images = np.random.default_rng(0).random((batch, size, size, 3)).astype("float32")
    model_rows, speedup = _bench_model(f"MobileNetV2 {size}x{size}", mobilenet, "out_relu", mobile_images, batch,
                                       mobile_images[: 2 if quick else 8], repeat)
    rows += model_rows
    speedups.append([f"MobileNetV2 {size}x{size}", speedup])
    return (
        "## Grad-CAM family (superexplain.gradcam)\n\n"
        "Per-image (per-explanation) latency at one batch, against the floor: the same model under a bare "
        "`tf.function` doing one forward + backward pass to the same layer. Goals: Grad-CAM <= 1.2x the floor, "
        "Grad-CAM++ / LayerCAM / several targets <= 1.5x; the Keras example recipe (keras.io `make_gradcam_heatmap`: "
        "builds its gradient model and runs eagerly on each call, one image at a time) "
        ">= 30x slower than ours on the demo model.\n\n"
        + table(["model", "method", "batch", "targets/image", "ms per explanation", "explanations/s", "x floor"], rows)
        + "\n\n" + table(["model", "Keras recipe / ours (Grad-CAM)"], speedups)
        + "\n\nThird-party Grad-CAM packages in this environment (TensorFlow/Keras 3):\n\n"
        + table(["package", "status"], _third_party())
        + f"\n\nPeak RSS {peak_rss_mb():.0f} MB.\n"
    )
