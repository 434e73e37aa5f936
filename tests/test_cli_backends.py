"""`superexplain explain` on both backends: one runner (explain_dataset), the same run folder, the same files."""
from __future__ import annotations

import json
import os
import zipfile

import numpy as np
import pytest

from test_cli import run_cli

pytest.importorskip("ray")


@pytest.fixture(scope="module")
def shapes(tmp_path_factory, demo_model_file):
    """Three planted-shapes PNGs (64x64, the demo model's input size) and the bundled demo model."""
    from PIL import Image

    from superexplain.datasets import make_shapes

    folder = tmp_path_factory.mktemp("shapes")
    pixels = (make_shapes(3, seed=8).images * 255).round().astype(np.uint8)
    for i, image in enumerate(pixels):
        Image.fromarray(image).save(folder / f"shape{i}.png")
    return demo_model_file, folder, pixels


def files_of(out) -> dict[str, bytes]:
    found = {}
    for root, _, names in os.walk(out):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as handle:
                found[os.path.relpath(path, out)] = handle.read()
    return found


def zip_members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def index_lines(out) -> list[dict]:
    with open(os.path.join(out, "index.jsonl")) as handle:
        return [json.loads(line) for line in handle]


def assert_same_run(local, ray) -> None:
    """The two run folders hold the same files: PNG, JSON and run.json byte for byte; each .npz with the same
    members byte for byte (so every array bit for bit and the same params), whatever its zip timestamps;
    index.jsonl the same but for the seconds each image took."""
    from superexplain import Explanation

    local_files, ray_files = files_of(local), files_of(ray)
    assert sorted(local_files) == sorted(ray_files)
    for name, data in local_files.items():
        if name.endswith(".npz"):
            assert zip_members(os.path.join(local, name)) == zip_members(os.path.join(ray, name)), name
            a, b = Explanation.load(os.path.join(local, name)), Explanation.load(os.path.join(ray, name))
            assert a == b and a.params == b.params, name
        elif name != "index.jsonl":
            assert data == ray_files[name], name  # .png, .json, run.json (and the empty lock file)
    strip = [{key: value for key, value in line.items() if key != "seconds"} for line in index_lines(local)]
    assert strip == [{key: value for key, value in line.items() if key != "seconds"} for line in index_lines(ray)]


def explain_both(model, folder, out, *flags) -> dict:
    """Run the same command on both backends; the local run's JSON summary."""
    summaries = {}
    for backend in ("local", "ray"):
        result = run_cli("explain", model, str(folder), *flags, "--format", "png,json", "--backend", backend,
                         "--out", str(out / backend), "--json", timeout=400)
        assert result.returncode == 0, result.stderr
        summaries[backend] = json.loads(result.stdout)
    assert summaries["local"]["explanations"] == [
        {**record, "files": [path.replace(str(out / "ray"), str(out / "local")) for path in record["files"]]}
        for record in summaries["ray"]["explanations"]]
    return summaries["local"]


def test_lime_on_both_backends_writes_identical_files_seeded_per_image(shapes, tmp_path):
    import superexplain

    model, folder, pixels = shapes
    summary = explain_both(model, folder, tmp_path, "--method", "lime", "--num-samples", "40", "--seed", "3",
                           "--batch-size", "16")
    assert_same_run(tmp_path / "local", tmp_path / "ray")
    assert len(summary["explanations"]) == 3 and all(len(r["files"]) == 3 for r in summary["explanations"])
    # each image has its own seed, SeedSequence([3, i]), recorded in index.jsonl, and its explanation is the
    # library's for that image and seed (--batch-size 16: 16 images per model call)
    lines = index_lines(tmp_path / "local")
    assert [line["seed"] for line in lines] == [
        int(np.random.SeedSequence([3, i]).generate_state(1)[0]) for i in range(3)]
    assert len({line["seed"] for line in lines}) == 3
    for i, line in enumerate(lines):
        explanation = superexplain.Explanation.load(tmp_path / "local" / line["file"])
        expected = superexplain.explain(model, pixels[i] / np.float32(255), method="lime", random_state=line["seed"],
                                        num_samples=40, batch_size=16, verbose=0)
        assert explanation == expected
        assert explanation.params["seed"] == line["seed"] and explanation.params["batch_size"] == 16


def test_a_deterministic_method_on_both_backends_writes_identical_files(shapes, tmp_path):
    import superexplain

    model, folder, pixels = shapes
    # the run's seed is recorded in the files of every method: for a method that draws no random numbers the
    # command line gives the fixed seed 0 (--seed would be an error), so both runs record the same
    explain_both(model, folder, tmp_path, "--method", "gradient_input", "--top-labels", "2")
    assert_same_run(tmp_path / "local", tmp_path / "ray")
    lines = index_lines(tmp_path / "local")
    assert [line["index"] for line in lines] == [0, 0, 1, 1, 2, 2]
    expected = superexplain.explain(model, pixels / np.float32(255), method="gradient_input", top_labels=2, verbose=0)
    for line, reference in zip(lines, expected):
        explanation = superexplain.Explanation.load(tmp_path / "local" / line["file"])
        assert explanation.target == reference.target
        np.testing.assert_allclose(explanation.attribution, reference.attribution, rtol=1e-5, atol=1e-7)
