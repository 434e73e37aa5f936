"""The command line through its real entry point (`python -m superexplain`), and its preprocessing conventions."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from superexplain import image_files as _io

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUBCOMMANDS = ("demo", "explain", "superpixels", "compare", "sanity", "evaluate")


def run_cli(*args: str, cwd: str | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
               TF_CPP_MIN_LOG_LEVEL="2", MPLBACKEND="Agg")
    return subprocess.run([sys.executable, "-m", "superexplain", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=timeout)


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """A failure is one line `superexplain: error: ...` on stderr with a non-zero status, no traceback."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("superexplain: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A tiny saved Keras CNN (32x32x3 -> 3 classes), two PNGs of another size, a labels file, junk files."""
    import keras
    from PIL import Image

    root = tmp_path_factory.mktemp("cli")
    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_a")(inputs)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_b")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="predictions")(x)
    keras.Model(inputs, outputs).save(root / "model.keras")
    images = root / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    rows, cols = np.mgrid[0:40, 0:48]
    for name, (top, left) in (("a", (5, 8)), ("b", (18, 24))):
        pixels = np.stack([rows * 4, cols * 3, np.full_like(rows, 90)], axis=-1).astype(float)  # a smooth background
        pixels[top:top + 15, left:left + 15] = (230, 40, 40)  # and a red square
        pixels += rng.normal(0, 4, pixels.shape)
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(images / f"{name}.png")
    (images / "notes.txt").write_text("not an image")
    (root / "broken.png").write_bytes(b"\x89PNG but not really")
    (root / "not_a_model.keras").write_text("not a model")
    import zipfile

    with zipfile.ZipFile(root / "foreign.keras", "w") as archive:  # a zip, but not a Keras archive
        archive.writestr("readme.txt", "hello")
    (root / "labels.txt").write_text("cat\ndog\nbird\n")
    return root


# ---------------------------------------------------------------------- preprocessing conventions
PIXEL = np.array([[[10.0, 20.0, 30.0], [255.0, 0.0, 128.0]]], dtype=np.float32)  # (1, 2, 3) RGB


def test_unit_and_tf_conventions_follow_their_formulas():
    np.testing.assert_allclose(_io.preprocess(PIXEL, "unit"), PIXEL / 255.0, rtol=1e-6)
    np.testing.assert_allclose(_io.preprocess(PIXEL, "tf")[0, 0], [10 / 127.5 - 1, 20 / 127.5 - 1, 30 / 127.5 - 1],
                               rtol=1e-6)
    np.testing.assert_array_equal(_io.preprocess(PIXEL, "none"), PIXEL)


def test_caffe_convention_flips_to_bgr_and_subtracts_imagenet_means():
    out = _io.preprocess(PIXEL, "caffe")
    np.testing.assert_allclose(out[0, 0], [30 - 103.939, 20 - 116.779, 10 - 123.68], rtol=1e-6)
    np.testing.assert_allclose(out[0, 1], [128 - 103.939, 0 - 116.779, 255 - 123.68], rtol=1e-6)


def test_torch_convention_standardises_with_imagenet_mean_and_std():
    out = _io.preprocess(PIXEL, "torch")
    expected = [(10 / 255 - 0.485) / 0.229, (20 / 255 - 0.456) / 0.224, (30 / 255 - 0.406) / 0.225]
    np.testing.assert_allclose(out[0, 0], expected, rtol=1e-5)


def test_named_conventions_match_keras_applications_preprocess_input():
    from keras.applications import densenet, mobilenet_v2, vgg16

    batch = np.random.default_rng(1).integers(0, 256, size=(2, 5, 4, 3)).astype(np.float32)
    for name, reference in (("caffe", vgg16), ("tf", mobilenet_v2), ("torch", densenet)):
        np.testing.assert_allclose(_io.preprocess(batch, name), reference.preprocess_input(batch.copy()),
                                   rtol=1e-5, atol=1e-5, err_msg=name)


def test_module_function_preprocess_does_not_touch_the_callers_pixels():
    pixels = np.full((1, 2, 2, 3), 200.0, dtype=np.float32)
    out = _io.preprocess(pixels, "keras.applications.mobilenet_v2:preprocess_input")  # works in place in keras
    np.testing.assert_allclose(out, 200.0 / 127.5 - 1.0, rtol=1e-6)
    np.testing.assert_array_equal(pixels, 200.0)


def test_bad_preprocess_specs_are_value_errors_naming_the_option():
    for spec in ("imagenet", "no_such_module_xyz:f", "numpy:no_such_function"):
        with pytest.raises(ValueError, match="--preprocess"):
            _io.preprocess(PIXEL, spec)


def test_parse_size_reads_height_then_width():
    assert _io.parse_size("32x48") == (32, 48)
    assert _io.parse_size("64") == (64, 64)
    for bad in ("32x", "axb", "0x5", "1x2x3"):
        with pytest.raises(ValueError, match="--size"):
            _io.parse_size(bad)


def test_labels_files_in_text_json_list_and_keras_index_form(tmp_path):
    (tmp_path / "a.txt").write_text("cat\ndog\n\n")
    (tmp_path / "b.json").write_text('["cat", "dog"]')
    (tmp_path / "c.json").write_text('{"1": ["n2", "dog"], "0": ["n1", "cat"]}')
    for name in ("a.txt", "b.json", "c.json"):
        assert _io.load_labels(str(tmp_path / name)) == ["cat", "dog"]
    (tmp_path / "d.txt").write_text("cat\ncat\n")
    with pytest.raises(ValueError, match="repeats"):
        _io.load_labels(str(tmp_path / "d.txt"))


def test_find_images_expands_directories_and_globs_and_rejects_missing_paths(tmp_path):
    for name in ("b.png", "a.png", ".hidden.png"):
        (tmp_path / name).write_bytes(b"")
    paths, discovered = _io.find_images([str(tmp_path)])
    assert [os.path.basename(p) for p in paths] == ["a.png", "b.png"]
    assert set(paths) == discovered
    paths, _ = _io.find_images([str(tmp_path / "b*.png"), str(tmp_path / "b.png")])
    assert [os.path.basename(p) for p in paths] == ["b.png"]
    with pytest.raises(FileNotFoundError):
        _io.find_images([str(tmp_path / "missing.png")])


# ---------------------------------------------------------------------- the real entry point
def test_every_subcommand_has_help_with_examples():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in SUBCOMMANDS:
        assert command in result.stdout
        sub = run_cli(command, "--help")
        assert sub.returncode == 0, sub.stderr
        assert f"superexplain {command}" in sub.stdout and "examples:" in sub.stdout
        assert sub.stderr == ""


def test_explain_skips_non_images_in_a_directory_and_writes_every_format(workspace, tmp_path):
    out = tmp_path / "out"
    result = run_cli("explain", str(workspace / "model.keras"), str(workspace / "images"), "--labels",
                     str(workspace / "labels.txt"), "--target", "dog", "--format", "png,npz,json", "--out", str(out),
                     "--kind", "outline", "--json")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "superexplain: warning: skipped" in result.stderr and "notes.txt" in result.stderr
    summary = json.loads(result.stdout)
    assert [os.path.basename(r["image"]) for r in summary["explanations"]] == ["a.png", "b.png"]
    assert {(r["target"], r["target_name"]) for r in summary["explanations"]} == {(1, "dog")}
    assert len(summary["files"]) == 6 and all(os.path.isfile(path) for path in summary["files"])
    assert summary["warnings"] and "notes.txt" in summary["warnings"][0]
    assert [os.path.basename(r["image"]) for r in summary["failed"]] == ["notes.txt"]
    # a run folder: run.json, index.jsonl (the file that is no image listed as an error), explanations/
    index = [json.loads(line) for line in (out / "index.jsonl").read_text().splitlines()]
    assert [(r["id"], r["status"]) for r in index] == [("a.png", "done"), ("b.png", "done"), ("notes.txt", "error")]
    assert (out / "run.json").is_file()

    from PIL import Image

    from superexplain import Explanation

    explanation = Explanation.load(out / "explanations" / "000000_a_t1.npz")
    # The explanation holds the model's input: the image resized to 32x32 (bilinear), divided by 255.
    with Image.open(workspace / "images" / "a.png") as handle:
        expected = np.asarray(handle.convert("RGB").resize((32, 32), Image.Resampling.BILINEAR), np.float32) / 255
    np.testing.assert_allclose(explanation.image, expected, rtol=1e-6)
    assert explanation.target == 1 and explanation.method == "gradcam"
    record = json.loads((out / "explanations" / "000000_a_t1_dog.json").read_text())
    np.testing.assert_allclose(np.asarray(record["heatmap"]), explanation.heatmap, rtol=1e-6)
    assert record["target_name"] == "dog" and record["params"] == explanation.params
    with Image.open(out / "explanations" / "000000_a_t1_dog.png") as png:
        assert png.format == "PNG"


def test_explain_lime_records_the_command_line_settings(workspace, tmp_path):
    result = run_cli("explain", str(workspace / "model.keras"), str(workspace / "images" / "a.png"), "--method",
                     "lime", "--num-samples", "40", "--seed", "3", "--n-segments", "12", "--compactness", "20",
                     "--preprocess", "tf", "--format", "npz,png", "--out", str(tmp_path), "--quiet")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # --quiet
    (path,) = list(tmp_path.glob("explanations/000000_a_t*.npz"))
    from superexplain import Explanation

    explanation = Explanation.load(path)
    seed = int(np.random.SeedSequence([3, 0]).generate_state(1)[0])  # image 0's seed in a run seeded 3
    assert explanation.params["num_samples"] == 40 and explanation.params["seed"] == seed
    assert explanation.params["segmentation"]["n_segments"] == 12
    assert explanation.params["segmentation"]["compactness"] == 20
    assert path.with_suffix(".png").is_file()
    # The same as the library call on the same input: resized (bilinear) to 32x32, then x/127.5 - 1.
    import superexplain
    from PIL import Image

    with Image.open(workspace / "images" / "a.png") as handle:
        pixels = np.asarray(handle.convert("RGB").resize((32, 32), Image.Resampling.BILINEAR), np.float32)
    expected = superexplain.explain(str(workspace / "model.keras"), pixels / 127.5 - 1.0, method="lime",
                                    num_samples=40, random_state=seed, verbose=0,
                                    segmentation={"method": "slic", "n_segments": 12, "compactness": 20.0})
    assert explanation == expected


def test_explain_batch_size_auto_measures_one_and_reports_it(workspace, tmp_path):
    import json

    from superexplain import Explanation

    common = ("explain", str(workspace / "model.keras"), str(workspace / "images" / "a.png"), "--method", "lime",
              "--num-samples", "40", "--seed", "3", "--format", "npz")
    result = run_cli(*common, "--batch-size", "auto", "--out", str(tmp_path / "auto"), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    size = summary["batch_size"]
    assert size in (8, 16, 32, 64, 128, 256)  # fastest_batch_size's candidates
    assert summary["timings"]["batch_size"] > 0
    (path,) = list((tmp_path / "auto").glob("explanations/*.npz"))
    explanation = Explanation.load(path)
    assert explanation.params["batch_size"] == size  # the model ran at the measured size
    # and the reported size repeats the run exactly, as its note says
    result = run_cli(*common, "--batch-size", str(size), "--out", str(tmp_path / "fixed"), "--quiet")
    assert result.returncode == 0, result.stderr
    (again,) = list((tmp_path / "fixed").glob("explanations/*.npz"))
    assert Explanation.load(again) == explanation
    # the same command again resumes the run with the size it recorded, measuring nothing
    resumed = run_cli(*common, "--batch-size", "auto", "--out", str(tmp_path / "auto"), "--json")
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["batch_size"] == size and "batch_size" not in summary["timings"]


@pytest.mark.parametrize("value", ["0", "-3", "fast", "2.5"])
def test_bad_batch_size_is_a_one_line_error(workspace, tmp_path, value):
    result = run_cli("explain", str(workspace / "model.keras"), str(workspace / "images" / "a.png"),
                     "--batch-size", value, "--out", str(tmp_path))
    assert_one_line_error(result, "--batch-size", "positive integer or 'auto'", value)


def test_explain_resumes_its_run_and_refuses_another_until_overwrite(workspace, tmp_path):
    out = tmp_path / "run"
    command = ("explain", str(workspace / "model.keras"), str(workspace / "images"), "--format", "npz,png",
               "--out", str(out), "--quiet")
    assert run_cli(*command).returncode == 0
    done = {path: path.stat().st_mtime_ns for path in (out / "explanations").glob("*.npz")}
    assert len(done) == 2
    again = run_cli(*command)  # resumes: nothing is explained again
    assert again.returncode == 0, again.stderr
    assert {path: path.stat().st_mtime_ns for path in (out / "explanations").glob("*.npz")} == done
    lines = [json.loads(line) for line in (out / "index.jsonl").read_text().splitlines()]
    assert sorted(r["status"] for r in lines) == ["done", "done", "error"]  # notes.txt, tried again
    # another method in the same folder would mix two runs: refused, until --overwrite starts afresh
    other = ("explain", str(workspace / "model.keras"), str(workspace / "images"), "--method", "occlusion",
             "--format", "npz", "--out", str(out))
    assert_one_line_error(run_cli(*other), "other settings", "method", "--overwrite")
    started_over = run_cli(*other, "--overwrite", "--quiet")
    assert started_over.returncode == 0, started_over.stderr
    left = sorted(path.name for path in (out / "explanations").iterdir())
    assert len(left) == 2 and all(name.endswith(".npz") for name in left)  # the old run's PNGs went with it
    assert json.loads((out / "run.json").read_text())["method"] == "occlusion"


def test_explain_on_ray_refuses_to_resume_on_changed_images_until_overwrite(workspace, tmp_path):
    import shutil

    import superexplain
    from superexplain import Explanation
    from superexplain.image_files import find_images

    folder = tmp_path / "images"
    shutil.copytree(workspace / "images", folder)
    model, out = str(workspace / "model.keras"), tmp_path / "run"
    paths, _ = find_images([str(folder)])  # what the command line gives the runner
    # a run as the command line makes it (both backends write the same files), made here to spare a Ray start
    with pytest.warns(UserWarning, match="1 image"):  # notes.txt, as on the command line
        superexplain.explain_dataset(model, paths, "gradcam", out=out, random_state=3, verbose=0)
    shutil.copy(folder / "a.png", folder / "b.png")  # b.png now holds another picture
    os.utime(folder / "b.png", ns=(1_000_000_000, 1_000_000_000))
    command = ("explain", model, str(folder), "--backend", "ray", "--format", "npz", "--out", str(out))
    refused = run_cli(*command)
    assert_one_line_error(refused, "1 changed", "b.png", "--overwrite")
    assert "a.png" not in refused.stderr
    started_over = run_cli(*command, "--overwrite", "--json")
    assert started_over.returncode == 0, started_over.stderr
    assert len(json.loads(started_over.stdout)["explanations"]) == 2
    with pytest.warns(UserWarning, match="1 image"):
        fresh = superexplain.explain_dataset(model, paths, "gradcam", out=tmp_path / "fresh", random_state=0,
                                             verbose=0)
    for record in fresh.done:  # the new b.png's explanation, not the old one
        assert Explanation.load(out / record["file"]) == Explanation.load(tmp_path / "fresh" / record["file"])


def test_missing_image_is_a_one_line_error(workspace):
    result = run_cli("explain", str(workspace / "model.keras"), str(workspace / "nowhere.png"))
    assert_one_line_error(result, "nowhere.png", "does not exist")


def test_unreadable_image_named_explicitly_is_a_one_line_error(workspace):
    result = run_cli("explain", str(workspace / "model.keras"), str(workspace / "broken.png"))
    assert_one_line_error(result, "broken.png", "not an image")


def test_target_name_missing_from_labels_is_a_one_line_error(workspace):
    result = run_cli("explain", str(workspace / "model.keras"), str(workspace / "images"), "--labels",
                     str(workspace / "labels.txt"), "--target", "zebra")
    assert_one_line_error(result, "zebra", "cat")


def test_a_file_that_is_not_a_model_is_a_one_line_error(workspace):
    result = run_cli("explain", str(workspace / "not_a_model.keras"), str(workspace / "images"))
    assert_one_line_error(result, "not_a_model.keras", "not a Keras model file")
    # A zip that Keras itself must open and reject: its error, too, becomes one line.
    result = run_cli("compare", str(workspace / "foreign.keras"), str(workspace / "images" / "a.png"))
    assert_one_line_error(result, "foreign.keras", "config.json")


def test_superpixels_writes_the_tuning_grid(workspace, tmp_path):
    out = tmp_path / "grid.png"
    result = run_cli("superpixels", str(workspace / "images" / "a.png"), "--n-superpixels", "5,10",
                     "--weight", "1,10,30", "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["files"] == [str(out)] and summary["n_superpixels"] == [5, 10]
    from PIL import Image

    with Image.open(out) as png:
        assert png.height > png.width  # a row per weight (3), a column per count (2)


def test_compare_draws_the_methods_side_by_side_and_measures_agreement(workspace, tmp_path):
    out = tmp_path / "cmp.png"
    result = run_cli("compare", str(workspace / "model.keras"), str(workspace / "images" / "a.png"), "--methods",
                     "gradcam,occlusion", "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["methods"] == ["gradcam", "occlusion"]
    (row,) = summary["agreement"]
    assert row["methods"] == ["gradcam", "occlusion"]
    assert -1.0 <= row["pixel"]["spearman"] <= 1.0 and row["segment"] is not None
    assert json.loads((tmp_path / "cmp.json").read_text())["agreement"] == summary["agreement"]
    assert out.is_file()


def test_sanity_writes_randomisation_and_sensitivity_n(workspace, tmp_path):
    result = run_cli("sanity", str(workspace / "model.keras"), str(workspace / "images"), "--method", "gradcam",
                     "--mode", "cascading", "--num-subsets", "8", "--out", str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    record = json.loads((tmp_path / "sanity.json").read_text())
    # Cascading from the output down: the Dense head first, then the convolutions.
    assert record["randomization"]["layers"] == ["predictions", "conv_b", "conv_a"]
    scores = np.asarray(record["randomization"]["scores"]["spearman_abs"], dtype=float)
    assert scores.shape == (3, 2)  # (layers, images)
    correlations = np.asarray(record["sensitivity_n"]["correlations"], dtype=float)
    assert correlations.shape == (2, len(record["sensitivity_n"]["ns"]))
    for name in ("randomization.png", "sensitivity_n.png"):
        assert (tmp_path / name).is_file()


def test_demo_writes_figure_grid_and_sanity_summary(tmp_path):
    result = run_cli("demo", "--out", str(tmp_path / "demo"), "--images", "2", "--num-samples", "100", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    for name in ("comparison.png", "superpixels.png", "summary.json", "summary.md"):
        assert str(tmp_path / "demo" / name) in summary["files"]
        assert (tmp_path / "demo" / name).is_file()
    record = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert record["images"] == 2
    assert set(record["sanity"]["pointing_game"]) == {"gradcam", "lime", "random"}
    assert set(record["sanity"]["deletion_auc"]) == {"gradcam", "lime", "random"}
    assert "Grad-CAM and LIME agree" in (tmp_path / "demo" / "summary.md").read_text()
    assert record["lime_num_samples"] == 100 and [e["lime_samples_used"] for e in record["explanations"]] == [100, 100]
    assert "(100 samples, seed 0)" in (tmp_path / "demo" / "summary.md").read_text()
    # the demo's images get the same report as `superexplain evaluate`, linked from the summary
    report = json.loads((tmp_path / "demo" / "report" / "results.json").read_text())
    assert report["methods"] == ["gradcam", "lime"] and (tmp_path / "demo" / "report" / "index.html").is_file()
    assert {"pointing_game", "model_randomization"} <= set(report["table"]) and set(record["best"]) == set(report["best"])
    assert "report/index.html" in (tmp_path / "demo" / "summary.md").read_text()


def test_a_two_output_model_needs_output_and_explains_the_one_named(workspace, tmp_path):
    import keras

    keras.utils.set_random_seed(3)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, {"classes": keras.layers.Dense(3, activation="softmax", name="classes")(pooled),
                                 "box": keras.layers.Dense(4, name="box")(pooled)})
    path = tmp_path / "two_heads.keras"
    model.save(path)
    image = str(workspace / "images" / "a.png")
    assert_one_line_error(run_cli("explain", str(path), image, "--out", str(tmp_path / "none")),
                          "2 outputs", "'box'", "'classes'", "output=")
    out = tmp_path / "picked"
    result = run_cli("explain", str(path), image, "--output", "classes", "--method", "gradcam", "--format", "npz",
                     "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    from superexplain import Explanation

    explanation = Explanation.load(next(out.glob("explanations/*.npz")))
    assert explanation.params["layer"] == "conv" and 0 <= explanation.target < 3
