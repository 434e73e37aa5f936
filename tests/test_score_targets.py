"""Score functions as targets (superexplain.targets): segmentation Regions, embedding Similarity, plain callables.

The segmentation network is an encoder-decoder of 1x1 convolutions around a 2x2 max-pool and a
2x2 upsampling, so the logits at an output pixel depend only on the input pixels of its 2x2
block: a Region over a square aligned to those blocks depends on the pixels inside the square
and on nothing else. References are written here with numpy and tf.GradientTape.
"""
from __future__ import annotations

import numpy as np
import pytest

import superexplain
from superexplain.models import as_predictor
from superexplain.targets import Region, ScoreTarget, Similarity

from test_gradcam_reference import nested_model  # noqa: F401 - a fixture: BatchNorm in a nested backbone

SQUARE = (slice(4, 12), slice(4, 12))  # aligned to the 2x2 blocks of the pool/upsampling


@pytest.fixture(scope="module")
def segmenter(keras):
    rng = np.random.default_rng(3)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 1, activation="relu", name="enc")(inputs)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Conv2D(4, 1, activation="relu", name="mid")(x)
    x = keras.layers.UpSampling2D(2, name="up")(x)
    x = keras.layers.Conv2D(2, 1, name="logits")(x)
    outputs = keras.layers.Softmax(name="softmax")(x)
    model = keras.Model(inputs, outputs)
    for name in ("enc", "mid", "logits"):
        layer = model.get_layer(name)
        kernel, bias = layer.get_weights()
        kernel = np.abs(rng.normal(size=kernel.shape)).astype("float32")
        if name == "logits":
            kernel[..., 0] *= -1.0  # class 0 falls where class 1 rises: the softmax is not saturated
        layer.set_weights([kernel, np.zeros_like(bias)])
    logits = keras.Model(inputs, model.get_layer("logits").output)
    return model, logits


@pytest.fixture(scope="module")
def square_mask():
    mask = np.zeros((16, 16), bool)
    mask[SQUARE] = True
    return mask


def _object_image(rng, background=0.01):
    image = rng.uniform(0.0, background, (16, 16, 3)).astype("float32")
    image[SQUARE] = rng.uniform(0.5, 1.0, (8, 8, 3))
    return image


def _region_score(logits, images, class_index, mask):
    return (logits(images).numpy()[..., class_index] * mask).sum(axis=(1, 2)).astype(np.float64)


def test_region_score_is_the_sum_of_the_logits_inside_the_mask(segmenter, square_mask, rng):
    model, logits = segmenter
    images = rng.random((3, 16, 16, 3)).astype("float32")
    region = Region(1, square_mask)
    expected = _region_score(logits, images, 1, square_mask)
    np.testing.assert_allclose(region.numpy_scores(logits(images).numpy()), expected, rtol=1e-6)
    explanations = superexplain.explain(model, images, method="saliency", target=region, verbose=0)
    assert [e.target for e in explanations] == [0, 0, 0]
    np.testing.assert_allclose([e.score for e in explanations], expected, rtol=1e-5)
    e = explanations[0]
    assert e.target_name == region.name == "region of class 1 (64 pixels)"
    assert e.params["score_kind"] == "logit"
    assert e.params["score_target"]["type"] == "Region" and e.params["score_target"]["class_index"] == 1
    # score="probability": the softmax outputs are summed instead
    probability = superexplain.explain(model, images[0], method="saliency", target=region, score="probability",
                                       verbose=0)
    assert probability.score == pytest.approx(float((model(images[:1]).numpy()[0, ..., 1] * square_mask).sum()),
                                              rel=1e-5)


def test_saliency_of_a_region_is_zero_outside_it_and_matches_a_gradient_tape(segmenter, square_mask, rng):
    import tensorflow as tf

    model, logits = segmenter
    image = rng.random((16, 16, 3)).astype("float32")  # content everywhere
    e = superexplain.explain(model, image, method="saliency", target=Region(1, square_mask), verbose=0)
    x = tf.constant(image[None])
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = tf.reduce_sum(logits(x)[..., 1] * square_mask)
    expected = tape.gradient(score, x).numpy()[0]
    np.testing.assert_allclose(e.attribution, expected, rtol=1e-5, atol=1e-6 * np.abs(expected).max())
    assert np.all(e.heatmap[~square_mask] == 0.0)
    assert np.all(e.heatmap[SQUARE].reshape(4, 2, 4, 2).max(axis=(1, 3)) > 0.0)  # every 2x2 block inside


