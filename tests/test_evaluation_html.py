"""The evaluation report page (superexplain.evaluation.html) read back by a parser, and `superexplain evaluate`."""
from __future__ import annotations

import copy
import html.parser
import os

import numpy as np
import pytest

from superexplain.evaluation.html import write_html

VOID = {"meta", "link", "img", "br", "hr", "input", "source", "col", "area", "base", "wbr", "track", "embed"}


def hand_made_report(out, methods=("gradcam", "lime"), draw="pil") -> dict:
    """A report directory in the contract's layout: data (as results.json holds it) and real PNGs beside it.

    ``draw="matplotlib"`` writes the figures with matplotlib (a real curve), ``"pil"`` a small PNG.
    """
    from PIL import Image

    methods, controls = list(methods), ["random", "edge"]
    rng = np.random.default_rng(0)
    os.makedirs(os.path.join(out, "figures"), exist_ok=True)
    os.makedirs(os.path.join(out, "thumbs"), exist_ok=True)
    checks = [
        {"name": "deletion_auc", "label": "Deletion AUC", "family": "faithfulness", "higher_is_better": False,
         "paper": "arXiv 1806.07421", "description": "area under the deletion curve"},
        {"name": "insertion_auc", "label": "Insertion AUC", "family": "faithfulness", "higher_is_better": True,
         "paper": "arXiv 1806.07421", "description": "area under the insertion curve"},
        {"name": "pointing_game", "label": "Pointing game", "family": "localisation", "higher_is_better": True,
         "paper": "arXiv 1608.00507", "description": "hit rate of the map's maximum"},
    ]
    table = {}
    for check in checks:
        table[check["name"]] = {}
        for row in methods + controls:
            mean = float(rng.uniform(0.1, 0.9))
            table[check["name"]][row] = {"mean": mean, "low": mean - 0.05, "high": mean + 0.05, "n": 4}
    # the controls' best values beat every method's, so a best mark on a control would show
    table["deletion_auc"]["random"]["mean"] = 0.001
    table["insertion_auc"]["edge"]["mean"] = 0.999
    del table["pointing_game"]["edge"]  # not applicable: rendered "n/a"
    best = {}
    for check in checks:
        means = {row: table[check["name"]][row]["mean"] for row in methods}
        best[check["name"]] = (max if check["higher_is_better"] else min)(means, key=means.get)
    figures = []
    for name in ("sensitivity_n", "randomization"):
        path = os.path.join(out, "figures", f"{name}.png")
        if draw == "matplotlib":
            import matplotlib.pyplot as plt

            figure, axes = plt.subplots(figsize=(3, 2))
            axes.plot([1, 2, 4, 8], rng.uniform(0, 1, 4), marker="o")
            figure.savefig(path, dpi=60)
            plt.close(figure)
        else:
            Image.fromarray(rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)).save(path)
        figures.append({"title": name.replace("_", " "), "file": f"figures/{name}.png", "caption": "mean and 95% CI"})
    images = []
    for index in range(2):
        entry = {"index": index, "image": f"thumbs/image_{index:03d}.png", "target": "square", "maps": {}}
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(os.path.join(out, entry["image"]))
        for column, row in enumerate(methods + controls):
            entry["maps"][row] = f"thumbs/image_{index:03d}_{column}.png"  # a safe name whatever the method's
            pixels = rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(os.path.join(out, entry["maps"][row]))
        images.append(entry)
    return {"title": "Evaluation of a test model", "created": "2026-12-03T13:00:00+00:00",
            "settings": {"model": "model.keras", "images": 2, "methods": methods, "seed": 0, "backend": "local",
                         "method_options": {"lime": {"num_samples": 100}}, "score": "logit"},
            "versions": {"superexplain": "0.1.0", "numpy": np.__version__, "python": "3.x", "platform": "test"},
            "methods": methods, "controls": controls, "checks": checks, "table": table, "best": best,
            "curves": {}, "figures": figures, "images": images, "warnings": ["pointing game: <no masks> for 1 image"]}


