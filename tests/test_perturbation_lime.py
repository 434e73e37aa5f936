"""LIME on the perturbation engine: ground-truth models, determinism, agreement with lime, bad input."""
from __future__ import annotations

import re

import numpy as np
import pytest
from _perturbation_helpers import grid_segments as _grid_segments
from _perturbation_helpers import presence as _presence

import superexplain
from superexplain.perturbation import hide_image
from superexplain.segmentation import segment




class PresenceModel:
    """f = intercept + coef . presence(z), seen only through the pixels; records the masks it saw."""

    def __init__(self, image, segments, coef, intercept=0.5, interaction=0.0):
        self.image, self.segments = image, segments
        self.coef, self.intercept, self.interaction = np.asarray(coef, float), intercept, interaction
        self.seen = []

    def __call__(self, batch):
        present = _presence(batch, self.image, self.segments)
        self.seen.append(present)
        value = self.intercept + present @ self.coef + self.interaction * present[:, 0] * present[:, 1]
        return np.stack([value, -value], axis=1)


def _lime_weights(masks, kernel_width=0.25):
    from sklearn.metrics import pairwise_distances

    distances = pairwise_distances(masks.astype(int), np.ones((1, masks.shape[1])), metric="cosine").ravel()
    return np.sqrt(np.exp(-(distances**2) / kernel_width**2))


@pytest.fixture(scope="module")
def scene():
    rng = np.random.default_rng(11)
    image = (0.3 + 0.7 * rng.random((24, 24, 3))).astype(np.float32)
    segments = segment(image, "slic", n_segments=20)
    return image, segments


def test_lime_recovers_linear_presence_coefficients_exactly(scene):
    image, segments = scene
    n_segments = int(segments.max()) + 1
    coef = np.random.default_rng(1).normal(size=n_segments)
    model = PresenceModel(image, segments, coef)
    e = superexplain.explain(model, image, method="lime", segments=segments, hide_color=0.0, alpha=0.0,
                             num_samples=500, target=0, random_state=3, verbose=0)
    np.testing.assert_allclose(e.weights, coef, rtol=1e-6, atol=1e-6 * np.abs(coef).max())
    assert abs(e.intercept - 0.5) < 1e-6 and abs(e.local_fit - 1.0) < 1e-9
    assert abs(e.local_prediction - e.score) < 1e-5  # the surrogate reproduces the unperturbed score


def test_default_alpha_shrinkage_matches_closed_form_on_the_masks_seen(scene):
    image, segments = scene
    n_segments = int(segments.max()) + 1
    coef = np.random.default_rng(2).normal(size=n_segments)
    model = PresenceModel(image, segments, coef, interaction=0.7)
    e = superexplain.explain(model, image, method="lime", segments=segments, hide_color=0.0,
                             num_samples=1000, target=0, random_state=4, verbose=0)
    masks = np.concatenate(model.seen).astype(float)  # LIME makes no model call besides its samples
    assert masks.shape == (1000, n_segments) and masks[0].all()
    y = model.intercept + masks @ coef + 0.7 * masks[:, 0] * masks[:, 1]
    y = y.astype(np.float32).astype(float)  # the adapter hands scores on as float32
    w = _lime_weights(masks)
    x_mean, y_mean = w @ masks / w.sum(), w @ y / w.sum()
    Xc, yc = masks - x_mean, y - y_mean
    expected = np.linalg.solve(Xc.T @ (w[:, None] * Xc) + np.eye(n_segments), Xc.T @ (w * yc))
    np.testing.assert_allclose(e.weights, expected, rtol=0, atol=1e-8)
    assert abs(e.intercept - (y_mean - x_mean @ expected)) < 1e-8
    # the shrinkage is real and of the size the simulation predicts (about 8 alpha / n)
    shrink = 1 - np.median(e.weights[2:] / coef[2:])
    assert 0.002 < shrink < 0.03


