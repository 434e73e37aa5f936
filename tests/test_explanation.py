"""The common Explanation: construction checks, private copies, a lossless .npz round trip."""
import numpy as np
import pytest

from superexplain import Explanation
from superexplain.explanation import ExplanationFileError


def _perturbation_explanation(rng):
    image = rng.random((12, 10, 3)).astype(np.float32)
    segments = np.repeat(np.arange(4), 30).reshape(12, 10).astype(np.int32)
    weights = rng.normal(size=4)
    return Explanation(
        image=image, method="lime", target=2, target_name="cat", score=0.8125,
        heatmap=weights[segments], segments=segments, weights=weights,
        weight_errors=np.abs(weights) / 10, intercept=0.1, local_prediction=0.75,
        local_fit=float("nan"), params={"num_samples": np.int64(1000), "kernel_width": 0.25,
                                        "hide_color": (0.1, 0.2, 0.3), "seed": 7, "nested": {"a": [1, 2]}},
    )


def test_round_trip_is_lossless_for_every_field(tmp_path, rng):
    original = _perturbation_explanation(rng)
    path = original.save(tmp_path / "e")  # the suffix is added
    assert path.endswith(".npz")
    loaded = Explanation.load(path)
    assert loaded == original
    assert loaded.heatmap.dtype == np.float32 and loaded.segments.dtype == np.int32
    assert loaded.params["hide_color"] == [0.1, 0.2, 0.3]
    assert loaded.image.dtype == original.image.dtype
    np.testing.assert_array_equal(loaded.weights, original.weights)  # float64 kept bit for bit


def test_round_trip_gradient_explanation_keeps_feature_map_and_none_fields(tmp_path, rng):
    image = (rng.random((8, 8, 3)) * 255).astype(np.uint8)
    original = Explanation(image=image, method="gradcam", target=0, heatmap=rng.random((8, 8)),
                           feature_map=rng.random((2, 2)), score=-1.5e-300, params={"layer": "conv"})
    loaded = Explanation.load(original.save(tmp_path / "g.npz"))
    assert loaded == original
    assert loaded.segments is None and loaded.weights is None and loaded.intercept is None
    assert loaded.image.dtype == np.uint8
    assert loaded.score == -1.5e-300


def test_equality_detects_a_single_changed_bit(rng):
    a = _perturbation_explanation(np.random.default_rng(0))
    b = _perturbation_explanation(np.random.default_rng(0))
    assert a == b
    b.heatmap[3, 3] = np.nextafter(b.heatmap[3, 3], np.float32(10))
    assert a != b


def test_explanation_holds_private_copies(rng):
    image = rng.random((4, 4, 3))
    heatmap = rng.random((4, 4))
    explanation = Explanation(image=image, method="m", target=0, heatmap=heatmap)
    image[...] = -1
    heatmap[...] = -1
    assert explanation.image.min() >= 0 and explanation.heatmap.min() >= 0


def test_grayscale_image_is_stored_with_a_channel_axis():
    explanation = Explanation(image=np.zeros((5, 6)), method="m", target=0, heatmap=np.zeros((5, 6)))
    assert explanation.image.shape == (5, 6, 1)


@pytest.mark.parametrize(
    "changes, error, match",
    [
        ({"heatmap": np.zeros((3, 3))}, ValueError, "heatmap must have shape"),
        ({"segments": np.zeros((2, 2), int)}, ValueError, "segments must have shape"),
        ({"target": 1.5}, TypeError, "target must be an int"),
        ({"target": True}, TypeError, "target must be an int"),
        ({"method": ""}, TypeError, "method"),
        ({"params": {"f": object()}}, TypeError, r"params\['f'\]"),
        ({"params": {1: 2}}, TypeError, "keys must be str"),
        ({"image": np.zeros((2, 4, 4, 3))}, ValueError, "image must have shape"),
        ({"weights": np.zeros((2, 2))}, ValueError, "weights must be 1-D"),
    ],
)
def test_bad_fields_are_rejected_with_the_field_named(changes, error, match):
    fields = dict(image=np.zeros((4, 4, 3)), method="m", target=0, heatmap=np.zeros((4, 4)))
    fields.update(changes)
    with pytest.raises(error, match=match):
        Explanation(**fields)


def test_weights_must_cover_every_segment_label():
    segments = np.array([[0, 1], [2, 3]])
    with pytest.raises(ValueError, match="labels up to 3"):
        Explanation(image=np.zeros((2, 2, 1)), method="lime", target=0, heatmap=np.zeros((2, 2)),
                    segments=segments, weights=np.zeros(3))


def test_load_rejects_a_foreign_npz(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, a=np.zeros(3))
    with pytest.raises(ValueError, match="other.npz.*other arrays \\(a\\).*no metadata") as caught:
        Explanation.load(path)
    assert isinstance(caught.value, ExplanationFileError) and caught.value.foreign