def test_cams_of_a_region_put_their_evidence_inside_it(segmenter, square_mask, rng):
    import tensorflow as tf

    model, logits = segmenter
    region = Region(1, square_mask)
    image = _object_image(rng)
    cells = square_mask[::2, ::2]  # the square at the layer's 8x8 resolution
    for method in ("gradcam", "layercam", "scorecam"):
        e = superexplain.explain(model, image, method=method, target=region, layer="mid", verbose=0)
        assert e.feature_map[cells].sum() >= 0.95 * e.feature_map.sum() > 0, method
        assert e.heatmap[square_mask].sum() >= 0.85 * e.heatmap.sum(), method
    # LayerCAM weighs each position by its own gradient: exactly zero outside, even next to another object
    two_objects = image.copy()
    two_objects[0:4, 0:4] = 1.0
    e = superexplain.explain(model, two_objects, method="layercam", target=region, layer="mid", verbose=0)
    assert np.all(e.feature_map[~cells] == 0.0) and e.feature_map[cells].sum() > 0
    # Grad-CAM against the recipe: d(region score)/dA, channel means, weighted sum, ReLU
    mid = keras_submodel(model, "mid")
    x = tf.constant(two_objects[None])
    with tf.GradientTape() as tape:
        activations = mid(x)
        tape.watch(activations)
        score = tf.reduce_sum(model.get_layer("logits")(model.get_layer("up")(activations))[..., 1]
                              * square_mask)
    weights = tape.gradient(score, activations).numpy().mean(axis=(1, 2))[0]
    expected = np.maximum(np.einsum("hwc,c->hw", activations.numpy()[0], weights), 0.0)
    e = superexplain.explain(model, two_objects, method="gradcam", target=region, layer="mid", verbose=0)
    np.testing.assert_allclose(e.feature_map, expected, rtol=1e-5, atol=1e-6 * expected.max())


def keras_submodel(model, name):
    import keras

    return keras.Model(model.input, model.get_layer(name).output)


def test_occlusion_weights_are_the_region_score_drops(segmenter, square_mask, rng):
    model, logits = segmenter
    image = rng.random((16, 16, 3)).astype("float32")
    region = Region(1, square_mask)
    # sliding windows of 4x4 every 4 pixels, hidden with 0: each window's drop, computed here
    e = superexplain.explain(model, image, method="occlusion", target=region, window=4, stride=4, hide_color=0.0,
                             score="logit", verbose=0)
    hidden = []
    for top in range(0, 16, 4):
        for left in range(0, 16, 4):
            copy = image.copy()
            copy[top:top + 4, left:left + 4] = 0.0
            hidden.append(copy)
    base = _region_score(logits, image[None], 1, square_mask)[0]
    drops = (base - _region_score(logits, np.stack(hidden), 1, square_mask)).reshape(4, 4)
    np.testing.assert_allclose(e.feature_map, drops, rtol=1e-4, atol=1e-4 * np.abs(drops).max())
    assert np.all(e.feature_map[[0, 3], :] == 0.0) and np.all(e.feature_map[:, [0, 3]] == 0.0)
    assert np.all(e.feature_map[1:3, 1:3] > 0.0)
    # superpixel mode, default score="probability": each segment's drop of the summed softmax outputs
    segments = np.arange(16).reshape(4, 4).repeat(4, axis=0).repeat(4, axis=1)
    e = superexplain.explain(model, image, method="occlusion", target=region, segments=segments, hide_color=0.0,
                             verbose=0)
    probabilities = [model(np.where((segments == s)[None, ..., None], 0.0, image[None])).numpy()[0, ..., 1]
                     for s in range(16)]
    base = float((model(image[None]).numpy()[0, ..., 1] * square_mask).sum())
    expected = base - np.array([(p * square_mask).sum() for p in probabilities])
    np.testing.assert_allclose(e.weights, expected, rtol=1e-4, atol=1e-5)
    assert e.params["score_kind"] == "probability" and e.target == 0


