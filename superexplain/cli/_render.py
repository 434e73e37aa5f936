"""Drawing a run's explanations for people: a PNG plot over the original image and a JSON record beside each file.

``superexplain explain`` draws them after :func:`superexplain.explain_dataset` has written the run
folder, from the Explanation files it loads back, so both backends give the same files.
"""
from __future__ import annotations

import dataclasses
import os

import numpy as np

from superexplain import image_files as _io

from ._common import save_figure
from ._summary import finite_or_none, write_json

__all__ = ["display_copy", "display_image", "render_png", "explanation_record", "draw_run"]


def display_copy(explanation, display: np.ndarray):
    """The explanation with the original image (before preprocessing) in place of the model input, for plots."""
    return dataclasses.replace(explanation, image=display)


def display_image(path: str, explanation) -> np.ndarray:
    """The image file as the model's input was made from it, before preprocessing: in [0, 1], resized
    to the explained size, with the explained channel count.

    Examples
    --------
    >>> import os, tempfile
    >>> from PIL import Image
    >>> from superexplain import Explanation
    >>> path = os.path.join(tempfile.mkdtemp(), "white.png")
    >>> Image.new("RGB", (6, 4), "white").save(path)
    >>> explanation = Explanation(image=np.zeros((2, 3, 1)), method="demo", target=0, heatmap=np.zeros((2, 3)))
    >>> pixels = display_image(path, explanation)
    >>> pixels.shape, float(pixels.max())
    ((2, 3, 1), 1.0)
    """
    height, width, channels = explanation.image.shape
    return _io.read_image(path, channels=channels, size=(height, width)).astype(np.float32) / 255.0


def render_png(explanation, display: np.ndarray, path: str, kind: str | None = None,
               segmentation: dict | None = None) -> str:
    """Plot an explanation over its original image into a PNG.

    A block or outline plot of an explanation without superpixels needs some: they are computed
    on the original image with ``segmentation`` (default SLIC, 50 segments).
    """
    import matplotlib.pyplot as plt

    import superexplain

    shown = display_copy(explanation, display)
    segments = None
    if kind in ("block", "outline") and explanation.segments is None:
        from superexplain.segmentation import segment

        settings = dict(segmentation or {"method": "slic"})
        segments = segment(display, settings.pop("method"), **settings)
    figure, axes = plt.subplots(figsize=(4.2, 4.2))
    superexplain.plot(shown, kind=kind, ax=axes, segments=segments)
    return save_figure(figure, path)


def explanation_record(explanation) -> dict:
    """The JSON form of an Explanation (maps as nested lists).

    Examples
    --------
    >>> from superexplain import Explanation
    >>> record = explanation_record(Explanation(image=np.zeros((1, 2, 3)), method="demo", target=0,
    ...                                         heatmap=np.ones((1, 2)), score=float("nan")))
    >>> record["heatmap"].tolist(), record["score"]
    ([[1.0, 1.0]], None)
    """
    record = {
        "method": explanation.method,
        "target": explanation.target,
        "target_name": explanation.target_name,
        "score": finite_or_none(explanation.score),
        "params": explanation.params,
        "heatmap": explanation.heatmap,
    }
    for name in ("feature_map", "segments", "weights", "weight_errors"):
        value = getattr(explanation, name)
        if value is not None:
            record[name] = value
    for name in ("intercept", "local_prediction", "local_fit"):
        value = getattr(explanation, name)
        if value is not None:
            record[name] = finite_or_none(value)
    return record


def draw_run(result, paths: list[str], formats: list[str], kind: str | None, default: str,
             segmentation: dict | None, summary) -> list[dict]:
    """Draw the ``png``/``json`` of ``formats`` beside every Explanation file of a run; one summary record each.

    ``paths[i]`` is image i's file. ``kind`` is ``--kind`` (None: ``default``, or a heatmap for an
    explanation without superpixels). Every file is drawn afresh, also on a resumed run.
    """
    from superexplain import Explanation

    records = []
    for record in result.done:
        npz = os.path.join(result.out, record["file"])
        files = [summary.file(npz, "explanation")]
        if "png" in formats or "json" in formats:
            explanation = Explanation.load(npz)
            base = npz[:-len(".npz")]
            if "png" in formats:
                shown = kind or (default if explanation.segments is not None else "heatmap")
                display = display_image(paths[record["index"]], explanation)
                files.append(summary.file(render_png(explanation, display, base + ".png", shown, segmentation),
                                          "plot"))
            if "json" in formats:
                files.append(summary.file(write_json(explanation_record(explanation), base + ".json"), "json"))
        records.append({"image": paths[record["index"]], "target": record["target"],
                        "target_name": record.get("target_name"), "score": finite_or_none(record.get("score")),
                        "seed": record.get("seed"), "files": files})
    return records
