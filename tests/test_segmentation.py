"""Segmentation: contiguous deterministic labels for every method, input handling, tuning statistics."""
import numpy as np
import pytest
from skimage import data
from skimage.measure import label as connected_components
from skimage.transform import resize

from superexplain.segmentation import (
    SEGMENTATION_METHODS,
    count_segments,
    segment,
    segment_means,
    segment_sizes,
    segment_stats,
)

# small options so that every method gives a handful of segments on a small image, fast
_OPTIONS = {
    "slic": {"n_segments": 20},
    "quickshift": {"kernel_size": 3, "max_dist": 10},
    "felzenszwalb": {"scale": 50, "min_size": 20},
    "watershed": {"markers": 20},
    "grid": {"n_segments": 20},
}


@pytest.fixture(scope="module")
def cat_uint8():
    """A 48x64 uint8 RGB image that uses the full 0..255 range."""
    small = resize(data.chelsea(), (48, 64), anti_aliasing=True)
    small = (small - small.min()) / (small.max() - small.min())
    return np.round(small * 255).astype(np.uint8)


def _assert_contiguous(labels, shape):
    assert labels.dtype == np.int32 and labels.shape == shape
    assert np.array_equal(np.unique(labels), np.arange(labels.max() + 1))  # 0..K-1, none missing


@pytest.mark.parametrize("method", SEGMENTATION_METHODS)
def test_labels_are_contiguous_and_deterministic_for_every_method(cat_uint8, method):
    first = segment(cat_uint8, method, **_OPTIONS[method])
    second = segment(cat_uint8.copy(), method, **_OPTIONS[method])
    _assert_contiguous(first, cat_uint8.shape[:2])
    assert first.max() >= 1  # more than one segment on a real image
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("method", ["slic", "grid"])
def test_slic_and_grid_segments_are_spatially_connected(cat_uint8, method):
    labels = segment(cat_uint8, method, **_OPTIONS[method])
    for index in range(labels.max() + 1):
        assert connected_components(labels == index, connectivity=1).max() == 1


@pytest.mark.parametrize("shape, n_segments, rows, cols", [((30, 40), 12, 3, 4), ((60, 60), 9, 3, 3),
                                                            ((20, 80), 4, 1, 4), ((10, 10), 1, 1, 1)])