def _saved_bytes(tmp_path, rng) -> bytes:
    path = _perturbation_explanation(rng).save(tmp_path / "good.npz")
    with open(path, "rb") as handle:
        return handle.read()


def _flip_byte_inside_a_member(data: bytes) -> bytes:
    """The archive with one byte of the heatmap's compressed data changed; its table of contents intact."""
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo("heatmap.npy")
    # a local file header is 30 bytes plus the name and extra field; the data follow
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    damaged = bytearray(data)
    damaged[start + info.compress_size // 2] ^= 0xFF
    return bytes(damaged)


@pytest.mark.parametrize("kind, problem", [
    ("empty", r"empty \(0 bytes\)"),
    ("cut in half", "not an .npz \\(zip\\) archive, or one cut short"),
    ("text renamed .npz", "not an .npz archive"),
    ("npy renamed .npz", "single .npy array"),
    ("damaged member", "damaged: reading 'heatmap' failed"),
    ("metadata not json", "metadata is not valid JSON"),
    ("metadata without fields", "metadata lacks"),
    ("arrays that make no explanation", "contents do not make a valid Explanation.*heatmap must have shape"),
])
def test_load_of_a_corrupt_file_is_a_value_error_naming_the_file_and_the_problem(tmp_path, rng, kind, problem):
    good = _saved_bytes(tmp_path, rng)
    path = tmp_path / "bad.npz"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "cut in half":
        path.write_bytes(good[:len(good) // 2])
    elif kind == "text renamed .npz":
        path.write_text("this is a text file, not an explanation\n")
    elif kind == "npy renamed .npz":
        with open(path, "wb") as handle:
            np.save(handle, np.zeros((4, 4)))
    elif kind == "damaged member":
        path.write_bytes(_flip_byte_inside_a_member(good))
    elif kind == "metadata not json":
        np.savez(path, __meta__=np.array("{not json"), heatmap=np.zeros((2, 2)))
    elif kind == "metadata without fields":
        np.savez(path, __meta__=np.array('{"format_version": 1}'))
    else:
        meta = '{"format_version": 1, "fields": {"method": "lime", "target": 0}, "params": {}}'
        np.savez(path, __meta__=np.array(meta), image=np.zeros((4, 4, 3)), heatmap=np.zeros((3, 3)))
    with pytest.raises(ValueError, match=problem) as caught:
        Explanation.load(path)
    message = str(caught.value)
    assert str(path) in message and message.startswith(f"cannot read {str(path)!r} as a superexplain Explanation")
    assert isinstance(caught.value, ExplanationFileError) and not caught.value.foreign
    assert caught.value.path == str(path)


def test_load_of_a_file_from_a_newer_version_says_so(tmp_path, rng):
    path = tmp_path / "future.npz"
    np.savez(path, __meta__=np.array('{"format_version": 99, "fields": {}, "params": {}}'))
    with pytest.raises(ValueError, match="future.npz.*newer superexplain \\(format 99\\)"):
        Explanation.load(path)


def test_load_of_a_missing_file_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        Explanation.load(tmp_path / "nowhere.npz")


def test_top_segments_orders_by_weight_and_keeps_positive_only(rng):
    explanation = _perturbation_explanation(rng)
    explanation.weights = np.array([0.5, -2.0, 1.0, 0.0])
    assert explanation.top_segments(3).tolist() == [2, 0]
    assert explanation.top_segments(2, positive_only=False).tolist() == [1, 2]


def test_the_same_explanation_gives_the_same_file_bytes_and_numpy_reads_it(tmp_path, rng):
    import time
    import zipfile

    explanation = _perturbation_explanation(rng)
    first = explanation.save(tmp_path / "first.npz")
    time.sleep(2.1)  # a zip time stamp counts in steps of two seconds: the clock alone would differ
    second = explanation.save(tmp_path / "second.npz")
    assert open(first, "rb").read() == open(second, "rb").read()
    with np.load(first, allow_pickle=False) as archive:  # a plain .npz: numpy reads it without us
        np.testing.assert_array_equal(archive["heatmap"], explanation.heatmap)
        assert set(archive.files) >= {"image", "heatmap", "__meta__"}
    with zipfile.ZipFile(first) as archive:
        assert all(info.compress_type == zipfile.ZIP_DEFLATED for info in archive.infolist())


def test_the_file_error_is_public_and_plot_draws_through_plotting(tmp_path, rng):
    import matplotlib.pyplot as plt

    import superexplain

    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    with pytest.raises(superexplain.ExplanationFileError, match="empty"):
        Explanation.load(path)
    explanation = _perturbation_explanation(rng)
    ax = explanation.plot()
    assert ax.get_images(), "the Explanation's plot drew no image"
    assert explanation._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"
    plt.close("all")
