"""KernelSHAP, occlusion and RISE on the perturbation engine, and the engine's batch loop."""
from __future__ import annotations

from itertools import combinations
from math import factorial

import numpy as np
import pytest
from _perturbation_helpers import grid_segments as _grid_segments
from _perturbation_helpers import presence as _presence

import superexplain
from superexplain.models import as_predictor
from superexplain.models import predict_in_batches
from superexplain.perturbation.rise import RiseMasks




IMAGE = (0.3 + 0.7 * np.random.default_rng(0).random((12, 12, 3))).astype(np.float32)


def _set_function(value_of_present, segments):
    def model(batch):
        return np.asarray(value_of_present(_presence(batch, IMAGE, segments)), float)[:, None]
    return model


def _brute_force_shapley(value, n_players):
    """Shapley values by the permutation-free subset formula, written out."""
    phi = np.zeros(n_players)
    for player in range(n_players):
        others = [p for p in range(n_players) if p != player]
        for size in range(n_players):
            for subset in combinations(others, size):
                with_player = np.zeros(n_players, bool)
                with_player[list(subset)] = True
                without = with_player.copy()
                with_player[player] = True
                share = factorial(size) * factorial(n_players - size - 1) / factorial(n_players)
                phi[player] += share * (value(with_player[None])[0] - value(without[None])[0])
    return phi


def test_kernelshap_efficiency_holds_exactly_on_a_nonlinear_model():
    segments = _grid_segments(12, 12, 4, 5)  # 20 segments: sampled, not enumerated
    model = _set_function(lambda z: np.sin(z @ np.arange(20) / 7.0) + z[:, 0] * z[:, 3] * 2.0, segments)
    e = superexplain.explain(model, IMAGE, method="kernelshap", segments=segments, hide_color=0.0,
                             num_samples=600, random_state=1, verbose=0)
    full = model(IMAGE[None])[0, 0]
    empty = model(np.zeros_like(IMAGE)[None])[0, 0]
    assert not e.params["exact"] and e.params["samples_used"] == 600
    assert abs(e.weights.sum() - (np.float32(full) - np.float32(empty))) < 1e-6
    assert abs(e.intercept - np.float32(empty)) < 1e-7 and abs(e.local_prediction - e.score) < 1e-6


def test_kernelshap_recovers_linear_coefficients_as_shapley_values():
    segments = _grid_segments(12, 12, 4, 5)
    coef = np.random.default_rng(2).normal(size=20)
    model = _set_function(lambda z: 0.3 + z @ coef, segments)
    e = superexplain.explain(model, IMAGE, method="kernelshap", segments=segments, hide_color=0.0,
                             num_samples=300, random_state=2, verbose=0)
    np.testing.assert_allclose(e.weights, coef, atol=1e-5)


def test_kernelshap_enumerates_small_games_to_the_exact_shapley_values():
    segments = _grid_segments(12, 12, 2, 3)  # 6 segments: 64 coalitions

    def value(z):
        return z[:, 0] * z[:, 1] * 3.0 + np.maximum(z[:, 2] + z[:, 3] + z[:, 4] - 1, 0) - 0.5 * z[:, 5] * z[:, 0]

    e = superexplain.explain(_set_function(value, segments), IMAGE, method="kernelshap", segments=segments,
                             hide_color=0.0, num_samples=100, random_state=0, verbose=0)
    assert e.params["exact"] and e.params["samples_used"] == 64
    np.testing.assert_allclose(e.weights, _brute_force_shapley(value, 6), atol=1e-6)
    np.testing.assert_array_equal(e.weight_errors, np.zeros(6))