def test_similarity_and_its_saliency_match_numpy_and_a_gradient_tape(nested_model, rng):  # noqa: F811
    import tensorflow as tf

    model = nested_model
    features = keras_submodel(model, "gap")
    kernel, bias = model.get_layer("head").get_weights()
    reference = np.array([1.0, -2.0, 0.5], np.float32)
    images = rng.random((2, 16, 16, 3)).astype("float32")
    x = tf.constant(images)
    with tf.GradientTape() as tape:
        tape.watch(x)
        embedding = features(x) @ kernel + bias  # the logits: the head's softmax is left out
        cosine = tf.reduce_sum(embedding * reference, axis=1) / (
            tf.norm(embedding, axis=1) * float(np.linalg.norm(reference)))
        total = tf.reduce_sum(cosine)  # images are independent: the gradient of the sum is per image
    expected_gradient = tape.gradient(total, x).numpy()
    explanations = superexplain.explain(model, images, method="saliency", target=Similarity(reference), verbose=0)
    np.testing.assert_allclose([e.score for e in explanations], cosine.numpy(), rtol=1e-5)
    for e, gradient in zip(explanations, expected_gradient):
        np.testing.assert_allclose(e.attribution, gradient, rtol=1e-4, atol=1e-5 * np.abs(gradient).max())
    assert explanations[0].params["score_target"]["dimension"] == 3


def test_a_plain_callable_works_as_the_equivalent_region(segmenter, square_mask, rng, tmp_path):
    from keras import ops

    model, _ = segmenter
    image = rng.random((16, 16, 3)).astype("float32")

    def class_one_in_square(outputs):
        return ops.sum(outputs[..., 1] * square_mask.astype("float32"), axis=(1, 2))

    for method, options in (("saliency", {}), ("gradcam", {"layer": "mid"}),
                            ("occlusion", {"window": 4, "hide_color": 0.0})):
        by_region = superexplain.explain(model, image, method=method, target=Region(1, square_mask), verbose=0,
                                         **options)
        by_function = superexplain.explain(model, image, method=method, target=class_one_in_square, verbose=0,
                                           **options)
        np.testing.assert_allclose(by_function.heatmap, by_region.heatmap, rtol=1e-5, atol=1e-6)
        assert by_function.score == pytest.approx(by_region.score, rel=1e-5)
        assert by_function.target_name == "class_one_in_square"
        assert by_function.params["score_target"] == {"type": "ScoreTarget", "name": "class_one_in_square"}
    # the record saves and loads as any other, and plots with the target's name
    loaded = superexplain.Explanation.load(by_region.save(tmp_path / "region.npz"))
    assert loaded == by_region and loaded.params["score_target"]["mask_pixels"] == 64
    assert "region of class 1" in loaded.plot().get_title()


