"""Eigen-CAM, Eigen-Grad-CAM and eigen_smooth against a principal component computed here (numpy eigh) and the sign rule."""
from __future__ import annotations

import numpy as np
import pytest

import superexplain
from superexplain.gradcam.cam_weighted import eigen_projection
from superexplain.models import as_predictor

from test_gradcam_reference import nested_model, sequential_model  # noqa: F401 - fixtures
from test_gradcam_variants import _activations_and_gradients, _nested_layers


def _reference_projection(weighted):
    """(h, w, c) -> (h, w): centred data on the top eigenvector of its scatter matrix, sign by the rule."""
    height, width, channels = weighted.shape
    x = weighted.reshape(-1, channels).astype(np.float64)
    centred = x - x.mean(axis=0)
    _, vectors = np.linalg.eigh(centred.T @ centred)
    projection = centred @ vectors[:, -1]
    channel_sum = x.sum(axis=1)
    covariance = projection @ (channel_sum - channel_sum.mean())
    if abs(covariance) <= 1e-9 * np.linalg.norm(projection) * np.linalg.norm(channel_sum - channel_sum.mean()):
        covariance = projection[np.argmax(np.abs(projection))]
    return (projection if covariance >= 0 else -projection).reshape(height, width)


def _close(actual, expected, rtol=2e-5):
    scale = np.abs(expected).max()
    assert scale > 0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


def _sequential_layers(model):
    def run_layers(x, tape):
        x = model.get_layer("s_conv1")(x)
        tape.watch(x)
        activations = x
        x = model.get_layer("s_conv2")(model.get_layer("s_bn")(x, training=False))
        return activations, model.get_layer("s_dense")(model.get_layer("s_flat")(x))

    return run_layers


def test_sign_rule_follows_the_channel_sum_and_flips_with_the_data():
    t = np.array([0.0, 1.0, 2.0, 5.0]).reshape(2, 2)
    centred = t - t.mean()
    along = np.stack([3.0 * t, -t], axis=-1)            # one direction, v = +-(3, -1)/sqrt(10); channel sum 2t
    np.testing.assert_allclose(eigen_projection(along), np.sqrt(10.0) * centred, atol=1e-12)
    np.testing.assert_allclose(eigen_projection(-along), -np.sqrt(10.0) * centred, atol=1e-12)  # sum -2t: flipped
    against = np.stack([t, -2.0 * t], axis=-1)           # channel sum -t: the map follows -t
    np.testing.assert_allclose(eigen_projection(against), -np.sqrt(5.0) * centred, atol=1e-12)
    tie = np.stack([t, -t], axis=-1)                     # channel sum 0: the largest |value| (t = 5) is positive
    for data in (tie, -tie):
        np.testing.assert_allclose(eigen_projection(data), np.sqrt(2.0) * centred, atol=1e-12)
    assert not eigen_projection(np.full((2, 2, 3), 4.0)).any()  # constant activations: no component


def test_eigencam_is_the_principal_component_of_the_activations_and_class_agnostic(nested_model, rng):  # noqa: F811
    images = rng.random((2, 16, 16, 3)).astype("float32")
    a, _ = _activations_and_gradients(_nested_layers(nested_model, "inner_relu"), images, [0, 0])
    logits = as_predictor(nested_model).scores(images, "logit")[0]
    explanations = superexplain.explain(nested_model, images, method="eigencam", layer="sub/inner_relu",
                                        top_labels=2, relu=False, verbose=0)
    for i in range(2):
        first, second = explanations[2 * i:2 * i + 2]
        _close(first.feature_map, _reference_projection(a[i]))
        np.testing.assert_array_equal(first.feature_map, second.feature_map)
        assert [first.target, second.target] == list(np.argsort(-logits[i], kind="stable")[:2])
        assert second.score == pytest.approx(float(logits[i, second.target]), rel=1e-5)
        assert first.params["class_agnostic"] is True and "sign" in first.params["sign_rule"]


