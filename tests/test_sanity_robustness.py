"""Max- and average-sensitivity (Yeh et al. 1901.09392) against closed forms and a numpy replay of the same draws."""
from __future__ import annotations

import numpy as np
import pytest

from superexplain.metrics import ScoreResult
from superexplain.sanity import avg_sensitivity, max_sensitivity
from superexplain.sanity.robustness import sensitivities

SIZE = 6


def _numpy_model(x):
    return np.stack([x.mean(axis=(1, 2, 3)), x.max(axis=(1, 2, 3))], axis=1)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).random((2, SIZE, SIZE, 1)).astype(np.float32)


@pytest.fixture(scope="module")
def linear_model(keras):
    inputs = keras.Input((SIZE, SIZE, 1))
    outputs = keras.layers.Dense(3)(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(1)
    model.layers[-1].set_weights([rng.normal(size=(SIZE * SIZE, 3)), rng.normal(size=3)])
    return model


@pytest.fixture(scope="module")
def quadratic_model(keras):
    """logit_c = sum_j W_jc x_j^2, whose gradient 2 W_c x changes with the input."""
    inputs = keras.Input((SIZE, SIZE, 1))
    flat = keras.layers.Flatten()(inputs)
    outputs = keras.layers.Dense(3, use_bias=False)(keras.layers.Multiply()([flat, flat]))
    model = keras.Model(inputs, outputs)
    weights = np.random.default_rng(2).normal(size=(SIZE * SIZE, 3))
    model.layers[-1].set_weights([weights])
    return model, weights


def _replayed_draws(images, radius, num_samples, seed):
    """The documented draws: one integer for the method's seed, then uniform noise image by image."""
    rng = np.random.default_rng(seed)
    rng.integers(0, 2**31 - 1)
    return [(image.astype(np.float64) + rng.uniform(-radius, radius, size=(num_samples,) + image.shape))
            .astype(np.float32) for image in images]


def _norm(values, norm):
    flat = np.abs(values.reshape(values.shape[0], -1))
    return {"fro": np.sqrt((flat ** 2).sum(axis=1)), "l1": flat.sum(axis=1), "inf": flat.max(axis=1)}[norm]


def test_saliency_of_a_model_linear_in_the_input_does_not_move(linear_model, images):
    for check in (max_sensitivity, avg_sensitivity):
        result = check(linear_model, images, "saliency", radius=0.1, num_samples=4, random_state=0)
        assert isinstance(result, ScoreResult) and result.higher_is_better is False
        np.testing.assert_allclose(result.values["saliency"], 0.0, atol=1e-6)


@pytest.mark.parametrize("norm", ["fro", "l1", "inf"])
def test_saliency_of_a_quadratic_model_matches_numpy_on_the_same_draws(quadratic_model, images, norm):
    model, weights = quadratic_model
    targets, radius, samples = [0, 2], 0.05, 4
    values, params = sensitivities(model, images, "saliency", radius=radius, relative=False, num_samples=samples,
                                   norm=norm, targets=targets, random_state=3)
    for i, (image, copies) in enumerate(zip(images, _replayed_draws(images, radius, samples, 3))):
        pattern = weights[:, targets[i]].reshape(SIZE, SIZE)
        original = np.abs(2 * pattern * image[:, :, 0].astype(np.float64))  # |gradient|, one channel
        moved = np.abs(2 * pattern[None] * copies[..., 0].astype(np.float64))
        expected = _norm(moved - original[None], norm) / _norm(original[None], norm)
        np.testing.assert_allclose(values[i], expected, rtol=2e-4)
    assert params["targets"] == targets and params["radii"] == [radius, radius]
    assert np.all(values > 0)


def test_average_never_exceeds_maximum_and_both_reduce_the_same_draws(quadratic_model, images):
    model, _ = quadratic_model
    options = {"radius": 0.2, "num_samples": 5, "random_state": 4}
    values, _ = sensitivities(model, images, "saliency", **options)
    largest = max_sensitivity(model, images, "saliency", **options).values["saliency"]
    mean = avg_sensitivity(model, images, "saliency", **options).values["saliency"]
    np.testing.assert_array_equal(largest, values.max(axis=1))
    np.testing.assert_array_equal(mean, values.mean(axis=1))
    assert np.all(mean <= largest) and np.all(mean < largest)  # five different draws: strictly below


def test_same_seed_gives_identical_numbers_and_another_seed_other_draws(quadratic_model, images):
    model, _ = quadratic_model
    first = max_sensitivity(model, images, "saliency", num_samples=3, random_state=5)
    again = max_sensitivity(model, images, "saliency", num_samples=3, random_state=5)
    other = max_sensitivity(model, images, "saliency", num_samples=3, random_state=6)
    np.testing.assert_array_equal(first.values["saliency"], again.values["saliency"])
    assert not np.array_equal(first.values["saliency"], other.values["saliency"])
    assert first.params["seed"] == 5


def test_a_callable_method_sees_every_copy_in_one_call_and_matches_the_raw_norm(images):
    calls = []

    def first_channel(model, batch, targets=None):
        calls.append((batch.copy(), list(targets)))
        return [image[:, :, 0] for image in batch]

    values, params = sensitivities(_numpy_model, images, first_channel, radius=0.1, num_samples=3, normalise=False,
                                   targets=1, random_state=7)
    assert len(calls) == 1 and calls[0][0].shape == (2 + 2 * 3, SIZE, SIZE, 1)
    assert calls[0][1] == [1, 1] + [1] * 6
    radii = [0.1 * float(np.ptp(image)) for image in images]  # relative: a fraction of each image's range
    assert params["radii"] == radii and params["method"] == "first_channel"
    rng = np.random.default_rng(7)
    rng.integers(0, 2**31 - 1)
    for i, image in enumerate(images):
        copies = (image.astype(np.float64) + rng.uniform(-radii[i], radii[i], (3,) + image.shape)).astype(np.float32)
        np.testing.assert_allclose(values[i], _norm((copies - image)[..., 0], "fro"), rtol=1e-6)
        assert np.all(np.abs(copies - image) <= radii[i] + 1e-6)


def test_clip_keeps_every_copy_in_range_and_the_images_are_left_untouched(images):
    seen = []
    before = images.copy()
    sensitivities(_numpy_model, images, lambda m, batch, targets=None: seen.append(batch) or list(batch[..., 0]),
                  radius=0.5, num_samples=4, clip=(0.0, 1.0), random_state=8)
    assert seen[0].min() >= 0.0 and seen[0].max() <= 1.0 and (seen[0] == 0.0).any()
    np.testing.assert_array_equal(images, before)


def test_a_seeded_method_explains_every_copy_with_the_same_draws(images):
    # A radius far below float32 resolution leaves every copy equal to its image: only the sampler could move LIME.
    rng = np.random.default_rng(10)
    weights = rng.normal(size=(16, 16, 3, 2))
    colour = rng.random((3, 16, 16, 3)).astype(np.float32)
    result = max_sensitivity(lambda x: np.einsum("nhwc,hwck->nk", x, weights), colour, "lime", radius=1e-12,
                             relative=False, num_samples=2, options={"num_samples": 40}, random_state=9)
    assert result.params["radii"] == [1e-12] * 3
    np.testing.assert_array_equal(result.values["lime"], 0.0)


@pytest.mark.parametrize("kwargs, error, words", [
    ({"method": 3}, TypeError, "method"),
    ({"method": "nope"}, ValueError, "method"),
    ({"radius": 0.0}, ValueError, "radius"),
    ({"radius": "small"}, TypeError, "radius"),
    ({"num_samples": 0}, ValueError, "num_samples"),
    ({"norm": "l3"}, ValueError, "norm"),
    ({"normalise": "yes"}, TypeError, "normalise"),
    ({"clip": (1.0, 0.0)}, ValueError, "clip"),
    ({"clip": (0.0, 0.5)}, ValueError, "clip"),
    ({"clip": 1.0}, TypeError, "clip"),
    ({"targets": [0, 1, 0]}, ValueError, "targets"),
    ({"sigma": 1.0}, TypeError, "edge"),
    ({"images": np.zeros((1, 2, 6, 6, 1))}, ValueError, "images"),
])
def test_bad_arguments_are_named_in_the_error(images, kwargs, error, words):
    arguments = {"images": images, "method": "edge", **kwargs}
    with pytest.raises(error, match=words):
        max_sensitivity(_numpy_model, arguments.pop("images"), arguments.pop("method"), random_state=0, **arguments)


def test_a_constant_image_needs_an_absolute_radius():
    with pytest.raises(ValueError, match="relative=False"):
        max_sensitivity(_numpy_model, np.full((SIZE, SIZE, 1), 0.5), "edge", random_state=0)


def test_gradcam_on_the_demo_model_is_steadier_than_the_raw_gradient(demo_model, demo_data):
    # Measured on make_shapes(8, seed=7): Grad-CAM 0.035, saliency 0.46, edge control 0.06 (clip=(0, 1)).
    images = demo_data.images[:4]
    gradcam = max_sensitivity(demo_model, images, "gradcam", num_samples=3, clip=(0, 1), random_state=0)
    saliency = max_sensitivity(demo_model, images, "saliency", num_samples=3, clip=(0, 1), random_state=0)
    assert gradcam.score < 0.15 < saliency.score
