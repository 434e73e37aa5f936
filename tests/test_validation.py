"""The validation layer: every bad input gets a specific error naming the argument."""
import numpy as np
import pytest

from superexplain._validation import (check_choice, check_float, check_images, check_int,
                                      check_random_state, check_segments, check_target, resolve_seed)


def test_check_images_accepts_single_images_and_batches_and_copies():
    image = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    batch, single = check_images(image)
    assert single and batch.shape == (1, 4, 4, 3) and batch.dtype == np.float32
    batch[...] = 0
    assert image.max() == 47  # the caller's array is untouched
    gray, single = check_images(np.zeros((5, 6)))
    assert single and gray.shape == (1, 5, 6, 1)
    stack, single = check_images(np.zeros((2, 5, 6, 3)))
    assert not single and stack.shape == (2, 5, 6, 3)
    listed, single = check_images([np.zeros((3, 3, 3))] * 2)
    assert not single and listed.shape == (2, 3, 3, 3)


@pytest.mark.parametrize(
    "value, error, match",
    [
        (np.zeros((0, 4, 4, 3)), ValueError, "empty batch"),
        ([], ValueError, "empty batch"),
        (np.zeros((2, 2, 2, 2, 2)), ValueError, "got shape"),
        (np.zeros((4, 4, 5, 2)), ValueError, "channels"),
        (np.full((4, 4, 3), np.nan), ValueError, "NaN or infinite"),
        (np.array([[[np.inf, 0, 0]]]), ValueError, "NaN or infinite"),
        ("cat.png", TypeError, "numeric array"),
        (np.array([["a", "b"]]), TypeError, "dtype"),
        ([np.zeros((3, 3, 3)), np.zeros((4, 4, 3))], ValueError, "same shape"),
    ],
)
def test_check_images_rejects_bad_images(value, error, match):
    with pytest.raises(error, match=match):
        check_images(value, "image")


def test_check_segments_relabels_to_contiguous_and_checks_shape():
    labels = check_segments(np.array([[5, 5], [9, 2]]), (2, 2, 3))
    assert labels.dtype == np.int32 and labels.tolist() == [[1, 1], [2, 0]]
    with pytest.raises(ValueError, match=r"segments must have shape \(3, 2\)"):
        check_segments(np.zeros((2, 2), int), (3, 2, 3))
    with pytest.raises(TypeError, match="integer labels"):
        check_segments(np.full((2, 2), 0.5), (2, 2))


def test_random_state_same_seed_same_stream_and_seed_recorded():
    a = check_random_state(3).random(5)
    b = check_random_state(3).random(5)
    assert np.array_equal(a, b)
    generator = np.random.default_rng(1)
    assert check_random_state(generator) is generator
    assert resolve_seed(11) == 11
    drawn = resolve_seed(None)
    assert isinstance(drawn, int) and drawn >= 0
    with pytest.raises(TypeError, match="random_state"):
        check_random_state("seed")
    with pytest.raises(ValueError, match="non-negative"):
        resolve_seed(-1)


def test_scalar_checks_name_the_argument():
    assert check_int(3, "n", 1) == 3
    with pytest.raises(ValueError, match="num_samples must be >= 2; got 1"):
        check_int(1, "num_samples", 2)
    with pytest.raises(TypeError, match="num_samples must be an int"):
        check_int(2.0, "num_samples")
    with pytest.raises(ValueError, match="alpha must be >= 0"):
        check_float(-1, "alpha", 0)
    with pytest.raises(ValueError, match="must be > 0"):
        check_float(0, "kernel_width", 0, strict=True)
    with pytest.raises(ValueError, match="kind must be one of 'a', 'b'; got 'c'"):
        check_choice("c", "kind", ["a", "b"])


def test_check_target_by_index_and_name():
    names = ["circle", "square", "triangle"]
    assert check_target(1, 3) == 1
    assert check_target("triangle", 3, names) == 2
    with pytest.raises(ValueError, match="out of range: the model has 3 classes"):
        check_target(3, 3)
    with pytest.raises(ValueError, match="did you mean 'square'"):
        check_target("sqare", 3, names)
    with pytest.raises(ValueError, match="no class names"):
        check_target("circle", 3)
    with pytest.raises(TypeError, match="class index"):
        check_target(1.0, 3)
