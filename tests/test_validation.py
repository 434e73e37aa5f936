"""The validation layer: every bad input gets a specific error naming the argument."""
import numpy as np
import pytest

from superexplain._validation import (check_choice, check_float, check_images, check_int,
                                      check_random_state, check_segments, resolve_seed)
from superexplain.models.targets import check_target


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


# ---------------------------------------------------------------- one image or a batch (issue 19, section 3)
def test_rank3_array_with_a_channel_axis_the_model_takes_is_one_image():
    image = np.arange(4 * 5 * 3, dtype=np.float32).reshape(4, 5, 3)
    batch, single = check_images(image, "image")  # channels unknown (a plain callable): 1, 3 or 4
    assert single and batch.shape == (1, 4, 5, 3)
    np.testing.assert_array_equal(batch[0], image)
    batch, single = check_images(image, "image", channels=(3,))
    assert single and batch.shape == (1, 4, 5, 3)


def test_rank3_array_without_a_channel_axis_is_a_grayscale_batch_for_a_one_channel_model():
    stack = np.arange(3 * 8 * 9, dtype=np.float32).reshape(3, 8, 9)
    batch, single = check_images(stack, "images", channels=(1,))  # 3 is no channel count of this model
    assert not single and batch.shape == (3, 8, 9, 1)
    for i in range(3):
        np.testing.assert_array_equal(batch[i, :, :, 0], stack[i])
    ten = np.zeros((10, 8, 9))  # first axis no channel count: a batch whatever the model
    assert check_images(ten, "images")[0].shape == (10, 8, 9, 1)


def test_colour_image_given_to_a_one_channel_model_is_refused_not_read_as_a_batch():
    image = np.zeros((32, 32, 3))
    with pytest.raises(ValueError, match=r"image of shape \(32, 32, 3\) looks like one image with 3 channels.*"
                                         r"1 channel for this model.*batch=True"):
        check_images(image, "image", channels=(1,))
    batch, single = check_images(image, "image", channels=(1,), batch=True)  # the user says: 32 grayscale images
    assert not single and batch.shape == (32, 32, 3, 1)


def test_channels_first_image_is_refused_with_the_moveaxis_that_fixes_it():
    image = np.zeros((3, 32, 32))
    with pytest.raises(ValueError, match=r"channels-first.*np\.moveaxis\(image, 0, -1\)"):
        check_images(image, "image", channels=(3,))
    with pytest.raises(ValueError, match=r"np\.moveaxis\(image, 0, -1\)"):
        check_images(image, "image", channels=(3,), batch=False)
    with pytest.raises(ValueError, match=r"read as a batch.*holds 3 grayscale images.*3 channels for this model"):
        check_images(image, "image", channels=(3,), batch=True)  # 3 grayscale images: not for an RGB model
    fixed, single = check_images(np.moveaxis(image, 0, -1), "image", channels=(3,))
    assert single and fixed.shape == (1, 32, 32, 3)


def test_ambiguous_rank3_array_needs_batch_when_the_channels_are_unknown():
    stack = np.random.default_rng(0).random((3, 8, 9))
    with pytest.raises(ValueError, match=r"ambiguous.*np\.moveaxis.*batch=True"):
        check_images(stack, "image")
    batch, single = check_images(stack, "image", batch=True)
    assert not single and batch.shape == (3, 8, 9, 1)
    np.testing.assert_allclose(batch[2, :, :, 0], stack[2], rtol=1e-7)
    with pytest.raises(ValueError, match="np.moveaxis"):
        check_images(stack, "image", batch=False)  # one image of 9 channels: not an image


def test_batch_argument_contradicting_the_rank_is_refused():
    with pytest.raises(ValueError, match=r"shape \(2, 4, 4, 3\) is a batch.*batch=False"):
        check_images(np.zeros((2, 4, 4, 3)), "image", batch=False)
    with pytest.raises(ValueError, match=r"shape \(4, 4\) is one \(H, W\) grayscale image.*batch=True"):
        check_images(np.zeros((4, 4)), "image", batch=True)
    with pytest.raises(TypeError, match="batch must be None, True or False"):
        check_images(np.zeros((4, 4)), "image", batch="yes")
    one, single = check_images(np.zeros((4, 5, 3)), "image", batch=False)
    assert single and one.shape == (1, 4, 5, 3)


def test_list_of_grayscale_images_is_a_batch_even_when_their_width_looks_like_channels():
    images = [np.full((5, 3), 1.0), np.full((5, 3), 2.0)]  # stacked: (2, 5, 3), which alone reads as one RGB image
    batch, single = check_images(images, "images")
    assert not single and batch.shape == (2, 5, 3, 1)
    assert batch[0].max() == 1.0 and batch[1].min() == 2.0
    with pytest.raises(ValueError, match="list of 2 images.*batch=False"):
        check_images(images, "images", batch=False)


@pytest.mark.parametrize(
    "value, channels, shape_text",
    [
        (np.zeros((5, 5)), (3,), r"\(5, 5\)"),
        (np.zeros((6, 6, 2)), (3,), r"\(6, 6, 2\)"),
        (np.zeros((2, 5, 5, 4)), (3,), r"\(2, 5, 5, 4\)"),
        (np.zeros((2, 5, 5, 5)), None, r"\(2, 5, 5, 5\)"),
    ],
)
def test_errors_report_the_shape_the_user_gave(value, channels, shape_text):
    with pytest.raises(ValueError, match=rf"^image must have .*channel.*got shape {shape_text}$"):
        check_images(value, "image", channels=channels)


def test_integer_model_input_takes_whole_numbers_in_range_only():
    with pytest.raises(ValueError, match=r"image holds fractional values \(e.g. 0.9\).*uint8"):
        check_images(np.full((2, 2, 3), 0.9), "image", dtype="uint8")
    with pytest.raises(ValueError, match=r"image holds values in \[0, 256\].*uint8 input \(0..255\)"):
        check_images(np.array([[[0.0, 10.0, 256.0]]]), "image", dtype="uint8")
    with pytest.raises(ValueError, match=r"values in \[-1, 3\]"):
        check_images(np.array([[[-1, 2, 3]]], dtype=np.int64), "image", dtype="uint8")
    whole = np.array([[[0.0, 127.0, 255.0]]])
    batch, _ = check_images(whole, "image", dtype="uint8")
    assert batch[0, 0, 0].tolist() == [0.0, 127.0, 255.0]
    # float models take any finite value, and an unknown (TensorFlow-only) dtype is not checked
    assert check_images(np.full((2, 2, 3), 0.9), "image", dtype="float32")[0].max() == np.float32(0.9)
    assert check_images(np.full((2, 2, 3), 0.9), "image", dtype="bfloat16")[0].max() == np.float32(0.9)


def test_named_value_carries_the_users_argument_name():
    from superexplain.models.targets import Named, unwrap_named

    assert unwrap_named(Named(7, "target"), "targets") == (7, "target")
    assert unwrap_named(7, "targets") == (7, "targets")
    assert unwrap_named(None, "targets") == (None, "targets")
    assert repr(Named([1, "dog"], "target")) == "target=[1, 'dog']"


def test_list_of_grayscale_images_for_a_colour_model_is_refused_naming_the_channels():
    with pytest.raises(ValueError, match=r"a list of images\), holds 2 grayscale images.*3 channels for this model"):
        check_images([np.zeros((5, 6)), np.zeros((5, 6))], "images", channels=(3,))
