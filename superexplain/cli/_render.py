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

__all__ = ["DRAW_AT", "display_copy", "display_image", "plot_options", "drawn_name", "render_png",
           "explanation_record", "draw_run"]

#: ``--draw-at``: over the photo at its own size and aspect, or over the picture the model saw.
DRAW_AT = ("photo", "model")


def display_copy(explanation, display: np.ndarray):
    """The explanation with the original image (before preprocessing) in place of the model input, for plots."""
    return dataclasses.replace(explanation, image=display)


def display_image(path: str, explanation, draw_at: str = "model") -> np.ndarray:
    """The image file as the model's input was made from it, before preprocessing: in [0, 1], with the
    explained channel count, resized to the explained size (``draw_at="model"``) or at its own size
    (``"photo"``).

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
    >>> display_image(path, explanation, draw_at="photo").shape
    (4, 6, 1)
    """
    height, width, channels = explanation.image.shape
    size = None if draw_at == "photo" else (height, width)
    return _io.read_image(path, channels=channels, size=size).astype(np.float32) / 255.0


def plot_options(show_negative: bool = False, positive_only: bool = False) -> dict:
    """Keyword arguments of :func:`superexplain.plot` for --show-negative and --positive-only.

    Block and outline plots show the superpixels for the class and against it by default
    (``--show-negative`` says so explicitly); ``--positive-only`` keeps only those for it.

    Examples
    --------
    >>> plot_options(), plot_options(positive_only=True)
    ({'positive_only': False}, {'positive_only': True})
    """
    if show_negative and positive_only:
        from ._common import UsageError

        raise UsageError("--show-negative and --positive-only contradict each other; give one of them")
    return {"positive_only": bool(positive_only)}


def drawn_name(npz: str, target_name: str | None) -> str:
    """The path, without extension, of the PNG/JSON drawn beside an Explanation file: the runner's name,
    with the class name after the class index when the class has one.

    Examples
    --------
    >>> drawn_name("run/explanations/000000_cat_t3.npz", "happy face")
    'run/explanations/000000_cat_t3_happy_face'
    >>> drawn_name("run/explanations/000001_t0.npz", None)
    'run/explanations/000001_t0'
    """
    from ._common import safe_name

    base = npz[:-len(".npz")] if npz.endswith(".npz") else npz
    return base if target_name is None else f"{base}_{safe_name(target_name)}"


def render_png(explanation, display: np.ndarray, path: str, kind: str | None = None,
               segmentation: dict | None = None, options: dict | None = None) -> str:
    """Plot an explanation over an image into a PNG whose picture has the image's aspect.

    ``display`` is the original image, at the explained size or at its own (the photo's): the
    explanation's maps are then resized back over it (:func:`superexplain.image_geometry.to_photo`).
    A block or outline plot of an explanation without superpixels needs some: they are computed on
    the image drawn with ``segmentation`` (default SLIC, 50 segments). ``options`` go to
    :func:`superexplain.plot`.
    """
    import matplotlib.pyplot as plt

    import superexplain
    from superexplain.image_geometry import to_photo

    shown = to_photo(explanation, display)
    segments = None
    if kind in ("block", "outline") and explanation.segments is None:
        from superexplain.segmentation import segment

        settings = dict(segmentation or {"method": "slic"})
        segments = segment(display, settings.pop("method"), **settings)
    height, width = display.shape[:2]
    scale = 4.2 / max(height, width)
    figure, axes = plt.subplots(figsize=(max(width * scale, 1.0), max(height * scale, 1.0)))
    superexplain.plot(shown, kind=kind, ax=axes, segments=segments, **(options or {}))
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
             segmentation: dict | None, summary, draw_at: str = "photo", options: dict | None = None) -> list[dict]:
    """Draw the ``png``/``json`` of ``formats`` beside every Explanation file of a run; one summary record each.

    ``paths[i]`` is image i's file. ``kind`` is ``--kind`` (None: ``default``, or a heatmap for an
    explanation without superpixels); ``draw_at`` is ``--draw-at``; ``options`` go to
    :func:`superexplain.plot`. Files are named by :func:`drawn_name`. Every file is drawn afresh,
    also on a resumed run.
    """
    from superexplain import Explanation

    records = []
    for record in result.done:
        npz = os.path.join(result.out, record["file"])
        files = [summary.file(npz, "explanation")]
        if "png" in formats or "json" in formats:
            explanation = Explanation.load(npz)
            base = drawn_name(npz, explanation.target_name)
            if "png" in formats:
                shown = kind or (default if explanation.segments is not None else "heatmap")
                display = display_image(paths[record["index"]], explanation, draw_at)
                files.append(summary.file(render_png(explanation, display, base + ".png", shown, segmentation,
                                                     options), "plot"))
            if "json" in formats:
                files.append(summary.file(write_json(explanation_record(explanation), base + ".json"), "json"))
        records.append({"image": paths[record["index"]], "target": record["target"],
                        "target_name": record.get("target_name"), "score": finite_or_none(record.get("score")),
                        "seed": record.get("seed"), "files": files})
    return records
