"""CAMs on a subclassed Keras model: layers named by attribute path, their outputs captured in the model's own call,
checked against the sublayers run by hand (the papers' formulas in numpy) and against a Functional copy."""
from __future__ import annotations

import numpy as np
import pytest

import superexplain
from superexplain.gradcam import GradCAM
from superexplain.gradcam.subclassed_capture import capturing

SIZE = 12


def _net_class(keras):
    class Backbone(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.conv = keras.layers.Conv2D(6, 3, activation="relu", name="inner_conv")
            self.pool = keras.layers.AveragePooling2D(2)

        def call(self, x):
            return self.pool(self.conv(x))

    class Net(keras.Model):
        def __init__(self, fail=False, twice=False, softmax=False):
            super().__init__()
            self.stem = keras.layers.Conv2D(5, 3, padding="same", activation="relu", name="stem_conv")
            self.backbone = Backbone(name="backbone")
            self.gap = keras.layers.GlobalAveragePooling2D()
            self.head = keras.layers.Dense(3, activation="softmax" if softmax else None)
            self.fail, self.twice = fail, twice

        def call(self, x):
            if self.fail:
                raise RuntimeError("planted failure")
            x = self.stem(x)
            if self.twice:  # the same layer object called again: no single output to map
                x = self.stem(x[..., :3])
            return self.head(self.gap(self.backbone(x)))

    return Net


@pytest.fixture(scope="module")
def net(keras):
    keras.utils.set_random_seed(3)
    model = _net_class(keras)()
    model(np.zeros((1, SIZE, SIZE, 3), "float32"))
    return model


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(5).random((2, SIZE, SIZE, 3)).astype("float32")


def _by_hand(model, images, layer, target):
    """The explained layer's activations and the target score's gradients, the sublayers called one by one."""
    import tensorflow as tf

    x = tf.constant(images)
    with tf.GradientTape() as tape:
        stem = model.stem(x)
        inner = model.backbone.conv(stem)
        scores = model.head(model.gap(model.backbone.pool(inner)))
        total = tf.reduce_sum(tf.gather(scores, target, batch_dims=1))
    activations = {"stem": stem, "backbone.conv": inner}[layer]
    return activations.numpy().astype(np.float64), tape.gradient(total, activations).numpy().astype(np.float64)


def _formula(method, activations, gradients):
    """Grad-CAM: ReLU(sum_c mean_ij(g_c) A_c); LayerCAM: ReLU(sum_c ReLU(g_c) A_c); HiResCAM: ReLU(sum_c g_c A_c)."""
    if method == "gradcam":
        return np.maximum(np.einsum("nhwc,nc->nhw", activations, gradients.mean(axis=(1, 2))), 0.0)
    if method == "layercam":
        return np.maximum((np.maximum(gradients, 0.0) * activations).sum(-1), 0.0)
    return np.maximum((gradients * activations).sum(-1), 0.0)


@pytest.mark.parametrize("layer", ["stem", "backbone.conv"])
def test_cams_of_a_subclassed_model_match_the_formulas_on_the_layers_run_by_hand(net, images, layer):
    targets = [[0, 2], [1, 0]]  # two targets per image: the vectorised Jacobian
    for method in ("gradcam", "layercam", "hirescam"):
        explanations = superexplain.explain(net, images, method=method, target=targets, layer=layer, verbose=0)
        assert len(explanations) == 4
        for index, explanation in enumerate(explanations):
            image, k = divmod(index, 2)
            target = targets[image][k]
            activations, gradients = _by_hand(net, images[image:image + 1], layer, [target])
            expected = _formula(method, activations, gradients)[0]
            assert explanation.target == target and explanation.heatmap.shape == (SIZE, SIZE)
            assert explanation.params["layer"] == layer and explanation.params["score_kind"] == "output"
            np.testing.assert_allclose(explanation.feature_map, expected, rtol=1e-5, atol=1e-6 * np.abs(expected).max())
            assert explanation.score == pytest.approx(float(net(images[image:image + 1])[0, target]), rel=1e-5)
            assert expected.max() > 0  # a map that could have been wrong


def test_a_functional_copy_of_the_same_weights_gives_the_same_maps(keras, net, images):
    inputs = keras.Input((SIZE, SIZE, 3))
    stem = keras.layers.Conv2D(5, 3, padding="same", activation="relu", name="stem_conv")
    inner = keras.layers.Conv2D(6, 3, activation="relu", name="inner_conv")
    head = keras.layers.Dense(3)
    x = keras.layers.AveragePooling2D(2)(inner(stem(inputs)))
    functional = keras.Model(inputs, head(keras.layers.GlobalAveragePooling2D()(x)))
    for copy, original in ((stem, net.stem), (inner, net.backbone.conv), (head, net.head)):
        copy.set_weights(original.get_weights())
    for method in ("gradcam", "gradcam++", "xgradcam", "eigengradcam", "scorecam"):
        for ours, theirs in (("stem", "stem_conv"), ("backbone/inner_conv", "inner_conv")):
            sub = superexplain.explain(net, images, method=method, top_labels=2, layer=ours, verbose=0)
            func = superexplain.explain(functional, images, method=method, top_labels=2, layer=theirs, verbose=0)
            for a, b in zip(sub, func):
                assert a.target == b.target and a.params["layer"] == ours
                scale = np.abs(b.feature_map).max()
                np.testing.assert_allclose(a.feature_map, b.feature_map, rtol=1e-4, atol=1e-5 * scale)
                np.testing.assert_allclose(a.heatmap, b.heatmap, rtol=1e-4, atol=1e-5 * scale)


def test_the_layer_is_left_as_it_was_after_an_error_inside_the_model(keras, images):
    from superexplain.gradcam.cams import run_gradcam
    from superexplain.models import as_predictor

    model = _net_class(keras)()
    model(images)
    before = model.stem(images).numpy()
    layers = (model.stem, model.backbone, model.backbone.conv, model.gap, model.head)
    model.fail = True  # raised while the probe traces the model with every sublayer recorded
    with pytest.raises(RuntimeError, match="planted failure"):
        superexplain.explain(model, images, layer="stem", verbose=0)
    assert not any("call" in vars(layer) for layer in layers)
    model.fail = False
    predictor = as_predictor(model)
    predictor.predict(images)  # the class count known, the probe cached: the next error comes from the CAM's trace
    GradCAM(model, layer="stem")
    model.fail = True
    with pytest.raises(RuntimeError, match="planted failure"):
        run_gradcam(predictor, images, layer="backbone.conv", verbose=0)
    assert not any("call" in vars(layer) for layer in layers)
    with pytest.raises(ZeroDivisionError):
        with capturing(layers):
            1 / 0
    assert not any("call" in vars(layer) for layer in layers)
    np.testing.assert_array_equal(model.stem(images).numpy(), before)
    model.fail = False
    assert superexplain.explain(model, images[0], layer="backbone.conv", verbose=0).feature_map.shape == (10, 10)
    assert not any("call" in vars(layer) for layer in layers)


def test_a_softmax_output_is_explained_as_it_is_and_recorded_as_the_output(keras, images):
    keras.utils.set_random_seed(4)
    model = _net_class(keras)(softmax=True)
    model(images)
    for score in ("logit", "probability"):  # the logits inside call() cannot be reached: the output is explained
        explanation = superexplain.explain(model, images[0], layer="stem", target=1, score=score, verbose=0)
        activations, gradients = _by_hand(model, images[:1], "stem", [1])
        assert explanation.params["score_kind"] == "output"
        assert explanation.score == pytest.approx(float(model(images[:1])[0, 1]), rel=1e-5)
        expected = _formula("gradcam", activations, gradients)[0]
        np.testing.assert_allclose(explanation.feature_map, expected, rtol=1e-5, atol=1e-6 * np.abs(expected).max())


def test_a_layer_called_twice_in_one_pass_is_refused(keras, images):
    model = _net_class(keras)(twice=True)
    model(images)
    with pytest.raises(ValueError, match=r"layer 'stem' is called 2 times in one forward pass"):
        superexplain.explain(model, images, layer="stem", verbose=0)


def test_missing_and_unnamed_layers_are_refused_with_the_sublayers(keras, net, images):
    with pytest.raises(ValueError, match=r"'stme' is not a layer.*close matches: 'stem'.*'backbone\.conv'"):
        superexplain.explain(net, images, layer="stme", verbose=0)
    with pytest.raises(TypeError, match=r"subclassed model.*layer=.*'stem' \(None, 12, 12, 5\).*'backbone\.conv'"):
        superexplain.explain(net, images, verbose=0)
    with pytest.raises(ValueError, match=r"'gap' has output shape \(None, 6\)"):
        superexplain.explain(net, images, layer="gap", verbose=0)
    with pytest.raises(ValueError, match="has not been built"):
        superexplain.explain(_net_class(keras)(), images, layer="stem", verbose=0)


def test_methods_that_cut_the_model_in_two_are_refused_with_the_ones_that_work(net, images):
    for method in ("ablationcam", "feature_factorization"):
        with pytest.raises(TypeError, match="cut the model in two.*gradcam, gradcam\\+\\+"):
            superexplain.explain(net, images, method=method, layer="stem", verbose=0)
    with pytest.raises(TypeError, match="Functional or Sequential"):
        superexplain.explain(net, images, method="fullgrad", verbose=0)


def test_layer_objects_indices_and_score_kinds_are_accepted(net, images):
    by_object = GradCAM(net, layer=net.backbone.conv).explain(images[0])
    by_index = GradCAM(net, layer=1, score="probability").explain(images[0])  # model.layers[1]: the backbone
    by_path = superexplain.explain(net, images[0], layer="backbone.conv", verbose=0)
    assert by_object.params["layer"] == "backbone.conv" and by_index.params["layer"] == "backbone"
    np.testing.assert_array_equal(by_object.feature_map, by_path.feature_map)
    assert by_index.params["score_kind"] == "output" and by_index.feature_map.shape == (5, 5)