class _Page(html.parser.HTMLParser):
    """The parts of the page the tests read: the score table's rows, every src/href, and tag balance."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[dict] = []
        self.links: list[tuple[str, str, dict]] = []
        self.open: list[str] = []
        self.unbalanced: list[str] = []
        self.in_scores = False
        self.cell: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag not in VOID:
            self.open.append(tag)
        for key in ("src", "href"):
            if key in attrs:
                self.links.append((tag, attrs[key], attrs))
        if tag == "table" and attrs.get("id") == "scores":
            self.in_scores = True
        if self.in_scores and tag == "tr" and attrs.get("class") in ("method", "control"):
            self.rows.append({"class": attrs["class"], "cells": []})
        if self.in_scores and self.rows and tag in ("td", "th") and self.cell is None:
            self.cell = {"class": attrs.get("class", ""), "text": "", "strong": ""}
        if self.cell is not None and tag == "strong":
            self.cell["in_strong"] = True

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.open or self.open[-1] != tag:
            self.unbalanced.append(tag)
        else:
            self.open.pop()
        if tag == "table":
            self.in_scores = False
        if self.cell is not None and tag == "strong":
            self.cell["in_strong"] = False
        if self.cell is not None and tag in ("td", "th") and self.open.count("td") + self.open.count("th") == 0:
            self.rows[-1]["cells"].append(self.cell)
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell["text"] += data
            if self.cell.get("in_strong"):
                self.cell["strong"] += data


def _read(path: str) -> tuple[str, _Page]:
    text = open(path, encoding="utf-8").read()
    page = _Page()
    page.feed(text)
    page.close()
    return text, page


@pytest.fixture()
def report(tmp_path):
    data = hand_made_report(str(tmp_path))
    return str(tmp_path), data


def test_every_cell_shows_the_data_mean_and_interval_and_missing_rows_read_na(report):
    out, data = report
    _, page = _read(write_html(data, out))
    rows = data["methods"] + data["controls"]
    assert [row["cells"][0]["text"].split(" (")[0] for row in page.rows] == rows
    assert [row["class"] for row in page.rows] == ["method"] * 2 + ["control"] * 2
    for row_name, row in zip(rows, page.rows):
        for check, cell in zip(data["checks"], row["cells"][1:]):
            values = data["table"][check["name"]].get(row_name)
            if values is None:
                assert cell["text"].strip() == "n/a"
                continue
            expected = "%.3f [%.3f, %.3f]" % (values["mean"], values["low"], values["high"])
            assert cell["text"].startswith(expected), (row_name, check["name"], cell["text"])
    assert len(page.rows[0]["cells"]) == 1 + len(data["checks"])


def test_the_best_mark_is_on_the_data_best_method_once_per_column_never_on_a_control(report):
    out, data = report
    _, page = _read(write_html(data, out))
    rows = data["methods"] + data["controls"]
    for column, check in enumerate(data["checks"], start=1):
        marked = [rows[i] for i, row in enumerate(page.rows) if "best" in row["cells"][column]["class"]]
        assert marked == [data["best"][check["name"]]]
        cell = page.rows[rows.index(marked[0])]["cells"][column]
        # bold, a star and the word: not colour alone
        assert cell["strong"] == "%.3f" % data["table"][check["name"]][marked[0]]["mean"]
        assert "\u2605" in cell["text"] and "best" in cell["text"]
    # the controls hold the lowest deletion and the highest insertion, and still carry no mark
    assert data["table"]["deletion_auc"]["random"]["mean"] < min(
        data["table"]["deletion_auc"][m]["mean"] for m in data["methods"])


def test_the_arrows_follow_each_checks_better_direction(report):
    out, data = report
    text, _ = _read(write_html(data, out))
    head = text[text.index("<thead>"):text.index("</thead>")]
    cells = head.split("<th ")[2:]  # after the "method" column
    for check, cell in zip(data["checks"], cells):
        assert ("\u2191" in cell) == check["higher_is_better"] and ("\u2193" in cell) != check["higher_is_better"]
        assert ("higher is better" if check["higher_is_better"] else "lower is better") in cell


def test_text_from_the_data_is_escaped_not_run(tmp_path):
    evil = "<script>alert('x')</script>"
    data = hand_made_report(str(tmp_path), methods=("gradcam", evil))
    data["warnings"].append('<img src=x onerror="alert(1)">')
    data["settings"]["note"] = "</code></td>&amp;"
    text, page = _read(write_html(data, str(tmp_path)))
    assert "<script" not in text.lower() and "onerror=\"" not in text
    assert html.escape(evil, quote=True) in text
    assert page.rows[1]["cells"][0]["text"] == evil  # shown as text
    assert page.unbalanced == [] and page.open == []


def test_the_page_is_well_formed_html5_and_references_only_relative_files_that_exist(report):
    out, data = report
    path = write_html(data, out)
    text, page = _read(path)
    assert text.startswith("<!DOCTYPE html>\n<html lang=\"en\">") and '<meta charset="utf-8">' in text
    assert page.unbalanced == [] and page.open == []
    assert "<style>" in text and "<script" not in text
    files = [link for tag, link, attrs in page.links if attrs.get("rel") != "icon"]
    assert [link for tag, link, attrs in page.links if attrs.get("rel") == "icon"] == ["data:,"]  # no favicon fetch
    expected = ({figure["file"] for figure in data["figures"]} | {item["image"] for item in data["images"]}
                | {p for item in data["images"] for p in item["maps"].values()})
    assert {link for tag, link, _ in page.links if tag == "img"} == expected
    for link in files:
        assert "://" not in link and not os.path.isabs(link) and ".." not in link
        assert os.path.isfile(os.path.join(out, link)), link
    assert sum(1 for tag, _, _ in page.links if tag == "img") == 2 + 2 * (1 + 4)


def test_settings_versions_and_warnings_are_shown(report):
    out, data = report
    text, _ = _read(write_html(data, out))
    for key, value in list(data["settings"].items()) + list(data["versions"].items()):
        assert f'<th scope="row">{key}</th>' in text
    assert "&quot;num_samples&quot;: 100" in text  # a nested setting, as JSON
    assert html.escape(data["warnings"][0]) in text


def test_a_missing_or_outside_file_is_refused_naming_the_entry_and_data_is_left_unchanged(report):
    out, data = report
    before = copy.deepcopy(data)
    write_html(data, out)
    assert data == before
    broken = copy.deepcopy(data)
    broken["images"][1]["maps"]["lime"] = "thumbs/nowhere.png"
    with pytest.raises(ValueError, match=r"data\['images'\]\[1\]\['maps'\]\['lime'\].*does not exist"):
        write_html(broken, out)
    broken = copy.deepcopy(data)
    broken["figures"][0]["file"] = os.path.join(out, "figures", "sensitivity_n.png")
    with pytest.raises(ValueError, match=r"data\['figures'\]\[0\]\['file'\] must be a path relative"):
        write_html(broken, out)
    with pytest.raises(TypeError, match="data must be a dict"):
        write_html([data], out)
    with pytest.raises(ValueError, match="out must be an existing directory"):
        write_html(data, os.path.join(out, "missing"))


# --- the `superexplain evaluate` command: its help, its usage errors, its files and JSON summary ---

def test_the_evaluate_command_has_help_with_examples_and_is_listed(capsys):
    from superexplain.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["evaluate", "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    assert "examples:" in text and "superexplain evaluate model.keras images/ --masks masks/" in text
    assert "--methods" in text and "--backend {local,ray}" in text
    with pytest.raises(SystemExit):
        main([])
    assert "sanity or evaluate" in capsys.readouterr().err


@pytest.mark.parametrize("argv, fragment", [
    (["--methods", "gradcam,nope"], "--methods: unknown method 'nope'"),
    (["--methods", "gradcam,gradcam"], "--methods names 'gradcam' twice"),
    (["--checks", "deletion_auc,nope"], "--checks: unknown check 'nope'; choose from deletion_auc,"),
])
def test_evaluate_usage_errors_are_one_line_before_any_model_is_loaded(argv, fragment, capsys):
    from superexplain.cli import main

    assert main(["evaluate", "no-such-model.keras", "no-such-image.png", *argv]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("superexplain: error: ") and fragment in lines[0], lines


def test_evaluate_writes_the_report_and_its_summary_reading_masks_by_name(tmp_path, monkeypatch, capsys, keras):
    """The command against the contract: evaluate(...) gets the images and masks, .write(out) the page."""
    import json

    from PIL import Image

    import superexplain
    from superexplain.cli import main

    inputs = keras.Input((12, 12, 3))
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(inputs))
    keras.Model(inputs, outputs).save(tmp_path / "model.keras")
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    expected_masks = []
    for i, name in enumerate(("b", "a")):
        Image.fromarray(np.full((24, 24, 3), 40 * i, np.uint8)).save(tmp_path / "images" / f"{name}.png")
        mask = np.zeros((24, 24), np.uint8)
        mask[2 * i: 2 * i + 6, 4:10] = 255
        Image.fromarray(mask).save(tmp_path / "masks" / f"{name}.png")
        expected_masks.append(mask[::2, ::2] > 0)  # resized (nearest) to the model's 12 x 12
    calls = []

    class FakeReport:
        def __init__(self, out):
            self.data = hand_made_report(out)

        def write(self, out):
            with open(os.path.join(out, "results.json"), "w") as handle:
                json.dump(self.data, handle)
            return write_html(self.data, out)

    def fake_evaluate(model, images, methods, **options):
        calls.append((model, images, methods, options))
        os.makedirs(options["out"], exist_ok=True)
        return FakeReport(options["out"])

    monkeypatch.setattr(superexplain, "evaluate", fake_evaluate)
    out = str(tmp_path / "report")
    (tmp_path / "labels.txt").write_text("cat\ndog\n")
    status = main(["evaluate", str(tmp_path / "model.keras"), str(tmp_path / "images"), "--methods", "gradcam,lime",
                   "--masks", str(tmp_path / "masks"), "--seed", "3", "--out", out, "--json",
                   "--labels", str(tmp_path / "labels.txt"), "--batch-size", "5"])
    assert status == 0, capsys.readouterr().err
    summary = json.loads(capsys.readouterr().out)
    (model, images, methods, options), = calls
    # locally the model is loaded once, with the labels and batch size, and every method and check shares it
    assert model.class_names == ["cat", "dog"] and model.batch_size == 5 and model.keras_model is not None
    # on Ray the workers load the model file themselves: the path goes through, with the labels and batch size
    assert main(["evaluate", str(tmp_path / "model.keras"), str(tmp_path / "images"), "--backend", "ray", "--out", out,
                 "--labels", str(tmp_path / "labels.txt"), "--batch-size", "5", "--quiet"]) == 0
    ray_model, _, _, ray_options = calls[-1]
    assert ray_model == str(tmp_path / "model.keras") and ray_options["backend"] == "ray"
    assert ray_options["class_names"] == ["cat", "dog"] and ray_options["model_batch_size"] == 5
    capsys.readouterr()
    assert methods == ("gradcam", "lime") and options["random_state"] == 3 and options["backend"] == "local"
    assert images.shape == (2, 12, 12, 3)  # a.png, b.png: sorted
    np.testing.assert_array_equal(options["masks"], np.stack(expected_masks[::-1]))
    assert summary["files"] == [os.path.join(out, "index.html"), os.path.join(out, "results.json")]
    data = hand_made_report(str(tmp_path / "again"))
    assert summary["best"] == data["best"]
    assert summary["table"]["deletion_auc"]["gradcam"] == data["table"]["deletion_auc"]["gradcam"]["mean"]
    assert "edge" not in summary["table"]["pointing_game"]  # not applicable: no number is made up
    os.remove(tmp_path / "masks" / "a.png")
    assert main(["evaluate", str(tmp_path / "model.keras"), str(tmp_path / "images"), "--masks",
                 str(tmp_path / "masks"), "--out", out]) == 2
    assert "--masks: no mask named a.*" in capsys.readouterr().err
