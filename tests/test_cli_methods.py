"""The command line's method flags come from the method registry: every method, its flags, --option KEY=VALUE."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from superexplain.cli._methods import METHOD_CHOICES, default_kind, method_options, option_arg
from superexplain.registry import METHODS
from test_cli import assert_one_line_error, run_cli


@pytest.fixture(scope="module")
def shape(tmp_path_factory, demo_model_file):
    """One planted-shapes PNG (64x64) for the bundled demo model, and its pixels as the model sees them."""
    from PIL import Image

    from superexplain.datasets import make_shapes

    folder = tmp_path_factory.mktemp("shape")
    pixels = (make_shapes(1, seed=4).images[0] * 255).round().astype(np.uint8)
    Image.fromarray(pixels).save(folder / "shape.png")
    return demo_model_file, str(folder / "shape.png"), pixels / np.float32(255)


def image_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def test_every_registry_method_is_offered_by_explain_compare_and_sanity():
    assert METHOD_CHOICES == tuple(METHODS)
    for command in ("explain", "compare", "sanity"):
        result = run_cli(command, "--help")
        assert result.returncode == 0, result.stderr
        text = " ".join(result.stdout.split())
        for name in METHODS:
            assert name in text, (command, name)
    text = " ".join(run_cli("explain", "--help").stdout.split())
    for family, words in (("cam", "class activation maps (Keras models)"), ("perturbation", "perturbation (any model)")):
        names = [name for name, info in METHODS.items() if info.family == family]
        assert f"{words}: {', '.join(names)}" in text
    assert "gradcam, gradcam++" in text and "lime, kernelshap" in text


@pytest.mark.parametrize("name", list(METHODS))
def test_each_flag_applies_where_the_registry_says(name):
    info = METHODS[name]
    flags = {"layer": "conv", "num_samples": 10, "segments": "grid", "n_segments": 4, "compactness": None}
    for flag, applies in (("layer", info.takes_layer), ("num_samples", bool(info.samples_option)),
                          ("segments", info.takes_segments), ("n_segments", info.takes_segments)):
        if applies:
            options = method_options(name, **{flag: flags[flag]})
            expected = {"layer": {"layer": "conv"}, "num_samples": {info.samples_option: 10},
                        "segments": {"segmentation": {"method": "grid"}},
                        "n_segments": {"segmentation": {"method": "slic", "n_segments": 4}}}[flag]
            assert options == expected
        else:
            with pytest.raises(ValueError, match=f"--{flag.replace('_', '-')} does not apply to --method {name}"):
                method_options(name, **{flag: flags[flag]})
    assert default_kind(name) == ("block" if info.takes_segments else "heatmap")


def test_num_samples_auto_goes_to_the_methods_that_stop_by_themselves():
    from superexplain.cli._methods import auto_sampled_methods, samples_arg

    assert auto_sampled_methods() == ["lime", "kernelshap"]
    assert samples_arg("auto") == "auto" and samples_arg("40") == 40
    assert method_options("lime", num_samples=samples_arg("auto")) == {"num_samples": "auto"}
    with pytest.raises(ValueError, match="--num-samples auto applies to lime, kernelshap only"):
        method_options("rise", num_samples="auto")
    from superexplain.cli import build_parser

    for command in (["compare", "m.keras", "a.png", "--methods", "gradcam,lime"], ["sanity", "m.keras", "a.png"],
                    ["explain", "m.keras", "a.png"]):
        assert build_parser().parse_args(command + ["--num-samples", "auto"]).num_samples == "auto", command


def test_option_values_are_read_as_json_or_else_as_text():
    assert option_arg("steps=100") == ("steps", 100)
    assert option_arg("noise_level=0.2") == ("noise_level", 0.2)
    assert option_arg("relu=false") == ("relu", False)
    assert option_arg("window=[8, 8]") == ("window", [8, 8])
    assert option_arg('segmentation={"method": "quickshift", "kernel_size": 4}') == (
        "segmentation", {"method": "quickshift", "kernel_size": 4})
    assert option_arg("baseline=blur") == ("baseline", "blur")
    assert option_arg('base_method="saliency"') == ("base_method", "saliency")
    assert option_arg("hide_color=") == ("hide_color", "")


def test_option_may_not_repeat_a_flag_or_set_what_the_command_line_sets():
    with pytest.raises(ValueError, match="--option layer repeats --layer"):
        method_options("gradcam", layer="conv", extra=[("layer", "other")])
    with pytest.raises(ValueError, match="--option num_masks repeats --num-samples"):
        method_options("rise", num_samples=100, extra=[("num_masks", 50)])
    with pytest.raises(ValueError, match="--option random_state: .* use --seed"):
        method_options("lime", extra=[("random_state", 3)])
    assert method_options("rise", extra=[("num_masks", 50), ("p_keep", 0.3)]) == {"num_masks": 50, "p_keep": 0.3}


@pytest.mark.parametrize("value", ["steps", "=3", "2x=3"])
def test_a_malformed_option_is_a_one_line_error(shape, value, tmp_path):
    model, image, _ = shape
    result = run_cli("explain", model, image, "--option", value, "--out", str(tmp_path / "out"))
    assert_one_line_error(result, "--option", "KEY=VALUE", repr(value))
    assert result.returncode == 2 and not (tmp_path / "out").exists()


def test_an_unknown_option_names_the_ones_the_method_takes(shape, tmp_path):
    model, image, _ = shape
    result = run_cli("explain", model, image, "--method", "integrated_gradients", "--option", "stepz=8",
                     "--out", str(tmp_path / "out"))
    assert_one_line_error(result, "--option stepz", "integrated_gradients", "steps", "baseline")
    assert not (tmp_path / "out").exists()


def test_a_run_refused_by_the_method_leaves_no_run_behind(shape, tmp_path):
    model, image, _ = shape
    out = tmp_path / "out"
    command = ("explain", model, image, "--method", "lime", "--seed", "0", "--out", str(out), "--format", "npz")
    refused = run_cli(*command, "--option", "num_samples=1")  # the method says no on the first image
    assert_one_line_error(refused, "num_samples")
    assert not out.exists()
    corrected = run_cli(*command, "--option", "num_samples=20", "--quiet")  # no --overwrite needed
    assert corrected.returncode == 0, corrected.stderr


def test_methods_with_other_options_are_reachable_with_option(shape, tmp_path):
    import superexplain

    model, image, pixels = shape
    out = tmp_path / "ig"
    result = run_cli("explain", model, image, "--method", "integrated_gradients", "--option", "steps=8",
                     "--option", "baseline=blur", "--option", "blur_sigma=2", "--format", "npz,json",
                     "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    (record,) = json.loads(result.stdout)["explanations"]
    explanation = superexplain.Explanation.load(record["files"][0])
    assert explanation.params["steps"] == 8 and explanation.params["baseline"] == "blur"
    expected = superexplain.explain(model, pixels, method="integrated_gradients", steps=8, baseline="blur",
                                    blur_sigma=2, verbose=0)
    np.testing.assert_allclose(explanation.attribution, expected.attribution, rtol=1e-5, atol=1e-7)
    assert os.path.isfile(record["files"][1]) and record["files"][1].endswith(".json")


def test_a_seeded_gradient_method_takes_num_samples_and_its_image_seed(shape, tmp_path):
    import superexplain

    model, image, pixels = shape
    result = run_cli("explain", model, image, "--method", "smoothgrad", "--num-samples", "4", "--seed", "5",
                     "--option", "noise_level=0.1", "--format", "npz", "--out", str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    (record,) = json.loads(result.stdout)["explanations"]
    assert record["seed"] == image_seed(5, 0)
    explanation = superexplain.Explanation.load(record["files"][0])
    assert explanation == superexplain.explain(model, pixels, method="smoothgrad", num_samples=4, noise_level=0.1,
                                               random_state=image_seed(5, 0), verbose=0)