def test_kernelshap_sampled_estimate_converges_to_brute_force_shapley_within_its_errors():
    segments = _grid_segments(12, 12, 2, 5)  # 10 segments, sampled with fewer than 1024 coalitions

    def value(z):
        return np.tanh(z @ np.linspace(-1, 1.5, 10)) + z[:, 1] * z[:, 7]

    e = superexplain.explain(_set_function(value, segments), IMAGE, method="kernelshap", segments=segments,
                             hide_color=0.0, num_samples=800, random_state=4, verbose=0)
    truth = _brute_force_shapley(value, 10)
    assert not e.params["exact"]
    assert np.all(np.abs(e.weights - truth) < 4 * e.weight_errors + 1e-9)
    assert np.abs(e.weights - truth).max() < 0.05


def test_occlusion_weights_are_the_score_drop_of_each_hidden_segment():
    segments = _grid_segments(12, 12, 3, 3)
    coef = np.arange(9.0)
    model = _set_function(lambda z: z @ coef + 5.0 * z[:, 0] * z[:, 1], segments)
    e = superexplain.explain(model, IMAGE, method="occlusion", segments=segments, hide_color=0.0, verbose=0)
    expected = coef.copy()
    expected[[0, 1]] += 5.0  # hiding either segment of the pair also loses the interaction
    np.testing.assert_allclose(e.weights, expected, atol=1e-4)
    np.testing.assert_array_equal(e.heatmap, e.weights[segments].astype(np.float32))
    assert e.params["samples_used"] == 10 and e.params["mode"] == "superpixel"


def test_sliding_window_occlusion_localises_a_known_patch():
    image = np.ones((16, 16, 1), np.float32)

    def patch_model(batch):
        return batch[:, 4:8, 10:14, 0].sum(axis=(1, 2))[:, None]

    e = superexplain.explain(patch_model, image, method="occlusion", window=4, stride=2, hide_color=0.0, verbose=0)
    assert e.feature_map.shape == (7, 7) and e.params["samples_used"] == 50
    # the drop of a window is the number of patch pixels it covers; the window exactly on the patch loses all 16
    assert e.feature_map.max() == 16 and e.feature_map[2, 5] == 16
    assert e.heatmap[:, :6].max() == 0 and e.heatmap[5, 11] == e.heatmap.max()


def test_rise_with_every_cell_kept_gives_the_score_everywhere():
    image = np.random.default_rng(1).random((16, 16, 3)).astype(np.float32)

    def model(batch):
        return np.stack([batch.mean(axis=(1, 2, 3)), batch[..., 0].max(axis=(1, 2))], axis=1)

    e = superexplain.explain(model, image, method="rise", p_keep=1.0, num_masks=40, mask_resolution=4,
                             random_state=0, target=1, verbose=0)
    np.testing.assert_allclose(e.heatmap, np.full((16, 16), image[..., 0].max()), rtol=1e-5)


def test_rise_heatmap_peaks_on_the_pixels_the_model_reads():
    image = np.ones((32, 32, 3), np.float32)

    def corner_model(batch):
        return batch[:, 2:10, 20:28].mean(axis=(1, 2, 3))[:, None]

    e = superexplain.explain(corner_model, image, method="rise", num_masks=1500, mask_resolution=4,
                             random_state=3, verbose=0)
    inside = e.heatmap[2:10, 20:28].mean()
    far = e.heatmap[20:, :12].mean()
    # E[f M(v)] / p: inside the patch ~ E[M^2]/p, far away ~ E[M] (independent cells) = p
    assert inside > far * 1.25
    peak_row, peak_col = np.unravel_index(np.argmax(e.heatmap), e.heatmap.shape)
    assert 0 <= peak_row < 14 and 16 <= peak_col < 32


def test_rise_masks_are_smooth_in_unit_range_with_mean_p_keep():
    masks = RiseMasks(np.random.default_rng(0), 400, (28, 28), resolution=7, p_keep=0.3).batch(0, 400)
    assert masks.min() >= 0 and masks.max() <= 1 + 1e-6
    assert abs(masks.mean() - 0.3) < 0.02
    # bilinear upsampling of cells 4 pixels wide: neighbours differ by at most 1/4
    assert np.abs(np.diff(masks, axis=1)).max() <= 0.25 + 1e-6
    assert np.abs(np.diff(masks, axis=2)).max() <= 0.25 + 1e-6


