"""Layer resolution (names, indices, instances, nested paths, automatic choice) and every bad-input case."""
from __future__ import annotations

import numpy as np
import pytest

from superexplain.gradcam import GradCAM, resolve_layer
from superexplain.gradcam.layers import candidate_layers
from superexplain.gradcam.cams import run_gradcam
from superexplain.models import as_predictor


@pytest.fixture(scope="module")
def nested(keras):
    keras.utils.set_random_seed(31)
    inner_inputs = keras.Input((8, 8, 4))
    y = keras.layers.Conv2D(6, 3, padding="same", name="inner_conv")(inner_inputs)
    y = keras.layers.BatchNormalization(name="inner_bn")(y)
    sub = keras.Model(inner_inputs, keras.layers.ReLU(name="inner_relu")(y), name="sub")
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="c1")(inputs)
    x = sub(keras.layers.MaxPooling2D(name="pool")(x))
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="head")(x))


@pytest.fixture(scope="module")
def sequential(keras):
    keras.utils.set_random_seed(32)
    return keras.Sequential([
        keras.Input((10, 10, 3)),
        keras.layers.Conv2D(4, 3, activation="relu", name="q_conv1"),
        keras.layers.Conv2D(4, 3, activation="relu", name="q_conv2"),
        keras.layers.Flatten(name="q_flat"),
        keras.layers.Dense(2, activation="softmax", name="q_dense"),
    ])


@pytest.fixture(scope="module")
def mobilenet_in_backbone(keras):
    backbone = keras.applications.MobileNetV2(weights=None, input_shape=(96, 96, 3), include_top=False)
    backbone.name = "backbone"
    inputs = keras.Input((96, 96, 3))
    features = keras.layers.GlobalAveragePooling2D()(backbone(inputs))
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(features))


def test_layer_given_by_name_index_instance_and_nested_path(nested):
    sub = nested.get_layer("sub")
    assert resolve_layer(nested, "c1").name == "c1"
    assert resolve_layer(nested, 1).name == "c1"
    assert resolve_layer(nested, -3).name == "sub"  # the sub-model itself, as a whole
    assert resolve_layer(nested, nested.get_layer("pool")).name == "pool"
    assert resolve_layer(nested, "sub/inner_bn").name == "sub/inner_bn"
    assert resolve_layer(nested, "inner_conv").name == "sub/inner_conv"  # a unique bare nested name
    assert resolve_layer(nested, sub.get_layer("inner_conv")).name == "sub/inner_conv"
    assert resolve_layer(nested, "sub/inner_bn").output_shape == (None, 8, 8, 6)


def test_automatic_choice_on_sequential_functional_and_nested(keras, sequential, nested):
    assert resolve_layer(sequential).name == "q_conv2"
    assert resolve_layer(nested).name == "sub/inner_relu"
    assert resolve_layer(nested).automatic
    keras.utils.set_random_seed(33)
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(2, 3, name="only_conv")(inputs)
    flat = keras.layers.Flatten()(x)
    model = keras.Model(inputs, keras.layers.Dense(2)(flat))
    assert resolve_layer(model).name == "only_conv"
    explanation = run_gradcam(as_predictor(sequential), np.zeros((1, 10, 10, 3), "float32"), verbose=0)[0]
    assert explanation.params["layer"] == "q_conv2" and explanation.params["layer_automatic"] is True


def test_automatic_choice_on_mobilenetv2_standalone_and_as_nested_backbone(keras, mobilenet_in_backbone):
    standalone = keras.applications.MobileNetV2(weights=None, input_shape=(96, 96, 3), classes=3)
    assert resolve_layer(standalone).name == "out_relu"
    resolved = resolve_layer(mobilenet_in_backbone)
    assert resolved.name == "backbone/out_relu"
    assert resolved.output_shape == (None, 3, 3, 1280)
    assert resolve_layer(mobilenet_in_backbone, "backbone/block_13_expand_relu").output_shape[1:3] == (6, 6)


