"""The registry's traits are true of the methods: each one is checked by running the method, not by reading the table."""
from __future__ import annotations

import numpy as np
import pytest

import superexplain
from superexplain.registry import METHODS, method_info, method_names

#: Small settings, so that every method runs in a moment on the 64x64 demo model.
FAST = {"lime": {"num_samples": 60}, "kernelshap": {"num_samples": 60}, "rise": {"num_masks": 40},
        "smoothgrad": {"num_samples": 3}, "vargrad": {"num_samples": 3}, "integrated_gradients": {"steps": 32}}


def _explain(model, images, method, **options):
    return superexplain.explain(model, images, method=method, target=0, verbose=0, **{**FAST.get(method, {}), **options})


def _maps(explanations):
    explanations = explanations if isinstance(explanations, list) else [explanations]
    return [e.heatmap if e.attribution is None else e.attribution for e in explanations]


@pytest.mark.parametrize("method", list(METHODS))
def test_needs_keras_is_whether_a_plain_callable_is_refused(method, demo_model, demo_data):
    image = demo_data.images[0]
    plain = lambda x: demo_model(x, training=False).numpy()  # noqa: E731 - the same model, as a callable
    if method_info(method).needs_keras:
        with pytest.raises(TypeError, match="Keras model"):
            _explain(plain, image, method)
    else:
        assert _explain(plain, image, method).heatmap.shape == image.shape[:2]


@pytest.mark.parametrize("method", list(METHODS))
def test_seeded_is_whether_the_seed_changes_the_result(method, demo_model, demo_data):
    image = demo_data.images[1]
    first, again, other = (_maps(_explain(demo_model, image, method, random_state=seed))[0] for seed in (3, 3, 4))
    np.testing.assert_array_equal(first, again)  # every method: the same seed, the same bits
    assert (not np.array_equal(first, other)) == method_info(method).seeded


@pytest.mark.parametrize("method", [name for name, info in METHODS.items() if info.per_image_seeds])
def test_per_image_seeds_give_each_image_its_own_single_image_result(method, demo_model, demo_data):
    images = demo_data.images[2:4]
    together = _maps(_explain(demo_model, images, method, random_state=[11, 12], batch_size=64))
    alone = _maps(_explain(demo_model, images[1], method, random_state=12, batch_size=64))
    np.testing.assert_allclose(together[1], alone[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method", list(METHODS))
def test_takes_segments_and_takes_layer_are_the_options_a_method_accepts(method, demo_model, demo_data):
    image = demo_data.images[4]
    info = method_info(method)
    segments = (np.arange(64)[:, None] // 16 * 4 + np.arange(64)[None, :] // 16).astype(np.int32)
    if info.takes_segments:
        assert np.array_equal(_explain(demo_model, image, method, segments=segments).segments, segments)
    else:
        with pytest.raises(TypeError):
            _explain(demo_model, image, method, segments=segments)
    if info.takes_layer:
        assert _explain(demo_model, image, method, layer="last_conv").params["layer"] == "last_conv"
    else:
        with pytest.raises(TypeError):
            _explain(demo_model, image, method, layer="last_conv")


def test_samples_option_is_an_option_of_the_method(demo_model, demo_data):
    for name, info in METHODS.items():
        if info.samples_option is not None:
            explanation = _explain(demo_model, demo_data.images[5], name, **{info.samples_option: 5})
            recorded = explanation.params.get(info.samples_option)
            assert recorded == 5, (name, explanation.params)


def test_families_partition_the_methods_in_table_order():
    names = method_names("cam") + method_names("gradient") + method_names("perturbation")
    assert names == list(METHODS)
    assert method_names(needs_keras=False) == method_names("perturbation")
    with pytest.raises(ValueError, match="family must be one of"):
        method_names("lrp")


def test_an_unknown_method_is_refused_with_the_list(demo_model, demo_data):
    with pytest.raises(ValueError, match="method must be one of 'gradcam'"):
        superexplain.explain(demo_model, demo_data.images[0], method="gradcam+++", verbose=0)


def test_a_misspelt_option_is_refused_naming_it_and_the_methods_options(demo_model, demo_data, tmp_path):
    from superexplain.registry import method_options

    with pytest.raises(TypeError, match=r"method 'gradcam' has no option 'stepz'; its options: aug_smooth, batch_size, eigen_smooth, layer, relu"):
        superexplain.explain(demo_model, demo_data.images[0], method="gradcam", stepz=3, verbose=0)
    out = tmp_path / "run"
    with pytest.raises(TypeError, match="method 'lime' has no option 'num_sample'"):
        superexplain.explain_dataset(demo_model, demo_data.images[:2], method="lime", out=out, num_sample=10, verbose=0)
    assert not out.exists() or not any(out.iterdir())  # refused before the run folder was written
    # the options are the run function's own keywords: each one is accepted by explain
    assert {"steps", "baseline", "rule"} <= set(method_options("integrated_gradients"))
    assert "random_state" not in method_options("lime") and "targets" not in method_options("gradcam")
