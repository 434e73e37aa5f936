"""aug_smooth (test-time augmentation) and layer lists (fusion), against averages and fusions of plain runs computed here."""
from __future__ import annotations

import numpy as np
import pytest

import superexplain
from superexplain.gradcam.cam_options import fuse_maps, run_with_cam_options
from superexplain.gradcam.cams import run_cam
from superexplain.models import as_predictor

from test_gradcam_reference import nested_model  # noqa: F401 - fixture

CAMS = ["gradcam", "gradcam++", "layercam", "hirescam", "gradcam_elementwise", "xgradcam", "eigencam", "eigengradcam",
        "scorecam"]


@pytest.fixture(scope="module")
def mirror_model(keras):
    """Exactly equivariant to horizontal flips (left-right symmetric kernels, GAP head), and built so that the
    1.1 pixel multiplier changes the image's top class: logit_1 - logit_0 = s - 1.05 for the image scaled by s
    (no biases before the head and non-negative kernels: the features scale with the image)."""
    keras.utils.set_random_seed(5)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="m_conv1")(inputs)
    x = keras.layers.Conv2D(3, 3, padding="same", activation="relu", use_bias=False, name="m_conv2")(x)
    outputs = keras.layers.Dense(2, name="m_head")(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(7)
    for name in ("m_conv1", "m_conv2"):
        kernel = rng.uniform(0.0, 1.0, model.get_layer(name).kernel.shape).astype("float32")
        model.get_layer(name).kernel.assign((kernel + kernel[:, ::-1]) / 2)  # kernel[i, j] == kernel[i, 2 - j]
    model.get_layer("m_conv1").bias.assign(np.zeros(4, "float32"))  # no bias: features scale with the image
    image = mirror_image()
    features = keras.Model(inputs, model.layers[-2].output)(image[None]).numpy()[0].astype(np.float64)
    kernel = np.full((3, 2), 0.5)                       # class 0 has gradients too
    kernel[:, 1] += features / (features @ features)
    model.get_layer("m_head").kernel.assign(kernel.astype("float32"))
    model.get_layer("m_head").bias.assign(np.array([0.0, -1.05], "float32"))
    return model


def mirror_image():
    return np.random.default_rng(3).random((8, 8, 3)).astype("float32")


def _run(model, images, method, **options):
    return superexplain.explain(model, images, method=method, verbose=0, **options)


@pytest.mark.parametrize("method", CAMS)
def test_flip_only_smoothing_of_a_mirror_equivariant_model_changes_nothing(method, mirror_model):
    image = mirror_image()
    plain = _run(mirror_model, image, method, layer="m_conv2")
    flips = _run(mirror_model, image, method, layer="m_conv2", aug_smooth=[(False, 1.0), (True, 1.0)])
    scale = np.abs(plain.heatmap).max()
    assert scale > 0
    np.testing.assert_allclose(flips.heatmap, plain.heatmap, rtol=1e-5, atol=1e-5 * scale)
    np.testing.assert_allclose(flips.feature_map, plain.feature_map, rtol=1e-5, atol=1e-5 * scale)
    assert flips.params["aug_smooth"] == [{"hflip": False, "multiplier": 1.0}, {"hflip": True, "multiplier": 1.0}]
    assert flips.target == plain.target == 0 and flips.score == plain.score


def test_six_copies_are_averaged_with_the_original_images_top_class(mirror_model):
    image = mirror_image()
    predictor = as_predictor(mirror_model)
    assert _run(mirror_model, image * np.float32(1.1), "gradcam").target == 1  # the scaled copy's own top class
    smoothed = _run(mirror_model, image, "gradcam", layer="m_conv2", relu=False, aug_smooth=True)
    heatmaps, feature_maps = [], []
    for flip in (False, True):
        for multiplier in (0.9, 1.0, 1.1):
            copy = (image[:, ::-1] if flip else image) * np.float32(multiplier)
            e = run_cam("gradcam", predictor, copy[None], targets=0, layer="m_conv2", relu=False, verbose=0)[0]
            heatmaps.append(e.heatmap[:, ::-1] if flip else e.heatmap)
            feature_maps.append(e.feature_map[:, ::-1] if flip else e.feature_map)
    assert smoothed.target == 0
    assert len(smoothed.params["aug_smooth"]) == 6 and "mean" in smoothed.params["aug_smooth_rule"]
    expected = np.mean(heatmaps, axis=0)
    np.testing.assert_allclose(smoothed.heatmap, expected, rtol=1e-5, atol=1e-6 * np.abs(expected).max())
    np.testing.assert_allclose(smoothed.feature_map, np.mean(feature_maps, axis=0), rtol=1e-5,
                               atol=1e-6 * np.abs(expected).max())


def test_smoothing_on_a_batch_with_top_labels_keeps_every_images_targets(nested_model, rng):  # noqa: F811
    images = rng.random((2, 16, 16, 3)).astype("float32")
    before = images.copy()
    smoothed = _run(nested_model, images, "layercam", top_labels=2, aug_smooth=[(True, 0.9), (False, 1.0)])
    plain = _run(nested_model, images, "layercam", top_labels=2)
    predictor = as_predictor(nested_model)
    np.testing.assert_array_equal(images, before)  # nothing the user passed is modified
    for j, e in enumerate(smoothed):
        assert (e.target, e.score) == (plain[j].target, plain[j].score)
        flipped = run_cam("layercam", predictor, (images[j // 2:j // 2 + 1, :, ::-1] * np.float32(0.9)),
                          targets=e.target, verbose=0)[0]
        expected = (plain[j].heatmap + flipped.heatmap[:, ::-1]) / 2
        np.testing.assert_allclose(e.heatmap, expected, rtol=1e-5, atol=1e-6 * np.abs(expected).max())


def test_a_layer_list_fuses_the_single_layer_maps(nested_model, rng):  # noqa: F811
    import tensorflow as tf

    images = rng.random((2, 16, 16, 3)).astype("float32")
    layers = ["c1", "sub/inner_relu"]
    fused = _run(nested_model, images, "gradcam", layer=layers, target=[1, 2])
    singles = [_run(nested_model, images, "gradcam", layer=name, target=[1, 2]) for name in layers]
    for i, e in enumerate(fused):
        heatmaps = [s[i].heatmap / np.abs(s[i].heatmap).max() for s in singles]
        np.testing.assert_allclose(e.heatmap, np.maximum(*heatmaps), rtol=1e-6, atol=1e-6)
        deep = tf.image.resize(singles[1][i].feature_map[None, ..., None], (16, 16)).numpy()[0, ..., 0]
        expected = np.maximum(singles[0][i].feature_map / singles[0][i].feature_map.max(), deep / deep.max())
        np.testing.assert_allclose(e.feature_map, expected, rtol=1e-5, atol=1e-6)
        assert e.params["layer"] == layers and "maximum" in e.params["fusion"] and e.target == [1, 2][i]
        assert e.heatmap.max() == pytest.approx(1.0)
    # the GradCAM class takes the same list, and refuses a CAM that maps no layer
    cam = superexplain.GradCAM(nested_model, layer=layers)
    for e, f in zip(cam.explain(images, targets=[1, 2]), fused):
        np.testing.assert_array_equal(e.heatmap, f.heatmap)
    assert "'c1', 'sub/inner_relu'" in repr(cam)
    with pytest.raises(ValueError, match="method"):
        superexplain.GradCAM(nested_model, method="fullgrad")


def test_fusion_keeps_an_all_zero_map_zero_and_scales_signed_maps_by_their_largest_magnitude():
    zero, signed = np.zeros((2, 2)), np.array([[-4.0, 2.0], [0.0, 1.0]])
    np.testing.assert_array_equal(fuse_maps([zero, zero]), zero)
    np.testing.assert_allclose(fuse_maps([signed, zero]), [[0.0, 0.5], [0.0, 0.25]])


def test_wrapper_resolves_targets_once_and_passes_layer_through_for_a_layerless_method(nested_model, rng):  # noqa: F811
    calls = []

    def run_once(predictor, images, *, targets, top_labels, verbose, layer, **options):
        calls.append((targets, top_labels, layer, options))
        return run_cam("gradcam", predictor, images, targets=targets, top_labels=top_labels, verbose=verbose,
                       layer="c1", **options)

    images = rng.random((1, 16, 16, 3)).astype("float32")
    result = run_with_cam_options(run_once, as_predictor(nested_model), images, top_labels=2, layer="ignored",
                                  aug_smooth=[(True, 1.0)], fusion_layers=False, relu=False, verbose=0)
    assert [c[2] for c in calls] == ["ignored", "ignored"] and calls[0][:2] == (None, 2)
    assert calls[1][:2] == ([[e.target for e in result]], None) and calls[1][3] == {"relu": False}


@pytest.mark.parametrize("options, error, words", [
    ({"aug_smooth": "yes"}, TypeError, "aug_smooth must be True, False or a non-empty list"),
    ({"aug_smooth": [(True, -1.0)]}, TypeError, r"aug_smooth must be .* got the entry \(True, -1.0\)"),
    ({"layer": []}, ValueError, "layer must name at least one layer; got an empty list"),
])
def test_bad_options_are_refused_naming_them(options, error, words, nested_model, rng):  # noqa: F811
    with pytest.raises(error, match=words):
        _run(nested_model, rng.random((16, 16, 3)).astype("float32"), "gradcam", **options)