def test_lime_on_dense_model_equals_superpixel_summed_gradient_times_input(keras):
    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.Input((12, 12, 3)), keras.layers.Flatten(), keras.layers.Dense(3)])
    image = np.random.default_rng(5).random((12, 12, 3)).astype(np.float32)
    segments = _grid_segments(12, 12, 3, 4)
    hide = 0.25
    e = superexplain.explain(model, image, method="lime", segments=segments, hide_color=hide, alpha=0.0,
                             num_samples=200, target=1, random_state=0, verbose=0)
    gradient = np.asarray(model.layers[-1].kernel)[:, 1].reshape(12, 12, 3)
    contribution = ((image - hide) * gradient).sum(axis=-1)
    expected = np.bincount(segments.ravel(), weights=contribution.ravel().astype(float))
    scale = np.abs(expected).max()
    np.testing.assert_allclose(e.weights, expected, rtol=0, atol=2e-5 * scale)
    assert e.params["score_kind"] == "logit"


def test_shape_detector_chosen_segments_dominate_over_20_seeds():
    image = np.full((10, 20, 3), 0.8, dtype=np.float32)
    segments = _grid_segments(10, 20, 5, 10)  # 50 segments
    chosen = [3, 17, 41]
    hidden = np.zeros(50, bool)

    def detector(batch):
        present = _presence(batch, image, segments)
        return present[:, chosen].all(axis=1).astype(float)[:, None]

    hidden[chosen] = True
    for seed in range(20):
        e = superexplain.explain(detector, image, method="lime", segments=segments, hide_color=0.0,
                                 num_samples=1000, random_state=seed, target=0, verbose=0)
        assert e.weights[chosen].min() > 2 * np.abs(e.weights[~hidden]).max(), seed


def test_same_seed_is_bit_identical_and_other_seeds_differ(scene):
    image, segments = scene

    def model(batch):
        return np.stack([np.tanh(batch[:, :12].mean(axis=(1, 2, 3)) * 3), batch.std(axis=(1, 2, 3))], axis=1)

    a = superexplain.explain(model, image, method="lime", num_samples=300, random_state=7, verbose=0)
    b = superexplain.explain(model, image, method="lime", num_samples=300, random_state=7, verbose=0)
    c = superexplain.explain(model, image, method="lime", num_samples=300, random_state=8, verbose=0)
    assert a == b
    assert not np.array_equal(a.weights, c.weights)
    fresh = superexplain.explain(model, image, method="lime", num_samples=300, verbose=0)
    again = superexplain.explain(model, image, method="lime", num_samples=300, random_state=fresh.params["seed"],
                                 verbose=0)
    assert fresh == again  # the recorded seed reproduces an unseeded run


def test_lime_is_linear_in_the_model(scene):
    image, segments = scene

    def f(batch):
        return np.tanh(4 * batch[:, :12, :12].mean(axis=(1, 2, 3)))[:, None]

    def g(batch):
        return (batch[:, 6:, 6:, 1] ** 2).mean(axis=(1, 2))[:, None]

    def combined(batch):
        return 2.0 * f(batch) - 3.0 * g(batch)

    options = dict(method="lime", segments=segments, num_samples=400, random_state=9, feature_selection="none",
                   target=0, verbose=0)
    ef, eg, ec = (superexplain.explain(m, image, **options) for m in (f, g, combined))
    np.testing.assert_allclose(ec.weights, 2.0 * ef.weights - 3.0 * eg.weights, atol=1e-6)


def test_agrees_with_lime_package_as_well_as_lime_agrees_with_itself(demo_model, demo_data):
    lime_image = pytest.importorskip("lime.lime_image")
    from scipy.stats import spearmanr

    from superexplain.models import as_predictor

    predictor = as_predictor(demo_model)
    # image 5 of the shared demo batch: its top-class probability (about 0.96) is not saturated, so
    # hiding superpixels moves it and lime's weights carry signal (lime-vs-lime about 0.88 at 3000
    # samples; on saturated images every weight is ~0 and ranks are noise)
    image = demo_data.images[5]
    target = int(np.argmax(predictor.predict(image[None])[0]))
    segments = segment(image)

    def lime_weights(seed):
        explainer = lime_image.LimeImageExplainer(kernel_width=0.25, feature_selection="none", random_state=seed)
        explanation = explainer.explain_instance(
            image.astype(np.float64), lambda batch: predictor.predict(batch), labels=(target,), top_labels=None,
            hide_color=0, num_samples=3000, segmentation_fn=lambda _: segments, num_features=10**5)
        weights = np.zeros(int(segments.max()) + 1)
        for segment_index, weight in explanation.local_exp[target]:
            weights[segment_index] = weight
        return weights

    lime_a, lime_b = lime_weights(1), lime_weights(2)
    ours = superexplain.explain(demo_model, image, method="lime", target=target, segments=segments, hide_color=0,
                                num_samples=3000, feature_selection="none", random_state=3, verbose=0)
    lime_vs_lime = spearmanr(lime_a, lime_b).statistic
    ours_vs_lime = spearmanr(ours.weights, lime_a).statistic
    assert ours_vs_lime >= lime_vs_lime - 0.03, (ours_vs_lime, lime_vs_lime)


