"""Conformance over keras.applications: every family flat (classes=k) and nested as a backbone (the
transfer-learning pattern), weights=None, a fixed seed, small inputs.

The default run covers six cases of ``benchmarks._zoo.SUBSET`` (one member of each architecture
idea, the issue's EfficientNetB0 in both shapes), with Score-CAM on the cheapest; the whole zoo, every
family in both shapes with every check, runs with ``python -m pytest -m slow tests/test_model_zoo.py``
(its result is in benchmarks/RESULTS.md).
"""
from __future__ import annotations

import numpy as np
import pytest

import superexplain
from benchmarks._zoo import FAMILIES, SUBSET, build, sample_images

#: Families whose nonlinearities guided backpropagation cannot rectify (swish, hard swish, GELU, sigmoid gates).
NOT_RELU = ("EfficientNet", "MobileNetV3", "ConvNeXt")
#: Input side per family: 64 gives 2x2 final maps for the stride-32 families; Inception-style stems need more.
SIZES = {"InceptionV3": 107, "InceptionResNetV2": 107, "Xception": 96}

#: (family, shape) in the default run; Score-CAM (one forward pass per channel) only on the first.
DEFAULT = [("MobileNetV3Small", "nested"), ("EfficientNetB0", "flat"), ("EfficientNetB0", "nested"),
           ("ConvNeXtTiny", "nested"), ("ResNet50V2", "flat"), ("DenseNet121", "nested")]
assert {name for name, _ in DEFAULT} == set(SUBSET)
CASES = [pytest.param(name, shape, i == 0, id=f"{name}-{shape}") for i, (name, shape) in enumerate(DEFAULT)]
SLOW_CASES = [pytest.param(f.name, shape, id=f"{f.name}-{shape}", marks=pytest.mark.slow)
              for f in FAMILIES for shape in ("flat", "nested")]


def _size(name: str) -> int:
    return SIZES.get(name, 64)


def _network(model, shape: str):
    """The network whose layers are named: the model itself (flat) or its backbone (nested, layer 1)."""
    return model if shape == "flat" else model.layers[1]


def _expected_automatic_layer(keras, model, shape: str) -> str:
    """The documented rule, written against the public layer list: the last rank-4 layer, not 1x1 if any is larger."""
    network = _network(model, shape)
    spatial = [layer for layer in network.layers
               if not isinstance(layer, keras.layers.InputLayer) and len(layer.output.shape) == 4]
    located = [layer for layer in spatial if tuple(layer.output.shape[1:3]) != (1, 1)]
    name = (located or spatial)[-1].name
    return name if shape == "flat" else f"{network.name}/{name}"


def _reference_signed_gradcam(keras, model, shape: str, layer_name: str, images: np.ndarray, targets) -> np.ndarray:
    """Grad-CAM of the logit for a batch, by a GradientTape over sub-models split at the layer (public API only).

    Compiled, as eager gradients of some models abort inside TensorFlow 2.21's oneDNN kernels
    (see tests/test_pretrained_fer.py). Computed on the same batch as the method's call: float32
    kernels depend on the batch shape (ResNet152's maps move by 1.6e-5 relative between a batch of
    1 and of 2), which would swamp the 1e-5 comparison.
    """
    import tensorflow as tf

    if shape == "flat":
        last = model.layers[-1]  # Dense(softmax) "predictions", or Activation("softmax") after a 1x1 conv head
        exposed = keras.Model(model.inputs, [model.get_layer(layer_name).output, last.input])

        def logits_of(x):
            activations, features = exposed(x, training=False)
            return activations, (features @ last.kernel + last.bias if isinstance(last, keras.layers.Dense)
                                 else features)
    else:
        backbone, head = model.layers[1], model.get_layer("head")
        inner = keras.Model(backbone.inputs, [backbone.get_layer(layer_name).output, backbone.outputs[0]])

        def logits_of(x):
            activations, features = inner(x, training=False)
            return activations, tf.reduce_mean(features, axis=(1, 2)) @ head.kernel + head.bias

    @tf.function
    def reference(x, t):
        with tf.GradientTape() as tape:
            activations, logits = logits_of(x)
            score = tf.reduce_sum(tf.gather(logits, t, axis=1, batch_dims=1))  # images are independent
        return activations, tape.gradient(score, activations)

    activations, gradients = reference(tf.constant(images), tf.constant(np.asarray(targets, np.int32)))
    gradients = gradients.numpy().astype(np.float64)
    activations = activations.numpy().astype(np.float64)
    return np.einsum("nhwc,nc->nhw", activations, gradients.mean(axis=(1, 2)))


_BUILT: dict = {}


def _case(name: str, shape: str):
    if (name, shape) not in _BUILT:
        _BUILT.clear()  # one model alive at a time: the large families are hundreds of MB each
        model = build(name, shape, size=_size(name), classes=5, seed=0)
        _BUILT[(name, shape)] = (model, sample_images(name, 2, size=_size(name), seed=1))
    return _BUILT[(name, shape)]