def test_bad_score_targets_and_class_targets_on_a_segmentation_model_are_refused(segmenter, square_mask):
    model, _ = segmenter
    image = np.zeros((16, 16, 3), np.float32)
    with pytest.raises(TypeError, match="mask must be a boolean array"):
        Region(1, square_mask.astype(float) * 0.5)
    with pytest.raises(ValueError, match="mask must be 2-D"):
        Region(1, square_mask[0])
    with pytest.raises(ValueError, match=r"mask has shape \(8, 8\) but the model's output map is 16x16"):
        superexplain.explain(model, image, method="saliency", target=Region(1, square_mask[:8, :8]), verbose=0)
    with pytest.raises(ValueError, match="class_index=2 is out of range"):
        superexplain.explain(model, image, method="occlusion", target=Region(2, square_mask), window=4, verbose=0)
    with pytest.raises(ValueError, match=r"Similarity needs an embedding model's output of shape \(N, 3\)"):
        superexplain.explain(model, image, method="gradcam", target=Similarity([1.0, 2.0, 3.0]), verbose=0)
    with pytest.raises(ValueError, match="not all zero"):
        Similarity([0.0, 0.0])
    with pytest.raises(ValueError, match="shape \\(d,\\)"):
        Similarity(np.ones((2, 2)))
    with pytest.raises(TypeError, match="function must be a callable"):
        ScoreTarget(3)
    message = r"output has shape \(None, 16, 16, 2\), not class scores .* give target=superexplain.targets.Region"
    for method in ("gradcam", "saliency", "occlusion"):
        with pytest.raises(ValueError, match=message):
            superexplain.explain(model, image, method=method, target=1, verbose=0)
    with pytest.raises(ValueError, match=r"output has shape \(None, 16, 16, 2\)"):
        as_predictor(model).predict(image[None])
    from superexplain.gradcam.cams import run_gradcam

    with pytest.raises(ValueError, match="top_labels cannot be used with a score function"):
        run_gradcam(as_predictor(model), image[None], targets=Region(1, square_mask), top_labels=2, verbose=0)
    with pytest.raises(ValueError, match="one score per image"):
        superexplain.explain(model, image, method="occlusion", target=lambda outputs: outputs, window=8, verbose=0)


def test_a_method_that_takes_no_score_function_says_so(segmenter, square_mask):
    from superexplain.gradcam.cam_common import encode_targets
    from superexplain.models.targets import Named, resolve_targets

    predictor = as_predictor(segmenter[0])
    region = Named(Region(1, square_mask), "target")
    with pytest.raises(TypeError, match="target=Region.* is a score function, which this method does not take"):
        encode_targets(predictor, 1, region, None)
    with pytest.raises(TypeError, match="is a score function, which this method does not take"):
        resolve_targets(region, 3, n_images=1)


def test_ablationcam_and_feature_factorization_take_a_region(segmenter, square_mask, rng):
    model, logits = segmenter
    image = _object_image(rng)
    mid = keras_submodel(model, "mid")
    activations = mid(image[None]).numpy()[0].astype(np.float64)  # (8, 8, 4)
    kernel, bias = (w.astype(np.float64) for w in model.get_layer("logits").get_weights())

    def region_score(grid):  # the head above "mid" by hand: nearest upsampling, 1x1 conv, class 1 in the square
        upsampled = grid.repeat(2, axis=0).repeat(2, axis=1)
        return float(((upsampled @ kernel[0, 0] + bias)[..., 1] * square_mask).sum())

    y = region_score(activations)
    drops = []
    for k in range(activations.shape[-1]):
        ablated = activations.copy()
        ablated[..., k] = 0.0
        drops.append(y - region_score(ablated))
    expected = np.maximum(np.einsum("hwc,c->hw", activations, np.array(drops) / y), 0.0)
    e = superexplain.explain(model, image, method="ablationcam", target=Region(1, square_mask), layer="mid",
                             verbose=0)
    np.testing.assert_allclose(e.feature_map, expected, rtol=1e-4, atol=1e-6 * expected.max())
    assert e.score == pytest.approx(y, rel=1e-5) and e.params["score_target"]["type"] == "Region"
    dff = superexplain.explain(model, image, method="feature_factorization", target=Region(1, square_mask),
                               layer="mid", n_concepts=2, verbose=0)
    scores = np.asarray(dff.params["concepts"]["class_scores"])
    assert scores.shape == (2, 1) and dff.params["concept"] == int(np.argmax(scores[:, 0]))


def test_the_automatic_layer_of_a_segmentation_model_is_before_its_score_layers(segmenter, square_mask, rng):
    from superexplain.gradcam import resolve_layer

    model, _ = segmenter
    resolved = resolve_layer(model)  # not the softmax output, nor the 1x1 conv making the logits
    assert resolved.name == "up" and "segmentation" in resolved.reason
    e = superexplain.explain(model, _object_image(rng), method="gradcam", target=Region(1, square_mask), verbose=0)
    assert e.params["layer"] == "up" and e.heatmap[square_mask].sum() >= 0.85 * e.heatmap.sum() > 0