def test_hidden_segments_show_the_hide_color(scene):
    image, segments = scene
    seen = []

    def spy(batch):
        seen.append(batch.copy())
        return batch.mean(axis=(1, 2, 3))[:, None]

    replacement = np.random.default_rng(0).random(image.shape).astype(np.float32)
    for hide_color, expected in [((0.1, 0.2, 0.3), np.broadcast_to([0.1, 0.2, 0.3], image.shape)),
                                 (replacement, replacement), (0.5, np.full(image.shape, 0.5))]:
        seen.clear()
        superexplain.explain(spy, image, method="lime", segments=segments, hide_color=hide_color, num_samples=20,
                             random_state=0, verbose=0)
        batch = np.concatenate(seen)
        differs = np.any(batch != image, axis=-1)
        assert differs.any()
        expected_batch = np.broadcast_to(expected, batch.shape).astype(np.float32)
        np.testing.assert_array_equal(batch[differs], expected_batch[differs])


def test_mean_hide_is_each_segments_mean_colour_and_blur_keeps_constants(scene):
    image, segments = scene
    hidden = hide_image(image, segments, "mean")
    for label in np.unique(segments):
        np.testing.assert_allclose(hidden[segments == label], image[segments == label].mean(axis=0)[None].repeat(
            (segments == label).sum(), 0), rtol=1e-5)
    constant = np.full((16, 16, 3), 0.3, np.float32)
    np.testing.assert_allclose(hide_image(constant, None, "blur"), constant, atol=1e-6)
    assert hide_image(image, None, "blur").std() < image.std()


def _orthogonal_floor(n_segments):
    """The end of the second independent block: 1 + the Paley block 2(q + 1) + one code block 2**(m + 1)."""
    q = max(n_segments, 3)
    while q % 4 != 3 or any(q % d == 0 for d in range(2, q)):
        q += 1
    return 1 + 2 * (q + 1) + 2 ** (int(np.ceil(np.log2(n_segments))) + 1)


def test_auto_stops_at_the_floor_when_separated_and_equals_the_fixed_run(scene):
    image, segments = scene
    n_segments = int(segments.max()) + 1
    model = PresenceModel(image, segments, np.linspace(-1, 1, n_segments))
    options = dict(method="lime", segments=segments, hide_color=0.0, alpha=0.0, target=0, random_state=5, verbose=0)
    stopped = superexplain.explain(model, image, **options)  # "auto" is the default
    floor = _orthogonal_floor(n_segments)
    assert stopped.params["num_samples"] == "auto" and stopped.params["samples_used"] == floor
    assert stopped.params["stopping"]["stopped_by"] == "rule" and stopped.params["stopping"]["floor"] == floor
    fixed = superexplain.explain(model, image, num_samples=floor, **options)
    np.testing.assert_array_equal(stopped.weights, fixed.weights)
    np.testing.assert_array_equal(stopped.weight_errors, fixed.weight_errors)
    assert fixed.params["samples_used"] == floor and fixed.params["stopping"] is None
    # an int with convergence=True is the cap of an automatic run: the same stop
    capped = superexplain.explain(model, image, num_samples=2000, convergence=True, **options)
    np.testing.assert_array_equal(capped.weights, stopped.weights)


