"""superexplain.evaluate: every check for every method and control, controls never win, resumable, known answers."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

import superexplain
from superexplain.evaluation import CHECKS, EvaluationReport
from superexplain.evaluation.checks import Context, CheckOutput
from superexplain.evaluation.report import build_data

METHODS = ["gradcam", "saliency"]
ROWS = METHODS + ["random", "edge"]
RERUN_CHECKS = {"max_sensitivity", "random_logit", "model_randomization"}


@pytest.fixture(scope="module")
def shapes():
    from superexplain.datasets import make_shapes

    return make_shapes(3, seed=5)


@pytest.fixture(scope="module")
def written(demo_model, shapes, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    # fewer steps than the defaults, to keep the test fast; the settings must say so
    cheaper = {"road": {"percentiles": [50]}, "deletion_auc": {"step": 512}, "insertion_auc": {"step": 512},
               "sensitivity_n": {"points": 4}, "model_randomization": {"layers": ["last_conv", "predictions"]}}
    report = superexplain.evaluate(demo_model, shapes.images, METHODS, out=out, masks=shapes.masks, verbose=0,
                                   num_subsets=10, check_options=cheaper)
    assert report.data["settings"]["checks"]["road"]["percentiles"] == [50]
    return report, str(out)


def test_the_table_has_every_applicable_check_for_every_method_and_the_controls(written):
    report, _ = written
    data = report.data
    expected = [name for name in CHECKS if name != "data_randomization"]  # no train_fn given
    assert [c["name"] for c in data["checks"]] == expected
    for name in expected:
        rows = METHODS + (["edge"] if name in RERUN_CHECKS else ["random", "edge"])
        assert sorted(data["table"][name]) == sorted(rows), name
        for row in rows:
            cell = data["table"][name][row]
            assert set(cell) == {"mean", "low", "high", "n"}
            assert cell["n"] == 3, (name, row)  # 3 images, all re-explained by the re-running checks (4 at most)
    # the controls are what they claim: the edge map ignores the class and the weights
    assert data["table"]["random_logit"]["edge"]["mean"] == pytest.approx(1.0)
    assert data["table"]["model_randomization"]["edge"]["mean"] == pytest.approx(1.0)
    assert [row["name"] for row in report.table()] == ROWS
    assert len(data["curves"]["sensitivity_n"]["rows"]) == 4
    assert data["curves"]["randomization"]["x"] == ["predictions", "last_conv"]  # from the output down


def test_best_names_a_method_never_a_control(written):
    report, _ = written
    assert set(report.best) == {c["name"] for c in report.data["checks"]}
    assert set(report.best.values()) <= set(METHODS)
    # the choice is the method with the best mean in the check's direction
    for name, method in report.best.items():
        means = {m: report.data["table"][name][m]["mean"] for m in METHODS}
        pick = max if CHECKS[name].higher_is_better else min
        assert means[method] == pick(means.values())


def test_a_control_that_scores_best_still_does_not_win():
    context = Context(None, np.zeros((2, 4, 4, 3)), np.array([0, 1]), {}, None, 0, {}, {}, np.arange(2))
    from superexplain import Explanation

    context.maps["a"] = [Explanation(image=np.zeros((4, 4, 3)), method="a", target=t, heatmap=np.eye(4))
                         for t in (0, 1)]
    outputs = {"sparseness": CheckOutput({"a": np.array([0.1, 0.2]), "random": np.array([0.9, 0.8])}),
               "complexity": CheckOutput({"a": np.array([5.0, 6.0]), "edge": np.array([1.0, 1.0])})}
    data = build_data("t", {}, ["a"], ["sparseness", "complexity"], outputs, context, [])
    assert data["best"] == {"sparseness": "a", "complexity": "a"}
    assert data["table"]["sparseness"]["random"]["mean"] == pytest.approx(0.85)


def test_the_report_files_round_trip(written):
    report, out = written
    for name in ("results.json", "results.md"):
        assert os.path.isfile(os.path.join(out, name))
    with open(os.path.join(out, "results.json"), encoding="utf-8") as handle:
        assert json.load(handle) == report.data
    assert EvaluationReport.load(out).data == report.data
    for figure in report.data["figures"]:
        assert os.path.getsize(os.path.join(out, figure["file"])) > 1000
    assert {f["file"] for f in report.data["figures"]} == {"figures/checks.png", "figures/sensitivity_n_curve.png",
                                                           "figures/randomization_gradcam.png",
                                                           "figures/randomization_saliency.png"}
    for entry in report.data["images"]:
        for path in [entry["image"], *entry["maps"].values()]:
            assert os.path.isfile(os.path.join(out, path)), path
    assert sorted(report.data["images"][0]["maps"]) == sorted(ROWS)
    markdown = report.to_markdown()
    assert "| random (control) |" in markdown and "**" in markdown


def test_a_second_call_resumes_and_localisation_needs_masks(written, demo_model, shapes):
    _, out = written
    folder = os.path.join(out, "explanations", "gradcam")
    files = sorted(os.path.join(root, f) for root, _, names in os.walk(folder) for f in names if f.endswith(".npz"))
    assert len(files) == 3
    before = {f: os.stat(f).st_mtime_ns for f in files}
    again = superexplain.evaluate(demo_model, shapes.images, METHODS, out=out, verbose=0,
                                  checks=["sparseness", "pointing_game", "relevance_mass"])
    assert {f: os.stat(f).st_mtime_ns for f in files} == before  # nothing explained again
    assert list(again.data["table"]) == ["sparseness"]  # no masks: no localisation
    assert any("pointing_game was skipped" in w for w in again.data["warnings"])


def test_faithfulness_correlation_is_one_for_the_exact_contributions_of_a_linear_model(keras):
    rng = np.random.default_rng(3)
    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, keras.layers.Dense(2, use_bias=False)(keras.layers.Flatten()(inputs)))
    model.layers[-1].set_weights([rng.normal(size=(64, 2)).astype("float32")])
    images = rng.random((3, 8, 8, 1)).astype("float32")
    report = superexplain.evaluate(model, images, ["gradient_input"], checks=["faithfulness_correlation"],
                                   check_options={"faithfulness_correlation": {"features": "pixels"}}, verbose=0)
    cells = report.data["table"]["faithfulness_correlation"]
    # gradient x input of a linear logit is each pixel's exact contribution: every subset's drop is its sum
    assert cells["gradient_input"]["mean"] == pytest.approx(1.0, abs=1e-5)
    assert cells["gradient_input"]["n"] == 3
    assert cells["random"]["mean"] < 0.9 and cells["edge"]["mean"] < 0.9
    assert report.best == {"faithfulness_correlation": "gradient_input"}


@pytest.mark.parametrize("arguments, message", [
    ({"methods": ["gradcam", "nosuch"]}, "methods"),
    ({"methods": ["gradcam"], "checks": ["deletion_auc", "accuracy"]}, "checks"),
    ({"methods": ["gradcam"], "masks": np.zeros((2, 64, 64), bool)}, "masks"),
    ({"methods": ["gradcam"], "masks": np.zeros((3, 32, 32), bool)}, "masks"),
    ({"methods": ["gradcam"], "method_options": {"lime": {"num_samples": 10}}}, "method_options"),
    ({"methods": ["gradcam"], "check_options": {"nosuch": {}}}, "check_options"),
])
def test_bad_input_names_the_argument(demo_model, shapes, arguments, message):
    with pytest.raises(ValueError, match=message):
        superexplain.evaluate(demo_model, shapes.images, verbose=0, **arguments)


def test_data_randomisation_runs_only_with_a_training_function_and_trains_once(keras):
    calls = []

    def train(images, labels, seed):
        calls.append(np.array(labels))
        keras.utils.set_random_seed(seed)
        model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(2)])
        model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(images, labels, epochs=2, verbose=0)
        return model

    rng = np.random.default_rng(0)
    images, labels = rng.random((12, 8, 8, 1)).astype("float32"), np.arange(12) % 2
    model = train(images, labels, 0)
    report = superexplain.evaluate(model, images[:3], ["saliency"], checks=["sparseness", "data_randomization"],
                                   train_fn=train, train_data=(images, labels), verbose=0)
    assert len(calls) == 2  # the true-label model above, then the permuted-label one, once for every row
    assert sorted(calls[1]) == sorted(labels) and not np.array_equal(calls[1], labels)
    cells = report.data["table"]["data_randomization"]
    assert sorted(cells) == ["edge", "saliency"] and cells["edge"]["mean"] == pytest.approx(1.0)
    assert cells["saliency"]["n"] == 3 and cells["saliency"]["mean"] < 0.99
    assert any("has not memorised" in w for w in report.data["warnings"])  # 2 epochs do not memorise
    without = superexplain.evaluate(model, images[:3], ["saliency"], checks=["sparseness", "data_randomization"],
                                    verbose=0)
    assert list(without.data["table"]) == ["sparseness"]


def test_masks_may_be_a_directory_of_images_matched_by_file_name(demo_model, shapes, tmp_path):
    from PIL import Image

    from superexplain.metrics import pointing_game

    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    for i, (image, mask) in enumerate(zip(shapes.images, shapes.masks)):
        Image.fromarray(np.round(image * 255).astype(np.uint8)).save(tmp_path / "images" / f"shape_{i}.png")
        Image.fromarray(mask.astype(np.uint8)).save(tmp_path / "masks" / f"shape_{i}.bmp")  # 0/1 pixels
    report = superexplain.evaluate(demo_model, str(tmp_path / "images"), ["gradcam"], checks=["pointing_game"],
                                   masks=str(tmp_path / "masks"), verbose=0)
    expected = pointing_game(report.explanations["gradcam"], shapes.masks).score
    assert report.data["table"]["pointing_game"]["gradcam"]["mean"] == pytest.approx(expected)
    (tmp_path / "masks" / "shape_2.bmp").unlink()
    with pytest.raises(ValueError, match="masks: no mask named shape_2"):
        superexplain.evaluate(demo_model, str(tmp_path / "images"), ["gradcam"], checks=["pointing_game"],
                              masks=str(tmp_path / "masks"), verbose=0)


def test_a_model_factory_is_called_once_and_ray_gives_the_local_report(shapes, tmp_path, ray_started, monkeypatch):
    from superexplain.datasets import load_demo_model

    calls = []

    def factory():
        calls.append(1)
        return load_demo_model()

    arguments = dict(methods=["gradcam", "lime"], checks=["sparseness", "deletion_auc", "random_logit"],
                     method_options={"lime": {"num_samples": 60}}, check_options={"deletion_auc": {"step": 512}},
                     rerun_images=2, verbose=0)
    local = superexplain.evaluate(factory, shapes.images, out=tmp_path / "local", **arguments)
    # one model for every method and check, not a prediction function: a factory takes no images
    assert len(calls) == 1
    assert local.data["table"]["random_logit"]["edge"]["mean"] == pytest.approx(1.0)
    from superexplain.runner import ray_backend

    reports, run_on_ray = [], ray_backend.run_on_ray
    monkeypatch.setattr(ray_backend, "run_on_ray", lambda *args, **kwargs: reports.append(run_on_ray(*args, **kwargs)))
    remote = superexplain.evaluate(load_demo_model, shapes.images, out=tmp_path / "ray", backend="ray", **arguments)
    assert remote.data["settings"]["backend"] == "ray"
    # both methods ran on the same actors, each of which loaded the model once
    assert len(reports) == 2 and reports[0]["actors"] == reports[1]["actors"]
    assert all(loads == 1 for _, loads in reports[1]["actors"])
    for check in arguments["checks"]:
        for row, values in local.results[check].values.items():
            # each image's explanation is the same bit for bit on either backend, so is every number
            np.testing.assert_array_equal(remote.results[check].values[row], values, err_msg=f"{check}/{row}")


def test_rerunning_checks_cap_only_the_auto_sample_count_of_lime_and_kernelshap():
    from superexplain.evaluation.evaluate import RERUN_NUM_SAMPLES, _rerun_options

    given = {"lime": {}, "kernelshap": {"num_samples": "auto"}, "rise": {"mask_resolution": 4},
             "occlusion": {"batch_size": 8}, "gradcam": {}}
    got = _rerun_options(list(given), {"lime": {"num_samples": 500}, **{m: given[m] for m in given if m != "lime"}})
    assert got["lime"] == {"num_samples": 500}  # an integer the user chose is kept
    assert got["kernelshap"] == {"num_samples": RERUN_NUM_SAMPLES}
    # RISE counts masks, not samples: a num_samples option would be refused by it
    assert got["rise"] == {"mask_resolution": 4} and got["occlusion"] == {} and got["gradcam"] == {}
