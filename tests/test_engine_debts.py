"""The engine's small debts (issue 23): SmoothGrad/VarGrad batched with one seed per image, ``blend`` in place."""
from __future__ import annotations

import numpy as np
import pytest

import superexplain
from _batch_invariance import assert_same_arrays
from superexplain.perturbation.masking import blend
from test_gradcam_reference import nested_model  # noqa: F401 - fixture


def _smoothgrad_reference(model, image, target, seed, num_samples, noise_level):
    """SmoothGrad of the model's output by hand: the paper's mean gradient over noisy copies (signed)."""
    import tensorflow as tf

    scale = np.float32(noise_level * (image.max() - image.min()))
    noise = np.random.default_rng(seed).standard_normal((num_samples,) + image.shape, dtype=np.float32) * scale
    noisy = tf.constant(image[None] + noise)
    with tf.GradientTape() as tape:
        tape.watch(noisy)
        picked = tf.reduce_sum(model(noisy, training=False)[:, target])
    grads = tape.gradient(picked, noisy).numpy().astype(np.float64)
    return grads.mean(axis=0)


def test_smoothgrad_per_image_seeds_match_the_reference_and_each_image_alone(nested_model, rng):  # noqa: F811
    images = rng.uniform(0.0, 1.0, (3, 16, 16, 3)).astype(np.float32)
    seeds = [5, 17, 29]
    # batch_size 7 cuts the 3 x 10 noisy copies across images: batches mix images
    together = superexplain.explain(nested_model, images, method="smoothgrad", target=1, score="probability",
                                    num_samples=10, random_state=seeds, batch_size=7, verbose=0)
    assert [e.params["seed"] for e in together] == seeds
    for image, seed, explanation in zip(images, seeds, together):
        alone = superexplain.explain(nested_model, image, method="smoothgrad", target=1, score="probability",
                                     num_samples=10, random_state=seed, batch_size=64, verbose=0)
        assert_same_arrays(explanation.attribution, alone.attribution)  # to float32 rounding
        expected = _smoothgrad_reference(nested_model, image, 1, seed, 10, 0.15)
        np.testing.assert_allclose(explanation.attribution, expected, rtol=1e-4, atol=1e-7)
    assert not np.array_equal(together[0].attribution, superexplain.explain(
        nested_model, images[0], method="smoothgrad", target=1, score="probability", num_samples=10,
        random_state=seeds[1], verbose=0).attribution)  # the seed does matter


def test_vargrad_over_integrated_gradients_does_not_depend_on_where_batches_cut(nested_model, rng):  # noqa: F811
    from superexplain.gradcam.smoothgrad import run_vargrad  # explain() checks options before the base's
    from superexplain.models import as_predictor

    predictor = as_predictor(nested_model)
    images = rng.uniform(0.0, 1.0, (2, 16, 16, 3)).astype(np.float32)
    options = dict(base_method="integrated_gradients", steps=6, num_samples=3, targets=0, verbose=0)
    # 6 rows per noisy copy: batches of 4 and 5 split copies between batches, batches of 64 never do
    cut = [run_vargrad(predictor, images, random_state=[3, 4], batch_size=size, **options) for size in (4, 5)]
    for index, seed in enumerate([3, 4]):
        [alone] = run_vargrad(predictor, images[index:index + 1], random_state=seed, batch_size=64, **options)
        for run in cut:
            np.testing.assert_array_equal(run[index].attribution, alone.attribution)
    assert float(alone.attribution.max()) > 0.0


def test_one_int_seed_still_draws_one_stream_image_after_image(nested_model, rng):  # noqa: F811
    images = rng.uniform(0.0, 1.0, (2, 16, 16, 3)).astype(np.float32)
    options = dict(method="smoothgrad", target=0, num_samples=4, verbose=0)
    shared = superexplain.explain(nested_model, images, random_state=9, **options)
    stream = np.random.default_rng(9)
    stream.standard_normal((4,) + images.shape[1:], dtype=np.float32)  # the first image's draws
    second = superexplain.explain(nested_model, images[1], random_state=stream, **options)
    np.testing.assert_array_equal(shared[1].attribution, second.attribution)
    with pytest.raises(ValueError, match="2 seed"):
        superexplain.explain(nested_model, images[:1], random_state=[1, 2], **options)


def _blend_by_formula(image, hide, keep):
    keep = keep.astype(np.float32)[..., None]
    return (image * keep + hide * (np.float32(1.0) - keep)).astype(np.float32)


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_blend_into_out_is_bit_identical_to_a_new_array_and_to_the_formula(kind, rng):
    image = rng.normal(0.0, 1.0, (9, 7, 3)).astype(np.float32)
    hide = rng.normal(0.0, 1.0, (9, 7, 3)).astype(np.float32)
    keep = rng.uniform(0.0, 1.0, (5, 9, 7)).astype(np.float32)
    keep = keep > 0.5 if kind == "bool" else keep
    fresh = blend(image, hide, keep)
    out = np.full((5, 9, 7, 3), np.nan, np.float32)
    returned = blend(image, hide, keep, out=out)
    assert returned is out
    np.testing.assert_array_equal(out, fresh)
    expected = np.where(keep[..., None], image, hide) if kind == "bool" else _blend_by_formula(image, hide, keep)
    np.testing.assert_array_equal(fresh, expected)
    with pytest.raises(ValueError, match="out must be"):
        blend(image, hide, keep, out=np.empty((4, 9, 7, 3), np.float32))


def test_rise_and_window_occlusion_built_in_place_equal_fresh_batches(demo_model, demo_data, monkeypatch):
    import superexplain.perturbation.occlusion as occlusion
    import superexplain.perturbation.rise as rise

    image = demo_data.images[6]
    runs = {"rise": dict(num_masks=40, random_state=2), "occlusion": dict(window=16, stride=8)}
    in_place = {name: superexplain.explain(demo_model, image, method=name, target=0, batch_size=16, verbose=0,
                                           **options) for name, options in runs.items()}
    def fresh_blend(image, hide, keep, out=None):  # the values as before: a new array per batch, then copied
        fresh = blend(image, hide, keep)
        if out is None:
            return fresh
        out[...] = fresh
        return out

    for module in (rise, occlusion):
        monkeypatch.setattr(module, "blend", fresh_blend)
    for name, options in runs.items():
        fresh = superexplain.explain(demo_model, image, method=name, target=0, batch_size=16, verbose=0, **options)
        np.testing.assert_array_equal(in_place[name].heatmap, fresh.heatmap)
    assert np.ptp(in_place["occlusion"].heatmap) > 0 and np.ptp(in_place["rise"].heatmap) > 0