def test_eigencam_and_eigengradcam_on_the_sequential_model(sequential_model, rng):  # noqa: F811
    images = rng.random((2, 12, 12, 3)).astype("float32")
    targets = [1, 3]
    a, g = _activations_and_gradients(_sequential_layers(sequential_model), images, targets)
    plain = superexplain.explain(sequential_model, images, method="eigencam", layer="s_conv1", target=targets,
                                 relu=False, verbose=0)
    graded = superexplain.explain(sequential_model, images, method="eigengradcam", layer="s_conv1", target=targets,
                                  relu=False, verbose=0)
    rectified = superexplain.explain(sequential_model, images, method="eigengradcam", layer="s_conv1",
                                     target=targets, verbose=0)
    for i in range(2):
        _close(plain[i].feature_map, _reference_projection(a[i]))
        expected = _reference_projection(g[i] * a[i])
        _close(graded[i].feature_map, expected)
        _close(rectified[i].feature_map, np.maximum(expected, 0.0), rtol=1e-4)
        assert graded[i].params["class_agnostic"] is False


def _weighted_by_formula(method, a, g):
    """Each method's per-channel weighted activations (h, w, c), from its paper's formula."""
    if method == "gradcam":
        return a * g.mean(axis=(0, 1))
    if method == "layercam":
        return np.maximum(g, 0.0) * a
    if method in ("hirescam", "eigengradcam"):
        return g * a
    if method == "gradcam_elementwise":
        return np.maximum(g * a, 0.0)
    if method == "xgradcam":
        return a * (g * a / a.sum(axis=(0, 1))).sum(axis=(0, 1))
    # Grad-CAM++ with Y = exp(S): alpha = g^2 / (2 g^2 + sum(A) g^3), w = sum alpha ReLU(g)
    denominator = 2 * g ** 2 + a.sum(axis=(0, 1)) * g ** 3
    alpha = np.divide(g ** 2, denominator, out=np.zeros_like(g), where=denominator != 0)
    return a * (alpha * np.maximum(g, 0.0)).sum(axis=(0, 1))


@pytest.mark.parametrize("method", ["gradcam", "gradcam++", "layercam", "hirescam", "gradcam_elementwise", "xgradcam",
                                    "eigengradcam"])
def test_eigen_smooth_projects_each_methods_weighted_activations(method, nested_model, rng):  # noqa: F811
    images = rng.random((2, 16, 16, 3)).astype("float32")
    targets = [2, 0]
    a, g = _activations_and_gradients(_nested_layers(nested_model, "inner_conv"), images, targets)
    smoothed = superexplain.explain(nested_model, images, method=method, layer="sub/inner_conv", target=targets,
                                    relu=False, eigen_smooth=True, verbose=0)
    expected = [_reference_projection(_weighted_by_formula(method, a[i], g[i])) for i in range(2)]
    assert any(np.abs(e).max() > 0 for e in expected)  # a degenerate all-zero pair would test nothing
    for i in range(2):
        if np.abs(expected[i]).max() == 0:  # e.g. LayerCAM where every gradient of the target is negative
            np.testing.assert_allclose(smoothed[i].feature_map, 0.0, atol=1e-6)
        else:
            _close(smoothed[i].feature_map, expected[i])
    if method != "eigengradcam":
        assert smoothed[0].params["eigen_smooth"] is True


def test_eigen_smooth_for_scorecam_projects_the_score_weighted_channels(sequential_model, keras, rng):  # noqa: F811
    import tensorflow as tf

    image = rng.random((12, 12, 3)).astype("float32")
    layer = sequential_model.get_layer("s_conv2")
    a = keras.Model(sequential_model.inputs[0], layer.output)(image[None]).numpy()[0].astype(np.float64)
    masks = tf.image.resize(np.moveaxis(a, -1, 0)[..., None], (12, 12), method="bilinear").numpy()[..., 0]
    low, high = masks.min(axis=(1, 2)), masks.max(axis=(1, 2))
    kept = high > low
    weights = np.zeros(a.shape[-1])
    normalised = (masks[kept] - low[kept, None, None]) / (high - low)[kept, None, None]
    weights[kept] = sequential_model(image[None] * normalised[..., None].astype("float32")).numpy()[:, 2]
    smoothed = superexplain.explain(sequential_model, image, method="scorecam", layer="s_conv2", target=2,
                                    relu=False, eigen_smooth=True, verbose=0)
    _close(smoothed.feature_map, _reference_projection(a * weights), rtol=1e-4)


def test_eigen_smooth_must_be_a_bool(nested_model, rng):  # noqa: F811
    with pytest.raises(TypeError, match="eigen_smooth must be True or False; got"):
        superexplain.explain(nested_model, rng.random((16, 16, 3)).astype("float32"), method="gradcam",
                             eigen_smooth="yes", verbose=0)