def test_grid_cells_are_counted_and_equal_rectangles(shape, n_segments, rows, cols):
    labels = segment(np.zeros(shape), "grid", n_segments=n_segments)
    assert count_segments(labels) == rows * cols
    cell = (shape[0] // rows, shape[1] // cols)
    for index in range(rows * cols):
        where = np.argwhere(labels == index)
        extent = where.max(axis=0) - where.min(axis=0) + 1
        assert tuple(extent) == cell and len(where) == cell[0] * cell[1]  # a full rectangle
    # row-major numbering: the first row of cells holds labels 0..cols-1
    assert labels[0, -1] == cols - 1 and labels[-1, 0] == (rows - 1) * cols


def test_uint8_and_float_inputs_give_the_same_labels_and_are_not_modified(cat_uint8):
    as_float = cat_uint8 / 255.0
    as_255 = cat_uint8.astype(np.float32)
    rgba = np.concatenate([cat_uint8, np.random.default_rng(0).integers(0, 256, (48, 64, 1), np.uint8)], 2)
    originals = [a.copy() for a in (cat_uint8, as_float, as_255, rgba)]
    expected = segment(cat_uint8, "slic", n_segments=20)
    np.testing.assert_array_equal(segment(as_float, "slic", n_segments=20), expected)
    np.testing.assert_array_equal(segment(as_255, "slic", n_segments=20), expected)
    np.testing.assert_array_equal(segment(rgba, "slic", n_segments=20), expected)  # alpha ignored
    for array, original in zip((cat_uint8, as_float, as_255, rgba), originals):
        np.testing.assert_array_equal(array, original)
        assert array.dtype == original.dtype


def test_model_preprocessed_ranges_are_segmented_on_a_display_copy(cat_uint8):
    reference = segment(cat_uint8, "slic", n_segments=20)
    minus_one_one = cat_uint8 / 127.5 - 1.0  # MobileNet-style [-1, 1]
    caffe = cat_uint8[..., ::-1].astype(np.float32) - np.array([103.939, 116.779, 123.68], np.float32)
    kept = minus_one_one.copy(), caffe.copy()
    labels = segment(minus_one_one, "slic", n_segments=20)
    # [-1, 1] of a full-range image rescales back to x / 255 up to rounding: the same segmentation
    assert np.mean(labels == reference) > 0.99
    _assert_contiguous(segment(caffe, "slic", n_segments=20), cat_uint8.shape[:2])
    np.testing.assert_array_equal(minus_one_one, kept[0])
    np.testing.assert_array_equal(caffe, kept[1])


def test_grayscale_two_and_three_dimensional_give_the_same_labels(cat_uint8):
    gray = cat_uint8.mean(axis=2)
    flat = segment(gray, "felzenszwalb", scale=50, min_size=20)
    np.testing.assert_array_equal(segment(gray[:, :, None], "felzenszwalb", scale=50, min_size=20), flat)
    _assert_contiguous(flat, gray.shape)


def test_callable_method_gets_a_display_copy_and_its_labels_are_relabelled(cat_uint8):
    seen = {}

    def halves(image):
        seen["range"] = (image.min(), image.max(), image.shape)
        image[...] = 0  # must not reach the caller
        out = np.full(image.shape[:2], 7)
        out[:, image.shape[1] // 2:] = 42
        return out

    original = cat_uint8.copy()
    labels = segment(cat_uint8, halves)
    assert seen["range"] == (0.0, 1.0, (48, 64, 3))
    np.testing.assert_array_equal(cat_uint8, original)
    assert set(np.unique(labels)) == {0, 1} and labels[0, 0] == 0 and labels[0, -1] == 1


def test_segment_statistics_match_hand_counts():
    labels = np.array([[3, 3, 3, 9],
                       [3, 5, 5, 9],
                       [5, 5, 5, 9]])
    assert count_segments(labels) == 3
    assert segment_sizes(labels).tolist() == [4, 5, 3]  # labels 3, 5, 9 in order
    stats = segment_stats(labels)
    assert (stats.n_segments, stats.min_size, stats.max_size) == (3, 3, 5)
    assert stats.mean_size == pytest.approx(12 / 3)
    assert "3 segments" in str(stats)
    values = np.arange(12, dtype=float).reshape(3, 4)
    expected = [np.mean([0, 1, 2, 4]), np.mean([5, 6, 8, 9, 10]), np.mean([3, 7, 11])]
    np.testing.assert_allclose(segment_means(values, labels), expected)


@pytest.mark.parametrize("image, error", [
    (np.zeros((2, 8, 8, 3)), ValueError),       # a batch: unsupported rank
    (np.zeros(8), ValueError),                 # rank 1
    (np.zeros((8, 8, 2)), ValueError),          # two channels
    (np.zeros((8, 8, 5)), ValueError),          # five channels
    ("cat.png", TypeError),                     # not an array
    (np.full((8, 8, 3), np.nan), ValueError),   # not finite
])
def test_bad_images_are_rejected_with_named_errors(image, error):
    with pytest.raises(error, match="image"):
        segment(image)


def test_bad_methods_and_options_are_rejected():
    image = np.zeros((16, 16, 3))
    with pytest.raises(ValueError, match="method"):
        segment(image, "superpixels")
    with pytest.raises(ValueError, match="n_segments"):
        segment(image, "grid", n_segments=0)
    with pytest.raises(ValueError, match="n_segments"):
        segment(image, "slic", n_segments=0)
    with pytest.raises(TypeError, match="n_segments"):
        segment(image, "grid", n_segments=2.5)
    with pytest.raises(TypeError, match="grid"):
        segment(image, "grid", compactness=3)
    with pytest.raises(ValueError, match="shape"):
        segment(image, lambda rgb: np.zeros((4, 4), int))  # a callable returning the wrong shape


def test_bad_label_images_are_rejected_by_the_statistics():
    with pytest.raises(ValueError, match="2-D"):
        segment_stats(np.zeros((2, 3, 4), int))
    with pytest.raises(TypeError, match="integer"):
        count_segments(np.full((3, 3), 0.5))
    with pytest.raises(ValueError, match="shape"):
        segment_means(np.zeros((3, 3)), np.zeros((3, 4), int))
    with pytest.raises(TypeError, match="labels"):
        count_segments(None)


def test_segment_means_of_an_image_gives_each_segment_its_mean_colour():
    from superexplain.segmentation import segment_means

    image = np.arange(2 * 3 * 2, dtype=float).reshape(2, 3, 2)
    labels = np.array([[0, 0, 1], [1, 1, 1]])
    expected = np.array([[(0 + 2) / 2, (1 + 3) / 2], [(4 + 6 + 8 + 10) / 4, (5 + 7 + 9 + 11) / 4]])
    np.testing.assert_array_equal(segment_means(image, labels), expected)
    with pytest.raises(ValueError, match="labels' shape"):
        segment_means(np.zeros((2, 2, 2)), labels)