def test_auto_spends_more_on_a_tie_at_the_top_k_boundary_and_a_stricter_z_runs_to_the_cap(scene):
    image, segments = scene
    n_segments = int(segments.max()) + 1
    floor = _orthogonal_floor(n_segments)

    def model_with(fifth):
        coef = np.zeros(n_segments)
        coef[:6] = [2.0, 1.8, 1.6, 1.4, fifth, 1.0]  # fifth = 1.0: ranks 5 and 6 tied

        def model(batch):  # noise every segment shares: a wiggle in how many segments are shown
            present = _presence(batch, image, segments)
            value = 0.5 + present @ coef + 0.6 * np.sin(3 * present.sum(axis=1))
            return np.stack([value, -value], axis=1)
        return model

    options = dict(method="lime", segments=segments, hide_color=0.0, target=0, verbose=0, max_samples=900)
    separated = [superexplain.explain(model_with(1.4), image, random_state=s, **options).params["samples_used"]
                 for s in range(6)]
    tied = [superexplain.explain(model_with(1.0), image, random_state=s, **options).params["samples_used"]
            for s in range(6)]
    assert separated == [floor] * 6  # a clear gap: the first check passes
    assert np.mean(tied) >= 2 * floor  # a tie: the default rule (z = 1) keeps sampling, passing only by chance
    strict = dict(options, convergence={"z": 2.0})
    e = superexplain.explain(model_with(1.0), image, random_state=0, **strict)
    assert e.params["samples_used"] == 900 and e.params["stopping"]["stopped_by"] == "cap"
    assert 0 <= e.params["stopping"]["margin"] < 1 and e.params["stopping"]["z"] == 2.0
    again = superexplain.explain(model_with(1.0), image, random_state=0, **strict)
    np.testing.assert_array_equal(e.weights, again.weights)  # seeds reproduce bit for bit
    assert not np.array_equal(e.weights, superexplain.explain(model_with(1.0), image, random_state=1,
                                                              **strict).weights)


def test_kernelshap_auto_stops_at_its_floor_on_an_additive_model_and_equals_the_fixed_run():
    image = np.ones((16, 16, 3), np.float32)
    segments = _grid_segments(16, 16, 4, 4)  # 16 segments: 2**16 coalitions, more than the cap, so sampled
    coef = np.linspace(2, -1, 16)
    model = PresenceModel(image, segments, coef)
    options = dict(method="kernelshap", segments=segments, hide_color=0.0, target=0, random_state=1, verbose=0)
    auto = superexplain.explain(model, image, **options)
    assert auto.params["samples_used"] == 66 and auto.params["stopping"]["stopped_by"] == "rule"  # 4K + 2
    np.testing.assert_allclose(auto.weights, coef, atol=1e-5)  # additive: the Shapley values are the effects
    fixed = superexplain.explain(model, image, num_samples=66, **options)
    np.testing.assert_array_equal(auto.weights, fixed.weights)


def test_auto_progress_bar_shows_the_rule_and_verbose_0_silences_it(scene, capsys):
    import time

    image, segments = scene
    model = PresenceModel(image, segments, np.linspace(-1, 1, int(segments.max()) + 1))

    def slow(batch):  # slow enough for the bar to draw (it waits 0.5 s)
        time.sleep(0.08)
        return model(batch)

    options = dict(method="lime", segments=segments, hide_color=0.0, alpha=0.0, target=0, random_state=5,
                   batch_size=16)
    superexplain.explain(slow, image, verbose=1, **options)
    floor = _orthogonal_floor(int(segments.max()) + 1)
    assert re.search(rf"lime image 0 \(auto: {floor} samples, margin ([0-9.e+]+|inf), stops at 1\)",
                     capsys.readouterr().err)
    superexplain.explain(slow, image, verbose=0, **options)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("value, error", [("many", ValueError), (2.5, TypeError), (1, ValueError), (True, TypeError)])
def test_num_samples_is_an_integer_or_auto(scene, value, error):
    image, segments = scene
    with pytest.raises(error, match="num_samples must be a positive integer .*or 'auto'; got"):
        superexplain.explain(_mean_model, image, method="lime", segments=segments, num_samples=value, verbose=0)