def test_gradcam_on_nested_mobilenet_backbone_matches_reference(keras, mobilenet_in_backbone, rng):
    import tensorflow as tf

    model = mobilenet_in_backbone
    backbone = model.get_layer("backbone")
    head = model.layers[-1]
    image = rng.random((1, 96, 96, 3)).astype("float32")
    exposed = keras.Model(backbone.inputs[0], [backbone.get_layer("block_16_project_BN").output, backbone.outputs[0]])
    x = tf.constant(image)
    with tf.GradientTape() as tape:
        tape.watch(x)
        activations, features = exposed(x, training=False)
        logits = tf.reduce_mean(features, axis=(1, 2)) @ head.kernel + head.bias
        score = logits[0, 2]
    gradients = tape.gradient(score, activations).numpy()
    expected = np.einsum("hwc,c->hw", activations.numpy()[0], gradients[0].mean(axis=(0, 1)))
    explanation = GradCAM(model, layer="backbone/block_16_project_BN", relu=False).explain(image[0], targets=2)
    np.testing.assert_allclose(explanation.feature_map, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())
    assert explanation.heatmap.shape == (96, 96)


def test_unknown_layer_name_lists_close_matches(nested):
    with pytest.raises(ValueError, match=r"layer='inner_con' is not a layer.*'sub/inner_conv'"):
        resolve_layer(nested, "inner_con")
    with pytest.raises(ValueError, match=r"close matches: 'c1'"):
        GradCAM(nested, layer="c2")
    with pytest.raises(ValueError, match="not a layer"):
        resolve_layer(nested, "sub/nothing")


def test_layer_without_spatial_output_is_refused_with_candidates(nested):
    with pytest.raises(ValueError, match=r"layer 'gap' has output shape \(None, 6\).*spatial.*'c1'"):
        resolve_layer(nested, "gap")


def test_dense_only_model_has_no_automatic_layer_and_lists_layers(keras):
    inputs = keras.Input((4, 4, 1))
    x = keras.layers.Flatten(name="flat")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, name="dense_out")(x))
    assert candidate_layers(model) == []
    with pytest.raises(ValueError, match=r"no layer with a spatial.*flat.*dense_out"):
        resolve_layer(model)


def test_bad_layer_types_and_indices(nested, keras):
    with pytest.raises(ValueError, match="out of range"):
        resolve_layer(nested, 40)
    with pytest.raises(ValueError, match=r"layer=0 is the model's input layer.*image itself"):
        resolve_layer(nested, 0)
    with pytest.raises(ValueError, match=r"input layer"):
        resolve_layer(nested, nested.layers[0])
    with pytest.raises(TypeError, match="layer must be None, a layer name"):
        resolve_layer(nested, 2.5)
    foreign = keras.layers.Conv2D(2, 3, name="foreign")
    with pytest.raises(ValueError, match="'foreign'.*not a layer of this model"):
        resolve_layer(nested, foreign)


def test_plain_callable_is_refused_with_a_pointer_to_perturbation_methods():
    with pytest.raises(TypeError, match="Keras model.*perturbation method"):
        GradCAM(lambda x: x.mean(axis=(1, 2)))
    with pytest.raises(TypeError, match="perturbation method"):
        run_gradcam(as_predictor(lambda x: x.mean(axis=(1, 2))), np.zeros((1, 4, 4, 3), "float32"), verbose=0)


def test_subclassed_model_is_refused(keras):
    class Tiny(keras.Model):
        def __init__(self):
            super().__init__()
            self.conv = keras.layers.Conv2D(2, 3)
            self.pool = keras.layers.GlobalAveragePooling2D()

        def call(self, x):
            return self.pool(self.conv(x))

    model = Tiny()
    model(np.zeros((1, 8, 8, 3), "float32"))
    with pytest.raises(TypeError, match="Functional or Sequential"):
        resolve_layer(model)


