"""FullGrad: the full-gradient completeness identity, and the map against the paper's formula written here on
a plain GradientTape."""
from __future__ import annotations

import numpy as np
import pytest

import superexplain
from superexplain.gradcam.fullgrad import full_gradient_terms, run_fullgrad
from superexplain.models import as_predictor

from test_gradcam_reference import _set_batchnorm_statistics, nested_model, sequential_model  # noqa: F401


def _random_biases(model, seed):
    """The fixtures' biases start at zero; non-zero ones make every bias term count."""
    rng = np.random.default_rng(seed)
    layers = list(model.layers)
    while layers:
        layer = layers.pop(0)
        layers.extend(getattr(layer, "layers", []))  # a nested model's own layers
        if getattr(layer, "use_bias", False):
            layer.bias.assign(rng.normal(0.0, 0.2, layer.bias.shape).astype("float32"))
    return model


@pytest.fixture(scope="module")
def nested(nested_model):
    return _random_biases(nested_model, 1)


@pytest.fixture(scope="module")
def sequential(sequential_model):
    return _random_biases(sequential_model, 2)


def _logits(model, head, images):
    """The head's pre-softmax logits, from the features it reads (independent of the library)."""
    import keras

    features = keras.Model(model.input, head.input)(images, training=False).numpy().astype(np.float64)
    return features @ head.kernel.numpy().astype(np.float64) + head.bias.numpy()


def _assert_complete(terms, expected_scores):
    np.testing.assert_allclose(terms.scores, expected_scores, rtol=1e-5, atol=1e-5)
    scale = np.abs(terms.input_term).sum() / len(terms.scores) + sum(np.abs(t).sum() for t in terms.bias_terms.values())
    assert np.abs(terms.completeness_gap()).max() < 1e-5 * scale  # float rounding only


def test_completeness_on_nested_relu_model_with_batchnorm(nested, rng):
    images = rng.random((3, 16, 16, 3)).astype("float32")
    before = images.copy()
    terms = full_gradient_terms(as_predictor(nested), images, [0, 2, 1])
    np.testing.assert_array_equal(images, before)  # nothing the user passed is changed
    assert list(terms.bias_terms) == ["c1", "sub/inner_conv", "sub/inner_bn", "head"]
    assert terms.targets.tolist() == [0, 2, 1] and terms.skipped == {}
    logits = _logits(nested, nested.get_layer("head"), images)
    _assert_complete(terms, logits[np.arange(3), [0, 2, 1]])
    # every term matters: leaving out any one bias breaks the identity
    for name, term in terms.bias_terms.items():
        assert np.abs(term.reshape(3, -1).sum(axis=1)).max() > 1e-3, name


def test_completeness_with_every_covered_layer_kind(keras, rng):
    """Fused ReLUs after depthwise, separable, transposed convolutions and a Dense on a spatial tensor."""
    keras.utils.set_random_seed(5)
    layers = keras.layers
    inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(4, 3, activation="relu", bias_initializer="random_normal", name="conv")(inputs)
    x = layers.DepthwiseConv2D(3, padding="same", activation="relu", bias_initializer="random_normal", name="dw")(x)
    x = layers.SeparableConv2D(4, 3, padding="same", activation="relu6", bias_initializer="random_normal",
                               name="sep")(x)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.Conv2DTranspose(3, 2, strides=2, activation="relu", bias_initializer="random_normal", name="up")(x)
    x = layers.Dense(5, activation="relu", bias_initializer="random_normal", name="spatial_dense")(x)
    x = layers.Conv2D(2, 1, use_bias=False, name="no_bias")(x)
    x = layers.MaxPooling2D(name="pool")(x)
    x = layers.EinsumDense("nhwc,cd->nhwd", (None, None, 2), bias_axes="d", name="einsum")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(3, bias_initializer="random_normal", name="head")(x)
    model = keras.Model(inputs, outputs)
    _set_batchnorm_statistics(model.get_layer("bn"), np.random.default_rng(3))
    images = rng.random((2, 8, 8, 3)).astype("float32")
    einsum_bias = model.get_layer("einsum").bias
    einsum_bias.assign(np.ones(einsum_bias.shape, "float32"))
    terms = full_gradient_terms(as_predictor(model), images, top_labels=2)
    assert list(terms.bias_terms) == ["conv", "dw", "sep", "bn", "up", "spatial_dense", "head"]
    assert list(terms.skipped) == ["einsum"]  # EinsumDense's bias: named, left out
    gap = terms.completeness_gap()
    einsum_bias.assign(np.zeros(einsum_bias.shape, "float32"))  # now a linear map: the decomposition is complete
    terms = full_gradient_terms(as_predictor(model), images, top_labels=2)
    logits = model(images, training=False).numpy()
    assert terms.image_index.tolist() == [0, 0, 1, 1]
    assert terms.targets.tolist() == np.argsort(-logits, axis=1)[:, :2].ravel().tolist()
    _assert_complete(terms, logits[terms.image_index, terms.targets])
    assert np.abs(gap).min() > 1e-3  # with its bias, the skipped layer shows in the gap


def _psi(term, size):
    """|term|, min-max over the row's positions and channels, channel sum, bilinear resize to ``size``."""
    import tensorflow as tf

    magnitude = np.abs(term.astype(np.float64))
    low = magnitude.min(axis=(1, 2, 3), keepdims=True)
    scaled = (magnitude - low) / (magnitude.max(axis=(1, 2, 3), keepdims=True) - low)
    summed = scaled.sum(axis=-1)[..., None].astype(np.float32)
    return tf.image.resize(summed, size, method="bilinear").numpy()[..., 0].astype(np.float64)