def test_top_labels_share_one_sample_set_and_targets_accept_names(scene):
    image, segments = scene
    calls = []

    def model(batch):
        calls.append(len(batch))
        means = batch.mean(axis=(1, 2))
        return np.stack([means[:, 0], means[:, 1] + 1, means[:, 2] + 2], axis=1)

    explanations = superexplain.explain(model, image, method="lime", top_labels=2, num_samples=300, batch_size=100,
                                        segments=segments, random_state=0, verbose=0)
    assert [e.target for e in explanations] == [2, 1]
    # one pass shared by both targets, chosen from its first sample (the image itself): no extra call
    assert calls == [100, 100, 100]
    named = superexplain.explain(model, image, method="lime", target="g", class_names=["r", "g", "b"],
                                 num_samples=50, segments=segments, random_state=0, verbose=0)
    assert named.target == 1 and named.target_name == "g"


def test_logit_score_explains_pre_softmax_scores(softmax_cnn, keras):
    image = np.random.default_rng(3).random((16, 16, 3)).astype(np.float32)
    e = superexplain.explain(softmax_cnn, image, method="lime", score="logit", num_samples=50, target=2,
                             segmentation={"method": "grid", "n_segments": 9}, random_state=0, verbose=0)
    head = softmax_cnn.get_layer("head")
    features = keras.Model(softmax_cnn.inputs[0], head.input)(image[None]).numpy()
    logit = (features @ np.asarray(head.kernel) + np.asarray(head.bias))[0, 2]
    assert e.params["score_kind"] == "logit" and abs(e.score - logit) < 1e-5
    p = superexplain.explain(softmax_cnn, image, method="lime", num_samples=50, target=2,
                             segmentation={"method": "grid", "n_segments": 9}, random_state=0, verbose=0)
    assert p.params["score_kind"] == "probability" and 0 < p.score < 1


def test_lime_image_class_equals_explain_and_records_params(scene):
    image, segments = scene

    def model(batch):
        return batch[:, :8].mean(axis=(1, 2, 3))[:, None]

    explainer = superexplain.LimeImage(num_samples=120, random_state=1, hide_color="blur", kernel_width=0.3)
    a = explainer.explain(model, image, segments=segments, verbose=0)
    b = superexplain.explain(model, image, method="lime", num_samples=120, random_state=1, hide_color="blur",
                             kernel_width=0.3, segments=segments, verbose=0)
    assert a == b
    for key, value in dict(num_samples=120, kernel_width=0.3, alpha=1.0, hide_color="blur", seed=1,
                           segmentation="precomputed", sampler="orthogonal", feature_selection="auto",
                           num_features=None, samples_used=120).items():
        assert a.params[key] == value, key
    np.testing.assert_array_equal(a.heatmap, a.weights[segments].astype(np.float32))
    assert explainer.num_samples == 120  # settings stay as given


def test_segmentation_accepts_names_dicts_and_callables(scene):
    image, _ = scene

    def model(batch):
        return batch.mean(axis=(1, 2, 3))[:, None]

    by_dict = superexplain.explain(model, image, method="lime", segmentation={"method": "grid", "n_segments": 6},
                                   num_samples=30, random_state=0, verbose=0)
    assert by_dict.weights.size == 6 and by_dict.params["segmentation"] == {"method": "grid", "n_segments": 6}
    by_callable = superexplain.explain(model, image, method="lime", num_samples=30, random_state=0, verbose=0,
                                       segmentation=lambda rgb: _grid_segments(24, 24, 2, 2))
    assert by_callable.weights.size == 4
    by_name = superexplain.explain(model, image, method="lime", segmentation="felzenszwalb", num_samples=30,
                                   random_state=0, verbose=0)
    np.testing.assert_array_equal(by_name.segments, segment(image, "felzenszwalb"))
    default = superexplain.explain(model, image, method="lime", num_samples=30, random_state=0, verbose=0)
    np.testing.assert_array_equal(default.segments, segment(image, "slic", n_segments=50, compactness=10, sigma=1))
    assert default.params["segmentation"] == {"method": "slic", "n_segments": 50, "compactness": 10.0, "sigma": 1.0}


# ---------------------------------------------------------------------- bad input
def _mean_model(batch):
    return batch.mean(axis=(1, 2))


