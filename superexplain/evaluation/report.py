"""`EvaluationReport`: the results of `evaluate` as one JSON-ready dict, a markdown table, figures and thumbnails."""
from __future__ import annotations

import datetime
import importlib.util
import json
import os
import platform
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..metrics.score_results import ScoreResult
from .checks import CHECKS, CONTROLS

__all__ = ["EvaluationReport", "build_data"]

THUMBNAIL_SIZE = 128  # pixels, the longer side; smaller images keep their size


def _number(value: Any) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def _versions() -> dict:
    import sys

    from importlib.metadata import PackageNotFoundError, version

    found: dict[str, str | None] = {}
    for package in ("superexplain", "tensorflow", "keras", "numpy"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = None
    return {**found, "python": sys.version.split()[0], "platform": platform.platform()}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (np.integer, np.bool_)):
        return value.item()
    if isinstance(value, (float, np.floating)):
        return _number(value)
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return repr(value)


def build_data(title: str, settings: dict, methods: list[str], applied: list[str], outputs: dict, context: Any,
               messages: list[str]) -> dict:
    """The report's dict (the schema of ``results.json``) from the checks' per-image values."""
    table, best = {}, {}
    for name in applied:
        check = CHECKS[name]
        result = ScoreResult(name, outputs[name].values, higher_is_better=check.higher_is_better)
        table[name] = result.summary()
        scores = {m: table[name][m]["mean"] for m in methods if np.isfinite(table[name][m]["mean"])}
        if scores:
            pick = max if check.higher_is_better else min
            best[name] = pick(scores, key=scores.__getitem__)
    images = []
    for i, (explanation, target) in enumerate(zip(context.maps[methods[0]], context.targets)):
        label = explanation.target_name if explanation.target_name else str(int(target))
        images.append({"index": i, "image": f"thumbs/image_{i:03d}.png", "target": label,
                       "maps": {row: f"thumbs/image_{i:03d}_{row}.png" for row in list(methods) + list(CONTROLS)}})
    data = {
        "title": title,
        "settings": settings,
        "versions": _versions(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "methods": list(methods),
        "controls": list(CONTROLS),
        "checks": [CHECKS[name].describe() for name in applied],
        "table": table,
        "best": best,
        "curves": context.curves,
        "figures": [],
        "images": images,
        "warnings": list(dict.fromkeys(messages)),  # each message once, in order
    }
    return _jsonable(data)


def _cell(entry: dict | None, bold: bool) -> str:
    if entry is None:
        return "n/a"
    if entry["mean"] is None:
        return "NaN"
    text = f"{entry['mean']:.3f}"
    if entry["low"] is not None and entry["high"] is not None and entry["n"] > 1:
        text += f" [{entry['low']:.3f}, {entry['high']:.3f}]"
    return f"**{text}**" if bold else text


def _thumbnail(picture: Any) -> Any:
    scale = THUMBNAIL_SIZE / max(picture.size)
    if scale >= 1:
        return picture
    from PIL import Image

    size = (max(1, round(picture.size[0] * scale)), max(1, round(picture.size[1] * scale)))
    return picture.resize(size, Image.Resampling.LANCZOS)


def _image_picture(image: np.ndarray) -> Any:
    """The image itself, min-max scaled to 0..255 RGB (any input range, grey or colour)."""
    from PIL import Image

    values = np.asarray(image, dtype=np.float64)
    values = values[..., :3] if values.shape[2] >= 3 else np.repeat(values[..., :1], 3, axis=2)
    span = float(np.ptp(values))
    scaled = (values - values.min()) / span if span > 0 else np.zeros_like(values)
    return Image.fromarray(np.round(scaled * 255).astype(np.uint8))


@dataclass
class EvaluationReport:
    """What :func:`superexplain.evaluate` found.

    Attributes
    ----------
    data : dict
        JSON-ready: settings, versions, the methods x checks table (mean, 95% interval, n), the
        best method per check, the curves, figures, thumbnails and warnings (``results.json``).
    out : str or None
        The directory the report was written to, None until :meth:`write`.
    results : dict
        ``{check: CheckOutput}``: the per-image values and the result objects drawn as figures
        (not in ``data``; absent from a report read back with :meth:`load`).
    explanations : dict
        ``{method or control: list of Explanations}`` (not in ``data``), drawn as thumbnails.

    Examples
    --------
    >>> from superexplain.evaluation import EvaluationReport
    >>> data = {"methods": ["a"], "controls": ["random"], "table": {"x": {"a": {"mean": 0.5, "low": 0.4,
    ...         "high": 0.6, "n": 2}}}, "checks": [{"name": "x", "label": "X"}], "best": {"x": "a"}}
    >>> EvaluationReport(data).table()[0]["cells"]["x"]["mean"], EvaluationReport(data).best
    (0.5, {'x': 'a'})
    """

    data: dict
    out: str | None = None
    results: dict = field(default_factory=dict, repr=False)
    explanations: dict = field(default_factory=dict, repr=False)

    @property
    def best(self) -> dict:
        """``{check: method}``: the best method per check (controls never win)."""
        return dict(self.data.get("best", {}))

    def table(self) -> list[dict]:
        """One row per method, then per control: ``{"name", "control", "cells": {check: entry or None}}``."""
        rows = []
        for name in list(self.data["methods"]) + list(self.data["controls"]):
            cells = {check["name"]: self.data["table"].get(check["name"], {}).get(name)
                     for check in self.data["checks"]}
            rows.append({"name": name, "control": name in self.data["controls"], "cells": cells})
        return rows

    def to_markdown(self) -> str:
        """The table as markdown (mean [95% interval]; the best method per check in bold), settings and warnings."""
        checks = self.data["checks"]
        arrows = ["↑" if c.get("higher_is_better", True) else "↓" for c in checks]
        lines = [f"# {self.data.get('title', 'Explanation evaluation')}", "",
                 "| | " + " | ".join(f"{c['label']} {a}" for c, a in zip(checks, arrows)) + " |",
                 "|---|" + "---|" * len(checks)]
        for row in self.table():
            name = f"{row['name']} (control)" if row["control"] else row["name"]
            cells = [_cell(row["cells"][c["name"]], self.best.get(c["name"]) == row["name"]) for c in checks]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines += ["", "Mean over images [95% bootstrap interval]; n/a: the check does not apply to that row.", ""]
        lines += [f"- **{c['label']}** ({c.get('paper', '')}): {c.get('description', '')}" for c in checks]
        settings = self.data.get("settings", {})
        lines += ["", "## Settings", "", "```json", json.dumps(settings, indent=1, sort_keys=True), "```"]
        if self.data.get("warnings"):
            lines += ["", "## Warnings", ""] + [f"- {w}" for w in self.data["warnings"]]
        return "\n".join(lines) + "\n"

    def _figures(self, out: str) -> list[dict]:
        """One overview figure (a bar chart per check, rows with their 95% interval), then the checks' own curves."""
        import matplotlib.pyplot as plt

        names = list(self.results)
        columns = min(4, len(names))
        rows = -(-len(names) // columns)
        figure, axes = plt.subplots(rows, columns, figsize=(3.6 * columns, 3.0 * rows), squeeze=False)
        for ax, name in zip(axes.flat, names):
            check = CHECKS[name]
            ScoreResult(check.label, self.results[name].values, higher_is_better=check.higher_is_better).plot(ax=ax)
        for ax in list(axes.flat)[len(names):]:
            ax.set_axis_off()
        figure.tight_layout()
        drawn = [("checks", "Every check", figure, "Per check, each method's and control's mean over images with "
                  "its 95% bootstrap interval; the title says which direction is better.")]
        for output in self.results.values():
            for stem, title, result, caption in output.figures:
                shown = result.plot()
                drawn.append((stem, title, shown if hasattr(shown, "savefig") else shown.figure, caption))
        figures = []
        for stem, title, picture, caption in drawn:
            path = f"figures/{stem}.png"
            picture.savefig(os.path.join(out, *path.split("/")), dpi=80)
            plt.close(picture)
            figures.append({"title": title, "file": path, "caption": caption})
        return figures

    def _thumbnails(self, out: str) -> None:
        from ..plotting import format_as_image

        for entry in self.data["images"]:
            i = entry["index"]
            first = self.explanations[self.data["methods"][0]][i]
            _thumbnail(_image_picture(first.image)).save(os.path.join(out, entry["image"]))
            for row, path in entry["maps"].items():
                _thumbnail(format_as_image(self.explanations[row][i])).save(os.path.join(out, path))

    def write(self, out: str | os.PathLike) -> str:
        """Write ``results.json``, ``results.md``, ``figures/*.png``, ``thumbs/*.png`` and ``index.html`` to ``out``.

        The figures and thumbnails need the report :func:`superexplain.evaluate` returned (a report
        read back with :meth:`load` rewrites the JSON, markdown and page only). Returns the path
        of ``index.html`` when the page writer is installed, else of ``results.md``.
        """
        out = os.path.abspath(os.fspath(out))
        os.makedirs(os.path.join(out, "figures"), exist_ok=True)
        os.makedirs(os.path.join(out, "thumbs"), exist_ok=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if self.results:
                self.data["figures"] = self._figures(out)
            if self.explanations:
                self._thumbnails(out)
        new = [f"{w.category.__name__}: {w.message}" for w in caught]
        self.data["warnings"] = list(dict.fromkeys(list(self.data.get("warnings", [])) + new))
        with open(os.path.join(out, "results.json"), "w", encoding="utf-8") as handle:
            json.dump(self.data, handle, indent=1)
        markdown = os.path.join(out, "results.md")
        with open(markdown, "w", encoding="utf-8") as handle:
            handle.write(self.to_markdown())
        self.out = out
        # the page is written by superexplain.evaluation.html where that module is installed
        if importlib.util.find_spec("superexplain.evaluation.html") is None:
            return markdown
        from .html import write_html

        return write_html(self.data, out)

    @classmethod
    def load(cls, out: str | os.PathLike) -> "EvaluationReport":
        """Read a written report back from its ``results.json``."""
        path = os.path.join(os.fspath(out), "results.json")
        if not os.path.isfile(path):
            raise ValueError(f"{os.fspath(out)!r} holds no results.json of superexplain.evaluate")
        with open(path, encoding="utf-8") as handle:
            return cls(json.load(handle), out=os.path.abspath(os.fspath(out)))
