"""`superexplain explain` draws its pictures over the photo at the photo's own size and aspect (--draw-at photo),
the map resized back with the geometry that took the photo to the model's input; --draw-at model keeps the
model-size picture. Output names carry the class name."""
from __future__ import annotations

import json

import numpy as np
import pytest

from test_cli import run_cli


@pytest.fixture(scope="module")
def photo(tmp_path_factory, demo_model_file):
    """A 90x60 photo (wider than tall) with a planted shape in its right two thirds, the shape's mask in photo
    coordinates, and a labels file for the demo model (64x64 input)."""
    from PIL import Image

    from superexplain.datasets import make_shapes

    shapes = make_shapes(1, seed=3)
    pixels = (shapes.images[0] * 255).round().astype(np.uint8)
    canvas = np.empty((60, 90, 3), np.uint8)
    canvas[:] = pixels[0, 0]  # the background colour
    canvas[:, 30:] = np.asarray(Image.fromarray(pixels).resize((60, 60), Image.Resampling.BILINEAR))
    mask = np.zeros((60, 90), bool)
    mask[:, 30:] = np.asarray(Image.fromarray(shapes.masks[0].astype(np.uint8) * 255).resize(
        (60, 60), Image.Resampling.NEAREST)) > 0
    folder = tmp_path_factory.mktemp("photo")
    Image.fromarray(canvas).save(folder / "wide.png")
    (folder / "labels.txt").write_text("circle\nsquare\ntriangle\ncross\n")
    return demo_model_file, folder, mask


def picture_box(png_path) -> tuple[int, int]:
    """(height, width) of the picture in a saved plot: the rows and columns mostly not white (the title's
    sparse text and the white margins are not)."""
    from PIL import Image

    with Image.open(png_path) as handle:
        pixels = np.asarray(handle.convert("RGB"), dtype=int)
    ink = (pixels < 245).any(axis=-1)
    rows, cols = np.nonzero(ink.mean(axis=1) > 0.6)[0], np.nonzero(ink.mean(axis=0) > 0.6)[0]
    return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


def test_the_png_has_the_photos_aspect_and_the_map_lands_on_the_object(photo, tmp_path):
    from PIL import Image

    from superexplain import Explanation
    from superexplain.cli._render import display_image
    from superexplain.image_geometry import to_photo

    model, folder, mask = photo
    result = run_cli("explain", model, str(folder / "wide.png"), "--labels", str(folder / "labels.txt"),
                     "--format", "png,json", "--out", str(tmp_path / "run"), "--json")
    assert result.returncode == 0, result.stderr
    (record,) = json.loads(result.stdout)["explanations"]
    npz, png, saved_json = record["files"]
    name = record["target_name"]
    assert png.endswith(f"_t{record['target']}_{name}.png") and saved_json.endswith(f"_{name}.json")
    height, width = picture_box(png)
    assert abs(width / height - 90 / 60) < 0.06, (height, width)

    # the map drawn is the model-size map resized back to the photo (an independent resize here) ...
    explanation = Explanation.load(npz)
    assert explanation.image.shape == (64, 64, 3)
    shown = to_photo(explanation, display_image(str(folder / "wide.png"), explanation, "photo"))
    assert shown.image.shape == (60, 90, 3)
    expected = np.asarray(Image.fromarray(explanation.heatmap.astype(np.float32), "F").resize(
        (90, 60), Image.Resampling.BILINEAR))
    np.testing.assert_allclose(shown.heatmap, expected, rtol=1e-6, atol=1e-7)
    # ... so its hot region is where the object is in the photo
    row, col = np.unravel_index(shown.heatmap.argmax(), shown.heatmap.shape)
    assert mask[row, col], (row, col)
    assert shown.heatmap[mask].mean() > 2 * shown.heatmap[~mask].mean()


def test_draw_at_model_keeps_the_model_size_square_picture(photo, tmp_path):
    model, folder, _ = photo
    result = run_cli("explain", model, str(folder / "wide.png"), "--draw-at", "model", "--out",
                     str(tmp_path / "run"), "--json")
    assert result.returncode == 0, result.stderr
    (record,) = json.loads(result.stdout)["explanations"]
    height, width = picture_box(record["files"][1])
    assert abs(width / height - 1.0) < 0.06, (height, width)


def test_superpixels_follow_the_photo_with_their_weights():
    from superexplain import Explanation
    from superexplain.image_geometry import to_photo

    segments = np.repeat(np.arange(4)[None, :], 4, axis=0)  # four vertical strips
    weights = np.array([0.1, -0.2, 0.3, 0.9])
    explanation = Explanation(image=np.zeros((4, 4, 3)), method="lime", target=0, heatmap=weights[segments],
                              segments=segments, weights=weights)
    shown = to_photo(explanation, np.zeros((3, 8, 3)))
    assert shown.segments.tolist() == [[0, 0, 1, 1, 2, 2, 3, 3]] * 3
    np.testing.assert_array_equal(shown.weights, weights)


def test_show_negative_and_positive_only_reach_the_plot(photo, tmp_path):
    """Against-the-class superpixels are drawn by default (--show-negative says so); --positive-only drops them."""
    import glob

    model, folder, _ = photo
    image = str(folder / "wide.png")
    common = ["--method", "lime", "--num-samples", "300", "--kind", "block"]
    default = run_cli("explain", model, image, *common, "--show-negative", "--out", str(tmp_path / "neg"))
    positive = run_cli("explain", model, image, *common, "--positive-only", "--out", str(tmp_path / "pos"))
    assert default.returncode == 0 and positive.returncode == 0, default.stderr + positive.stderr
    weights = superexplain_weights(tmp_path / "neg")
    assert (weights < 0).any(), "the test needs a negative LIME weight"
    drawn = [open(glob.glob(str(tmp_path / name / "explanations" / "*.png"))[0], "rb").read() for name in ("neg", "pos")]
    assert drawn[0] != drawn[1]
    both = run_cli("explain", model, image, *common, "--show-negative", "--positive-only", "--out", str(tmp_path / "x"))
    assert both.returncode == 2 and "contradict" in both.stderr


def superexplain_weights(out):
    import glob

    import superexplain

    return superexplain.Explanation.load(glob.glob(str(out / "explanations" / "*.npz"))[0]).weights