@pytest.mark.parametrize("options, error, words", [
    (dict(num_samples=1), ValueError, "num_samples"),
    (dict(num_samples=2.5), TypeError, "num_samples"),
    (dict(segments=np.zeros((5, 5), int)), ValueError, "segments"),
    (dict(segments=np.zeros((24, 24), int)), ValueError, "single label"),
    (dict(hide_color=(0.1, 0.2)), ValueError, "hide_color"),
    (dict(hide_color="grey"), ValueError, "hide_color"),
    (dict(feature_selection="best"), ValueError, "feature_selection"),
    (dict(num_features=500, feature_selection="highest_weights"), ValueError, "num_features"),
    (dict(target=7), ValueError, "target"),
    (dict(kernel_width=0), ValueError, "kernel_width"),
    (dict(alpha=-1), ValueError, "alpha"),
    (dict(sampler="sobol"), ValueError, "sampler"),
    (dict(score="odds"), ValueError, "score"),
    (dict(convergence={"top": 5}), ValueError, "convergence"),
    (dict(segmentation=3), TypeError, "segmentation"),
])
def test_bad_input_is_a_clear_error_naming_the_argument(scene, options, error, words):
    image, _ = scene
    with pytest.raises(error, match=words):
        superexplain.explain(_mean_model, image, method="lime", num_samples=options.pop("num_samples", 20),
                             verbose=0, **options)


def test_models_that_misbehave_are_named_with_their_batch(scene):
    image, _ = scene
    calls = []

    def raises_later(batch):
        calls.append(1)
        if len(calls) == 3:  # the third model call: batch 2 of the samples
            raise KeyError("the model broke")
        return _mean_model(batch)

    with pytest.raises(RuntimeError, match="batch 2.*the model broke") as info:
        superexplain.explain(raises_later, image, method="lime", num_samples=50, batch_size=10, verbose=0)
    assert isinstance(info.value.__cause__, KeyError)

    def wrong_rows(batch):
        return _mean_model(batch)[:-1] if len(batch) > 1 else _mean_model(batch)

    with pytest.raises(ValueError, match="shape"):
        superexplain.explain(wrong_rows, image, method="lime", num_samples=20, verbose=0)

    def nan_scores(batch):
        scores = _mean_model(batch)
        return scores if len(batch) == 1 else scores * np.nan

    with pytest.raises(ValueError, match="NaN"):
        superexplain.explain(nan_scores, image, method="lime", num_samples=20, verbose=0)


def test_a_batch_of_images_gives_image_major_explanations_with_per_image_segments(scene):
    image, segments = scene
    other = image[::-1].copy()

    def model(batch):
        return np.stack([batch[:, :12].mean(axis=(1, 2, 3)), batch[:, 12:].mean(axis=(1, 2, 3))], axis=1)

    stacked_segments = np.stack([segments, _grid_segments(24, 24, 2, 3)])
    explanations = superexplain.explain(model, np.stack([image, other]), method="lime", top_labels=2,
                                        segments=stacked_segments, num_samples=60, random_state=0, verbose=0)
    assert len(explanations) == 4
    np.testing.assert_array_equal(explanations[0].image, image)
    np.testing.assert_array_equal(explanations[2].image, other)
    assert explanations[0].weights.size == int(segments.max()) + 1 and explanations[3].weights.size == 6
    with pytest.raises(ValueError, match="segments"):
        superexplain.explain(model, np.stack([image, other]), method="lime", segments=stacked_segments[:1],
                             num_samples=20, verbose=0)


@pytest.mark.parametrize("method", ["lime", "kernelshap"])
def test_a_model_that_ignores_the_superpixels_gets_a_warning_not_a_silent_blank_map(scene, method):
    image, segments = scene
    constant = lambda batch: np.tile([[0.25, 0.75]], (len(batch), 1))  # noqa: E731
    with pytest.warns(RuntimeWarning, match="does not respond to the superpixels"):
        e = superexplain.explain(constant, image, method=method, segments=segments, target=1, num_samples=200,
                                 random_state=0, verbose=0)
    assert np.abs(e.weights).max() < 1e-12  # zero up to round-off
