"""HiResCAM, element-wise Grad-CAM and XGrad-CAM against the papers' formulas written here on GradientTape outputs."""
from __future__ import annotations

import numpy as np
import pytest

import superexplain
from superexplain.models import as_predictor

from test_gradcam_reference import nested_model, sequential_model  # noqa: F401 - fixtures


def _activations_and_gradients(run_layers, images, targets):
    """The layer's activations A and d logit_target / d A, by a plain GradientTape (float64 numpy)."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        activations, logits = run_layers(tf.constant(images), tape)
        score = tf.reduce_sum(tf.gather(logits, np.asarray(targets)[:, None], batch_dims=1))
    gradients = tape.gradient(score, activations)
    return activations.numpy().astype(np.float64), gradients.numpy().astype(np.float64)


def _paper_maps(a, g):
    """Each method's signed map (N, h, w), written from its paper's formula."""
    hires = (g * a).sum(axis=-1)
    elementwise = np.maximum(g * a, 0.0).sum(axis=-1)
    totals = a.sum(axis=(1, 2), keepdims=True)
    weights = (g * np.divide(a, totals, out=np.zeros_like(a), where=totals != 0)).sum(axis=(1, 2))
    xgrad = np.einsum("nhwc,nc->nhw", a, weights)
    gradcam = np.einsum("nhwc,nc->nhw", a, g.mean(axis=(1, 2)))
    return {"hirescam": hires, "gradcam_elementwise": elementwise, "xgradcam": xgrad, "gradcam": gradcam}


def _explained(model, images, method, layer, targets):
    return [e.feature_map for e in superexplain.explain(as_predictor(model), images, method=method, target=targets,
                                                        layer=layer, relu=False, verbose=0)]


def _nested_layers(model, upto: str):
    sub, head = model.get_layer("sub"), model.get_layer("head")

    def run_layers(x, tape):
        x = sub.get_layer("inner_conv")(model.get_layer("pool")(model.get_layer("c1")(x)))
        if upto == "inner_conv":
            tape.watch(x)
            activations = x
        x = sub.get_layer("inner_relu")(sub.get_layer("inner_bn")(x, training=False))
        if upto == "inner_relu":
            tape.watch(x)
            activations = x
        return activations, model.get_layer("gap")(x) @ head.kernel + head.bias

    return run_layers


@pytest.mark.parametrize("method", ["hirescam", "gradcam_elementwise", "xgradcam"])
def test_each_variant_matches_its_formula_on_a_nested_batchnorm_model(method, nested_model, rng):  # noqa: F811
    images = rng.random((3, 16, 16, 3)).astype("float32")
    targets = [0, 2, 1]
    a, g = _activations_and_gradients(_nested_layers(nested_model, "inner_conv"), images, targets)
    expected = _paper_maps(a, g)[method]
    for actual, reference in zip(_explained(nested_model, images, method, "sub/inner_conv", targets), expected):
        np.testing.assert_allclose(actual, reference, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


@pytest.mark.parametrize("method", ["hirescam", "gradcam_elementwise", "xgradcam"])
def test_each_variant_matches_its_formula_on_a_sequential_model(method, sequential_model, rng):  # noqa: F811
    model = sequential_model
    images = rng.random((2, 12, 12, 3)).astype("float32")

    def run_layers(x, tape):
        x = model.get_layer("s_conv1")(x)
        tape.watch(x)
        activations = x
        x = model.get_layer("s_conv2")(model.get_layer("s_bn")(x, training=False))
        return activations, model.get_layer("s_dense")(model.get_layer("s_flat")(x))

    targets = [1, 3]
    a, g = _activations_and_gradients(run_layers, images, targets)
    expected = _paper_maps(a, g)[method]
    for actual, reference in zip(_explained(model, images, method, "s_conv1", targets), expected):
        np.testing.assert_allclose(actual, reference, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


def test_hirescam_equals_gradcam_under_global_average_pooling_and_only_there(nested_model, rng):  # noqa: F811
    images = rng.random((2, 16, 16, 3)).astype("float32")
    targets = [1, 0]
    # the layer the head's GAP reads: every location has the same gradient, so the two maps agree
    hires = _explained(nested_model, images, "hirescam", "sub/inner_relu", targets)
    gradcam = _explained(nested_model, images, "gradcam", "sub/inner_relu", targets)
    for h, c in zip(hires, gradcam):
        np.testing.assert_allclose(h, c, rtol=1e-5, atol=1e-6 * np.abs(c).max())
    a, g = _activations_and_gradients(_nested_layers(nested_model, "inner_relu"), images, targets)
    np.testing.assert_allclose(g, np.broadcast_to(g[:, :1, :1, :], g.shape), rtol=1e-6)  # the reason, checked
    # below BatchNorm and ReLU the gradient varies by location, and the two maps differ
    hires = _explained(nested_model, images, "hirescam", "sub/inner_conv", targets)
    gradcam = _explained(nested_model, images, "gradcam", "sub/inner_conv", targets)
    assert max(np.abs(h - c).max() / np.abs(c).max() for h, c in zip(hires, gradcam)) > 1e-2


def test_variants_are_registered_cams_the_cli_and_gradcam_class_offer(demo_model, demo_data):
    from superexplain import GradCAM
    from superexplain.cli import build_parser
    from superexplain.registry import method_names

    assert {"hirescam", "gradcam_elementwise", "xgradcam"} <= set(method_names("cam"))
    for method in ("hirescam", "gradcam_elementwise", "xgradcam"):
        explanation = GradCAM(demo_model, method=method).explain(demo_data.images[0])
        assert explanation.method == method and explanation.heatmap.shape == (64, 64)
        assert (explanation.feature_map >= 0).all()
        args = build_parser().parse_args(["explain", "m.keras", "x.png", "--method", method])
        assert args.method == method