def _min_max(maps):
    low = maps.min(axis=(1, 2), keepdims=True)
    return (maps - low) / (maps.max(axis=(1, 2), keepdims=True) - low)


def test_map_matches_the_formula_on_sequential_model(sequential, rng):
    import tensorflow as tf

    model = sequential
    conv1, bn, conv2, dense = (model.get_layer(n) for n in ("s_conv1", "s_bn", "s_conv2", "s_dense"))
    scale = bn.gamma.numpy() / np.sqrt(bn.moving_variance.numpy() + bn.epsilon)
    bn_bias = bn.beta.numpy() - bn.moving_mean.numpy() * scale
    images = rng.random((2, 12, 12, 3)).astype("float32")
    x = tf.constant(images)
    with tf.GradientTape() as tape:
        tape.watch(x)
        z1 = tf.nn.conv2d(x, conv1.kernel, 1, "VALID") + conv1.bias
        tape.watch(z1)
        z_bn = tf.nn.relu(z1) * scale + bn_bias
        tape.watch(z_bn)
        z2 = tf.nn.conv2d(z_bn, conv2.kernel, 1, "VALID") + conv2.bias
        tape.watch(z2)
        logits = tf.reshape(tf.nn.relu(z2), (2, -1)) @ dense.kernel + dense.bias
        targets = tf.argmax(logits, axis=1)
        score = tf.reduce_sum(tf.gather(logits, targets, batch_dims=1))
    grads = tape.gradient(score, [x, z1, z_bn, z2])
    raw = [g.numpy() * b for g, b in zip(grads, (images, conv1.bias.numpy(), bn_bias, conv2.bias.numpy()))]
    expected = _min_max(sum(_psi(term, (12, 12)) for term in raw))

    explanations = run_fullgrad(as_predictor(model), images, verbose=0, batch_size=1)
    terms = full_gradient_terms(as_predictor(model), images)
    for term, name in zip(raw[1:], ("s_conv1", "s_bn", "s_conv2")):
        np.testing.assert_allclose(terms.bias_terms[name], term, rtol=1e-4, atol=1e-5 * np.abs(term).max())
    for i, explanation in enumerate(explanations):
        assert explanation.target == int(targets[i]) and explanation.method == "fullgrad"
        np.testing.assert_allclose(explanation.heatmap, expected[i], atol=2e-5)
        assert explanation.params["bias_layers"] == ["s_conv1", "s_bn", "s_conv2"]
        assert list(explanation.params["bias_layers_not_mapped"]) == ["s_dense"]
        assert abs(explanation.params["completeness_gap"]) < 1e-4 * abs(explanation.score)


def test_without_biases_the_map_is_the_normalised_input_term(keras, rng):
    import tensorflow as tf

    keras.utils.set_random_seed(8)
    model = keras.Sequential([
        keras.Input((10, 10, 3)),
        keras.layers.Conv2D(4, 3, activation="relu", use_bias=False),
        keras.layers.Conv2D(4, 3, use_bias=False),
        keras.layers.ReLU(),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(3, use_bias=False, activation="softmax"),
    ])
    images = rng.random((2, 10, 10, 3)).astype("float32")
    x = tf.constant(images)
    with tf.GradientTape() as tape:
        tape.watch(x)
        probabilities = model(x, training=False)
        score = tf.reduce_sum(probabilities[:, 1])
    expected = _min_max(_psi(tape.gradient(score, x).numpy() * images, (10, 10)))
    explanations = superexplain.explain(model, images, method="fullgrad", target=1, score="probability", verbose=0)
    for i, explanation in enumerate(explanations):
        assert explanation.params["bias_layers"] == [] and explanation.params["bias_layers_not_mapped"] == {}
        assert explanation.params["score_kind"] == "probability"
        np.testing.assert_allclose(explanation.heatmap, expected[i], atol=2e-5)
    logit_terms = full_gradient_terms(as_predictor(model), images, 1)
    np.testing.assert_allclose(logit_terms.completeness_gap(), 0.0, atol=1e-5)  # f(x) = grad . x exactly


def test_bad_options_are_refused(nested, rng):
    images = rng.random((1, 16, 16, 3)).astype("float32")
    with pytest.raises(ValueError, match="score must be one of"):
        run_fullgrad(as_predictor(nested), images, score="logits", verbose=0)
    with pytest.raises(TypeError, match="batch_size"):
        run_fullgrad(as_predictor(nested), images, batch_size="8", verbose=0)
    with pytest.raises(TypeError, match="has no option 'layer'"):
        superexplain.explain(nested, images, method="fullgrad", layer="c1", verbose=0)


def test_aug_smooth_and_score_targets_go_through_the_shared_cam_options(nested, rng):
    images = rng.random((2, 16, 16, 3)).astype("float32")
    flipped = np.ascontiguousarray(images[:, :, ::-1])
    smoothed = superexplain.explain(nested, images, method="fullgrad", target=1, aug_smooth=[(True, 1.0)], verbose=0)
    mirrored = superexplain.explain(nested, flipped, method="fullgrad", target=1, verbose=0)
    for a, b in zip(smoothed, mirrored):  # the one copy is the flipped image, its map flipped back
        np.testing.assert_allclose(a.heatmap, b.heatmap[:, ::-1], atol=1e-6)
        assert a.params["aug_smooth"] == [{"hflip": True, "multiplier": 1.0}]
    by_class = superexplain.explain(nested, images, method="fullgrad", target=2, verbose=0)
    by_function = superexplain.explain(nested, images, method="fullgrad", target=lambda logits: logits[:, 2], verbose=0)
    for a, b in zip(by_class, by_function):  # a score function of the logits: the same map
        np.testing.assert_allclose(a.heatmap, b.heatmap, atol=1e-6)
        assert b.params["score_target"]["name"] == "<lambda>"