def test_methods_are_deterministic_and_record_their_settings():
    segments = _grid_segments(12, 12, 3, 3)

    def model(batch):
        return np.stack([np.tanh(batch[:, :6].mean(axis=(1, 2, 3))), batch.var(axis=(1, 2, 3))], axis=1)

    for method, options in [("kernelshap", dict(num_samples=100, segments=segments)),
                            ("rise", dict(num_masks=50, mask_resolution=3)),
                            ("occlusion", dict(segments=segments))]:
        a = superexplain.explain(model, IMAGE, method=method, random_state=5, verbose=0, **options)
        b = superexplain.explain(model, IMAGE, method=method, random_state=5, verbose=0, **options)
        assert a == b, method
        assert a.params["seed"] == 5 and a.params["score_kind"] == "output"
    rise_5, rise_6 = (superexplain.explain(model, IMAGE, method="rise", random_state=seed, num_masks=50,
                                           mask_resolution=3, verbose=0) for seed in (5, 6))
    assert not np.array_equal(rise_5.heatmap, rise_6.heatmap)


def test_predict_in_batches_streams_and_names_the_failing_batch():
    predictor = as_predictor(lambda batch: batch.mean(axis=(1, 2)))
    built = []

    def make_batch(start, stop):
        built.append((start, stop))
        return np.full((stop - start, 4, 4, 2), start, np.float32)

    consumed = []
    scores = predict_in_batches(predictor, make_batch, 10, batch_size=4,
                                consume=lambda a, b, s: consumed.append((a, b, s.shape)))
    assert built == [(0, 4), (4, 8), (8, 10)] and consumed == [(0, 4, (4, 2)), (4, 8, (4, 2)), (8, 10, (2, 2))]
    np.testing.assert_array_equal(scores[:, 0], [0, 0, 0, 0, 4, 4, 4, 4, 8, 8])

    def fails_on_third(batch):
        if batch[0, 0, 0, 0] == 8:
            raise ZeroDivisionError("bad batch")
        return batch.mean(axis=(1, 2))

    with pytest.raises(RuntimeError, match="batch 2.*bad batch"):
        predict_in_batches(as_predictor(fails_on_third), make_batch, 10, batch_size=4)


@pytest.mark.parametrize("method, options, error, words", [
    ("kernelshap", dict(num_samples=1), ValueError, "num_samples"),
    ("kernelshap", dict(hide_color=(1, 2)), ValueError, "hide_color"),
    ("kernelshap", dict(segments=np.zeros((12, 12), int)), ValueError, "single label"),
    ("occlusion", dict(window=20), ValueError, "window"),
    ("occlusion", dict(stride=2), ValueError, "stride"),
    ("occlusion", dict(target=5), ValueError, "target"),
    ("rise", dict(p_keep=0.0), ValueError, "p_keep"),
    ("rise", dict(num_masks=1), ValueError, "num_masks"),
    ("rise", dict(mask_resolution=0), ValueError, "mask_resolution"),
])
def test_bad_method_options_are_clear_errors(method, options, error, words):
    with pytest.raises(error, match=words):
        superexplain.explain(lambda b: b.mean(axis=(1, 2)), IMAGE, method=method, verbose=0, **options)


def test_progress_bar_over_batches_only_when_verbose(capsys):
    import time

    def slow_model(batch):
        time.sleep(0.25)
        return batch.mean(axis=(1, 2))

    segments = _grid_segments(12, 12, 2, 2)
    superexplain.explain(slow_model, IMAGE, method="lime", num_samples=12, batch_size=4, segments=segments,
                         random_state=0, verbose=0)
    assert capsys.readouterr().err == ""
    superexplain.explain(slow_model, IMAGE, method="lime", num_samples=12, batch_size=4, segments=segments,
                         random_state=0, verbose=1)
    assert "3/3" in capsys.readouterr().err  # one tick per batch of 4