def test_bad_targets_are_refused(nested, rng):
    predictor = as_predictor(nested, class_names=["cat", "dog", "bird"])
    images = rng.random((3, 16, 16, 3)).astype("float32")
    with pytest.raises(ValueError, match="targets has 2 entries but 3 image"):
        run_gradcam(predictor, images, targets=[0, 1], verbose=0)
    with pytest.raises(ValueError, match="out of range"):
        run_gradcam(predictor, images, targets=3, verbose=0)
    with pytest.raises(ValueError, match="'dgo' is not a known class name.*'dog'"):
        run_gradcam(predictor, images, targets="dgo", verbose=0)
    with pytest.raises(ValueError, match="top_labels must be <= 3"):
        run_gradcam(predictor, images, top_labels=4, verbose=0)
    with pytest.raises(ValueError, match="either targets"):
        run_gradcam(predictor, images, targets=0, top_labels=1, verbose=0)
    explanations = run_gradcam(predictor, images, targets=["dog", [0, "bird"], 2], verbose=0)
    assert [(e.target, e.target_name) for e in explanations] == [(1, "dog"), (0, "cat"), (2, "bird"), (2, "bird")]


def test_bad_options_are_refused(nested):
    with pytest.raises(ValueError, match="score must be one of"):
        GradCAM(nested, score="softmax")
    with pytest.raises(ValueError, match="method must be one of"):
        GradCAM(nested, method="gradcam+")
    with pytest.raises(TypeError, match="relu must be True or False"):
        GradCAM(nested, relu="yes")
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        run_gradcam(as_predictor(nested), np.zeros((1, 16, 16, 3), "float32"), batch_size=0, verbose=0)


def test_non_differentiable_model_is_refused(keras):
    from keras import ops

    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(2, 3, name="conv")(inputs)
    x = keras.layers.Lambda(lambda t: ops.round(t), name="rounding")(x)
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, outputs)
    with pytest.raises(ValueError, match="does not depend differentiably on layer 'conv'"):
        run_gradcam(as_predictor(model), np.ones((1, 8, 8, 1), "float32"), layer="conv", verbose=0)


def test_single_image_gives_one_explanation_and_batch_a_list_in_order(nested, rng):
    cam = GradCAM(nested, method="layercam")
    images = rng.random((2, 16, 16, 3)).astype("float32")
    one = cam.explain(images[1])
    assert one.method == "layercam" and one.heatmap.shape == (16, 16) and one.feature_map.shape == (8, 8)
    several = cam.explain(images)
    assert isinstance(several, list) and [e.target for e in several] == [several[0].target, one.target]
    np.testing.assert_allclose(several[1].feature_map, one.feature_map, rtol=1e-6, atol=1e-9)
    assert "layercam" in repr(cam) and "sub/inner_relu" in repr(cam)


def test_nested_model_as_a_whole_maps_the_same_tensor_as_its_output_layer(nested, rng):
    images = rng.random((2, 16, 16, 3)).astype("float32")
    whole = run_gradcam(as_predictor(nested), images, layer="sub", relu=False, verbose=0)
    inner = run_gradcam(as_predictor(nested), images, layer="sub/inner_relu", relu=False, verbose=0)
    for a, b in zip(whole, inner):
        assert a.params["layer"] == "sub" and b.params["layer"] == "sub/inner_relu"
        np.testing.assert_allclose(a.feature_map, b.feature_map, rtol=1e-6, atol=1e-9)


def test_explain_dispatches_every_cam_method_by_name(nested, rng):
    from superexplain.explain import explain

    image = rng.random((16, 16, 3)).astype("float32")
    for method in ("gradcam", "gradcam++", "layercam", "scorecam"):
        explanation = explain(nested, image, method=method, target=1, layer="sub/inner_relu", verbose=0)
        assert explanation.method == method and explanation.target == 1
        assert explanation.params["layer"] == "sub/inner_relu"
        assert explanation.heatmap.shape == (16, 16) and np.all(explanation.feature_map >= 0)