def _check_cams(keras, name: str, shape: str, scorecam: bool) -> None:
    model, images = _case(name, shape)
    network = _network(model, shape)
    automatic = superexplain.explain(model, images, method="gradcam", relu=False, verbose=0)
    expected_layer = _expected_automatic_layer(keras, model, shape)
    assert automatic[0].params["layer"] == expected_layer and automatic[0].params["layer_automatic"]
    assert "automatic" in automatic[0].params["layer_reason"]
    leaf = expected_layer.rsplit("/", 1)[-1]
    expected = _reference_signed_gradcam(keras, model, shape, leaf, images, [e.target for e in automatic])
    for explanation, reference in zip(automatic, expected):
        np.testing.assert_allclose(explanation.feature_map, reference, rtol=1e-5,
                                   atol=1e-5 * max(np.abs(reference).max(), 1e-30))
    # a layer inside the backbone, by path and by the layer object: the same map
    inner = superexplain.gradcam.layers.candidate_layers(model)[-4]
    inner_layer = network.get_layer(inner.rsplit("/", 1)[-1])
    by_path = superexplain.explain(model, images[0], method="gradcam", layer=inner, target=3, relu=False, verbose=0)
    by_object = superexplain.explain(model, images[0], method="gradcam", layer=inner_layer, target=3, relu=False,
                                     verbose=0)
    assert by_path.params["layer"] == inner == by_object.params["layer"]
    np.testing.assert_array_equal(by_path.feature_map, by_object.feature_map)
    expected = _reference_signed_gradcam(keras, model, shape, inner_layer.name, images[:1], [3])[0]
    np.testing.assert_allclose(by_path.feature_map, expected, rtol=1e-5, atol=1e-5 * max(np.abs(expected).max(), 1e-30))
    runs = [(method, layer) for method in ("gradcam++", "layercam") for layer in (None, inner)]
    if scorecam:  # on the automatic layer: an inner layer can have thousands of channels, each a forward pass
        runs.append(("scorecam", None))
    for method, layer in runs:
        explanation = superexplain.explain(model, images[0], method=method, layer=layer, verbose=0)
        assert np.all(np.isfinite(explanation.heatmap)) and np.all(explanation.heatmap >= 0)
        assert explanation.heatmap.shape == images.shape[1:3]
        assert explanation.params["layer"] == (expected_layer if layer is None else inner)


def _check_other_methods(name: str, shape: str) -> None:
    model, images = _case(name, shape)
    image = images[0]
    gradients = superexplain.explain(model, image, method="integrated_gradients", steps=16, verbose=0)
    assert np.isfinite(gradients.params["completeness_gap"])
    for method, options in (("saliency", {}), ("smoothgrad", {"num_samples": 4}),
                            ("lime", {"num_samples": 64}), ("kernelshap", {"num_samples": 64}),
                            ("occlusion", {}), ("rise", {"num_masks": 32})):
        if method in ("lime", "kernelshap", "occlusion"):
            side = -(-image.shape[0] // 4)  # a 4x4 grid, cropped to sides that 4 does not divide (107)
            grid = np.arange(16).reshape(4, 4).repeat(side, axis=0).repeat(side, axis=1)
            options["segments"] = grid[:image.shape[0], :image.shape[1]]
        explanation = superexplain.explain(model, image, method=method, random_state=0, verbose=0, **options)
        assert np.all(np.isfinite(explanation.heatmap)), method
    if name.startswith(NOT_RELU):
        with pytest.raises(ValueError, match="guided backpropagation rectifies ReLU units only"):
            superexplain.explain(model, image, method="guided_backprop", verbose=0)
    else:
        guided = superexplain.explain(model, image, method="guided_backprop", verbose=0)
        assert guided.params["guided_relus"] > 0 and np.all(np.isfinite(guided.heatmap))


@pytest.mark.parametrize("name, shape, scorecam", CASES)
def test_cam_family_on_keras_applications(keras, name, shape, scorecam):
    _check_cams(keras, name, shape, scorecam)


#: The other methods in the default run on two cases (a ReLU family nested, a swish family flat).
OTHER_CASES = [pytest.param("ResNet50V2", "nested", id="ResNet50V2-nested"),
               pytest.param("EfficientNetB0", "flat", id="EfficientNetB0-flat")]


@pytest.mark.parametrize("name, shape", OTHER_CASES)
def test_pixel_and_perturbation_methods_on_keras_applications(name, shape):
    _check_other_methods(name, shape)


@pytest.mark.parametrize("name, shape", SLOW_CASES)
def test_whole_zoo(keras, name, shape):
    """Every family in both shapes: the CAM checks, the automatic layer and the reference; then, on the flat
    model, Score-CAM and every other method (one build per case).

    Score-CAM and the pixel and perturbation methods see the nested model only through its forward
    pass, which the CAM checks already exercise on both shapes; on the flat shape alone the run
    stays near an hour on 2 CPU cores (Score-CAM is one forward pass per channel: 2048 for ResNet).
    """
    _check_cams(keras, name, shape, scorecam=shape == "flat")
    if shape == "flat":
        _check_other_methods(name, shape)