@pytest.mark.parametrize("method, options, copies", [
    ("lime", dict(num_samples=13), 13),
    ("kernelshap", dict(num_samples=13), 13),
    ("rise", dict(num_masks=13, mask_resolution=3), 13),
    ("occlusion", dict(), 10),  # the unperturbed image and one copy per each of 9 segments
])
def test_several_images_share_full_batches_and_keep_their_own_seeds(method, options, copies):
    images = np.stack([IMAGE, IMAGE[::-1], IMAGE[:, ::-1]])
    seeds = [11, 12, 13]
    batches = []

    def model(batch):  # row-wise, so a row's score cannot depend on its batch mates
        batches.append(len(batch))
        return np.stack([batch[:, :6].mean(axis=(1, 2, 3)), batch[:, 6:].max(axis=(1, 2, 3))], axis=1)

    predictor = as_predictor(model)
    options = dict(options, segments=_grid_segments(12, 12, 3, 3)) if method != "rise" else options
    together = superexplain.explain(predictor, images, method=method, random_state=seeds, batch_size=8,
                                    verbose=0, **options)
    # every copy of the three images in full batches of 8; only RISE scores the unperturbed images
    # first (LIME, KernelSHAP and occlusion read them from their first copy, the image itself)
    total = 3 * copies
    assert batches == [3] * (method == "rise") + [8] * (total // 8) + ([total % 8] if total % 8 else [])
    for image, seed, explanation in zip(images, seeds, together):
        alone = superexplain.explain(predictor, image, method=method, random_state=seed, batch_size=8,
                                     verbose=0, **options)
        assert explanation == alone and explanation.params["seed"] == seed


def test_per_image_seeds_must_match_the_images():
    images = np.stack([IMAGE, IMAGE])
    with pytest.raises(ValueError, match=r"random_state holds 3 seed\(s\) for 2 image"):
        superexplain.explain(lambda b: b.mean(axis=(1, 2)), images, method="lime", random_state=[1, 2, 3],
                             verbose=0)
    with pytest.raises(TypeError, match="random_state"):
        superexplain.explain(lambda b: b.mean(axis=(1, 2)), images, method="kernelshap", verbose=0,
                             random_state=[1, np.random.default_rng(0)])
    with pytest.raises(TypeError, match=r"random_state\[1\]"):
        superexplain.explain(lambda b: b.mean(axis=(1, 2)), images, method="rise", random_state=[1, "two"],
                             verbose=0)


def test_score_perturbations_hands_each_image_its_own_rows():
    from superexplain.perturbation import Perturbations, score_perturbations

    seen = []

    def job(value, count):
        def build(start, stop):
            return np.full((stop - start, 2, 2, 1), value + np.arange(start, stop)[:, None, None, None] / 100,
                           np.float32)
        return Perturbations(count, build, lambda a, b, s: seen.append((value, a, b, s[:, 0].astype(float).round(2).tolist())))

    scores = score_perturbations(as_predictor(lambda x: x.mean(axis=(1, 2))), [job(1, 3), job(2, 0), job(3, 4)],
                                 batch_size=5)
    np.testing.assert_allclose(scores[0][:, 0], [1.0, 1.01, 1.02], rtol=1e-6)
    assert scores[1].shape[0] == 0
    np.testing.assert_allclose(scores[2][:, 0], [3.0, 3.01, 3.02, 3.03], rtol=1e-6)
    # the first batch of 5 holds image 0's rows 0-2 and image 2's rows 0-1; the second, image 2's rows 2-3
    assert seen == [(1, 0, 3, [1.0, 1.01, 1.02]), (3, 0, 2, [3.0, 3.01]), (3, 2, 4, [3.02, 3.03])]


def test_blend_copies_pixels_exactly_into_a_64_byte_aligned_batch():
    from superexplain.perturbation.masking import blend

    rng = np.random.default_rng(3)
    image = rng.normal(size=(9, 7, 3)).astype(np.float32)
    image[0, 0] = [-0.0, np.float32(1e-42), np.finfo(np.float32).max]  # signed zero, subnormal, extreme
    hide = rng.normal(size=(9, 7, 3)).astype(np.float32)
    keep = rng.random((5, 9, 7)) < 0.5
    out = blend(image, hide, keep)
    expected = np.where(keep[..., None], image, hide)
    assert out.dtype == np.float32 and out.view(np.int32).tolist() == expected.view(np.int32).tolist()
    assert out.ctypes.data % 64 == 0 and out.flags.c_contiguous and out.flags.writeable
    # a per-channel hide colour broadcasts
    np.testing.assert_array_equal(blend(image, np.float32([1, 2, 3]), keep)[~keep], np.broadcast_to([1, 2, 3], (int((~keep).sum()), 3)))


def test_segment_masker_copies_each_segments_pixels_exactly():
    from superexplain.perturbation.masking import SegmentMasker

    rng = np.random.default_rng(4)
    image = rng.normal(size=(9, 7, 3)).astype(np.float32)
    image[0, 0] = [-0.0, np.float32(1e-42), np.finfo(np.float32).max]
    hide = rng.normal(size=(9, 7, 3)).astype(np.float32)
    segments = rng.integers(0, 6, size=(9, 7))
    segments[0, :6] = np.arange(6)  # every label present
    masks = rng.random((11, 6)) < 0.5
    before = (image.copy(), hide.copy(), segments.copy(), masks.copy())
    out = SegmentMasker(image, segments, hide)(masks)
    # the reference: each row's segment masks painted pixel by pixel, then np.where
    keep = np.stack([[[row[segments[y, x]] for x in range(7)] for y in range(9)] for row in masks])
    expected = np.where(keep[..., None], image, hide)
    assert out.shape == (11, 9, 7, 3) and out.dtype == np.float32
    assert out.view(np.int32).tolist() == expected.view(np.int32).tolist()
    assert out.ctypes.data % 64 == 0 and out.flags.c_contiguous
    for original, now in zip(before, (image, hide, segments, masks)):
        np.testing.assert_array_equal(original, now)
    # a hide colour broadcasts; masks with too few columns are an error, not wrapped labels
    grey = SegmentMasker(image, segments, np.float32([1, 2, 3]))(masks[:1] & False)
    np.testing.assert_array_equal(grey[0], np.broadcast_to([1, 2, 3], image.shape))
    with pytest.raises(ValueError, match=r"masks must have shape \(b, 6\)"):
        SegmentMasker(image, segments, hide)(masks[:, :5])
    # written into a given array: the same bits, the array itself returned; a wrong array is an error
    into = np.full((11, 9, 7, 3), np.nan, np.float32)
    assert SegmentMasker(image, segments, hide)(masks, out=into) is into
    assert into.view(np.int32).tolist() == expected.view(np.int32).tolist()
    for bad in (np.empty((11, 9, 7, 3), np.float64), np.empty((10, 9, 7, 3), np.float32),
                np.empty((11, 9, 7, 6), np.float32)[..., ::2]):
        with pytest.raises(ValueError, match=r"out must be a C-contiguous float32 array of shape \(11, 9, 7, 3\)"):
            SegmentMasker(image, segments, hide)(masks, out=bad)


def _keras_pixel_model(image_shape):
    """A Keras model whose scores are two fixed linear functions of the pixels (row-wise)."""
    import keras

    keras.utils.set_random_seed(1)
    inputs = keras.Input(image_shape)
    outputs = keras.layers.Dense(2)(keras.layers.Flatten()(inputs))
    return keras.Model(inputs, outputs)


def test_masked_batches_built_in_place_score_as_fresh_ones():
    # LIME's copies of several images go straight into two reused batch arrays for a Keras model;
    # the scores must equal building each copy on its own and predicting it in its own call
    from superexplain.perturbation import score_perturbations
    from superexplain.perturbation.engine import masked_copies
    from superexplain.perturbation.masking import SegmentMasker

    rng = np.random.default_rng(5)
    images = rng.normal(size=(3, 12, 12, 3)).astype(np.float32)
    segments = _grid_segments(12, 12, 3, 3)
    model = _keras_pixel_model((12, 12, 3))
    predictor = as_predictor(model)
    maskers = [SegmentMasker(image, segments, np.float32(0.5)) for image in images]
    masks = [rng.random((count, 9)) < 0.5 for count in (7, 11, 5)]
    jobs = [masked_copies(masker, m) for masker, m in zip(maskers, masks)]
    assert all(job.fill is not None and job.shape == (12, 12, 3) for job in jobs)
    together = score_perturbations(predictor, jobs, batch_size=4)  # batches span images
    for masker, m, scores in zip(maskers, masks, together):
        alone = np.concatenate([model(masker(m[i:i + 1]), training=False).numpy() for i in range(len(m))])
        np.testing.assert_allclose(scores, alone, rtol=1e-5, atol=1e-5)
    # the same through explain(), against the copying path of a plain callable with the same function
    as_callable = as_predictor(lambda batch: model(batch, training=False).numpy())
    for image in images:
        keras_run = superexplain.explain(predictor, image, method="lime", segments=segments, num_samples=30,
                                         batch_size=8, random_state=2, verbose=0)
        callable_run = superexplain.explain(as_callable, image, method="lime", segments=segments, num_samples=30,
                                            batch_size=8, random_state=2, verbose=0)
        np.testing.assert_allclose(keras_run.weights, callable_run.weights, rtol=1e-4, atol=1e-6)


def test_predict_in_batches_reuses_two_arrays_for_keras_and_fresh_ones_for_callables():
    image_shape = (4, 4, 1)
    filled = []

    def make_batch(start, stop, out):
        assert out.shape == (stop - start,) + image_shape and out.dtype == np.float32
        assert out.ctypes.data % 64 == 0 and out.flags.c_contiguous
        out[...] = np.arange(start, stop, dtype=np.float32)[:, None, None, None]
        filled.append(out)
        return out

    model = _keras_pixel_model(image_shape)
    scores = predict_in_batches(as_predictor(model), make_batch, 10, batch_size=3, image_shape=image_shape)
    expected = model(np.arange(10, dtype=np.float32)[:, None, None, None] * np.ones((1,) + image_shape, np.float32),
                     training=False).numpy()
    np.testing.assert_allclose(scores, expected, rtol=1e-5)
    assert len(filled) == 4 and len({out.__array_interface__["data"][0] for out in filled}) == 2
    # a plain callable may keep every batch it was given: each is its own array, left as it was built
    kept = []

    def keeps(batch):
        kept.append(batch)
        return batch.mean(axis=(1, 2))

    filled.clear()
    predict_in_batches(as_predictor(keeps), make_batch, 10, batch_size=3, image_shape=image_shape)
    assert [batch[:, 0, 0, 0].tolist() for batch in kept] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]


def test_batches_are_built_ahead_on_a_helper_thread_only_beside_a_gpu_or_a_callable():
    import threading

    import tensorflow as tf

    from superexplain.models.batching import build_ahead

    has_gpu = bool(tf.config.list_logical_devices("GPU"))
    keras_predictor = as_predictor(_keras_pixel_model((4, 4, 1)))
    callable_predictor = as_predictor(lambda batch: batch.mean(axis=(1, 2)))
    assert build_ahead(keras_predictor) is has_gpu
    assert build_ahead(callable_predictor) is True
    for predictor, ahead in ((keras_predictor, has_gpu), (callable_predictor, True)):
        threads = []

        def make_batch(start, stop):
            threads.append(threading.current_thread())
            return np.full((stop - start, 4, 4, 1), start, np.float32)

        scores = predict_in_batches(predictor, make_batch, 7, batch_size=2)
        assert scores.shape[0] == 7
        on_main = [thread is threading.main_thread() for thread in threads]
        assert on_main == [not ahead] * 4
