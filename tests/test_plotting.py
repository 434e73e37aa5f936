"""Shared plotting: overlay arrays, rendered pixels, defaults, comparisons, superpixel tuning, bad input."""
import copy
import io
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402

import superexplain  # noqa: E402
from superexplain import Explanation  # noqa: E402
from superexplain.plotting import (  # noqa: E402
    block_overlay,
    compare,
    explanation_png,
    format_as_image,
    heatmap_overlay,
    outline_lines,
    outline_pixels,
    plot,
    plot_superpixels,
    plot_superpixels_grid,
    select_segments,
)
from superexplain.plotting._common import color_scale  # noqa: E402

H, W = 24, 32
# a 4 x 4 grid of 6 x 8 blocks, labels row-major
GRID = (np.arange(H)[:, None] // 6) * 4 + (np.arange(W)[None, :] // 8)
WEIGHTS = np.array([0.5, -0.9, 0.1, 0.0, -0.05, 0.3, 0.2, -0.4, 0.05, 0.7, -0.1, 0.0, 0.15, 0.25, -0.3, 0.6])


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _gradient(image=None, heatmap=None, **fields):
    rng = np.random.default_rng(3)
    image = rng.random((H, W, 3)).astype(np.float32) if image is None else image
    heatmap = rng.random((H, W)) if heatmap is None else heatmap
    defaults = dict(method="gradcam", target=2, target_name="triangle", score=3.25,
                    feature_map=rng.random((3, 4)), params={"layer": "last_conv", "score_kind": "logit"})
    defaults.update(fields)
    return Explanation(image=image, heatmap=heatmap, **defaults)


def _perturbation(image=None):
    image = np.full((H, W, 3), 0.5, np.float32) if image is None else image
    return Explanation(image=image, method="lime", target=1, target_name="square", score=0.875,
                       heatmap=WEIGHTS[GRID], segments=GRID, weights=WEIGHTS,
                       params={"num_samples": 1000, "segmentation": "slic", "score_kind": "probability"})


def _render(draw, height=H, width=W):
    """Draw into an Axes that covers a canvas of exactly one pixel per image pixel; return RGB uint8."""
    figure = Figure(figsize=(width / 100, height / 100), dpi=100)
    canvas = FigureCanvasAgg(figure)
    ax = figure.add_axes([0, 0, 1, 1])
    draw(ax)
    ax.set_axis_off()  # the frame would cover the border pixels
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


# ---------------------------------------------------------------- selection and overlay arrays
def test_select_segments_follows_lime_rules():
    weights = np.array([0.5, -0.9, 0.1, 0.0, -0.05, 0.3])
    positive, negative = select_segments(weights, num_features=2)
    assert positive.tolist() == [0, 5] and negative.tolist() == []
    positive, negative = select_segments(weights, num_features=2, show_negative=True)  # ranked by |w|
    assert positive.tolist() == [0] and negative.tolist() == [1]
    positive, negative = select_segments(weights, threshold=0.2, show_negative=True)
    assert positive.tolist() == [0, 5] and negative.tolist() == [1]
    positive, negative = select_segments(weights)  # every positive, zero excluded
    assert positive.tolist() == [0, 5, 2] and negative.size == 0


def test_block_overlay_fills_exactly_the_selected_segments():
    scale = color_scale([WEIGHTS])
    selected = np.array([9, 15, 1])
    overlay = block_overlay(GRID, WEIGHTS, selected, scale, fill_alpha=0.5)
    assert overlay.shape == (H, W, 4)
    np.testing.assert_array_equal(overlay[..., 3] > 0, np.isin(GRID, selected))
    assert overlay[..., 3].max() == pytest.approx(0.5)  # the strongest selected weight reaches fill_alpha
    assert overlay[GRID == 9, 3] == pytest.approx(0.5 * 0.7 / 0.9)  # opacity follows |weight|


def test_rendered_block_plot_changes_exactly_the_selected_segments():
    explanation = _perturbation()
    expected = np.isin(GRID, [9, 15, 0])  # the three largest weights, 0.7, 0.6, 0.5, read off WEIGHTS
    empty = _render(lambda ax: plot(explanation, "block", ax=ax, threshold=10.0, title=False))
    block = _render(lambda ax: plot(explanation, "block", ax=ax, num_features=3, positive_only=True, title=False))
    np.testing.assert_array_equal(np.any(block != empty, axis=2), expected)
    negative = np.isin(GRID, [1, 9, 15, 0, 7])  # top five by |weight|: -0.9, 0.7, 0.6, 0.5, -0.4
    shown = _render(lambda ax: plot(explanation, "block", ax=ax, num_features=5, title=False))  # the default
    np.testing.assert_array_equal(np.any(shown != empty, axis=2), negative)
    legacy = _render(lambda ax: plot(explanation, "block", ax=ax, num_features=5, show_negative=True, title=False))
    np.testing.assert_array_equal(legacy, shown)


def test_format_as_image_block_changes_exactly_the_selected_segments():
    explanation = _perturbation()
    base = np.asarray(format_as_image(explanation, "block", threshold=10.0))
    assert np.all(base == 128)  # 0.5 grey, nothing selected
    image = np.asarray(format_as_image(explanation, "block", threshold=0.28, positive_only=True))
    np.testing.assert_array_equal(np.any(image != base, axis=2), np.isin(GRID, [0, 5, 9, 15]))
    image = np.asarray(format_as_image(explanation, "block", threshold=0.28))  # |weight| > 0.28 by default
    np.testing.assert_array_equal(np.any(image != base, axis=2), np.isin(GRID, [0, 1, 5, 7, 9, 14, 15]))


def test_heatmap_overlay_is_transparent_at_zero_and_reaches_alpha_limit_at_the_peak():
    heatmap = np.zeros((H, W))
    heatmap[5, 5], heatmap[6, 6] = 2.0, 1.0
    overlay = heatmap_overlay(heatmap, color_scale([heatmap]), alpha_limit=0.6)
    assert overlay[0, 0, 3] == 0.0 and overlay[5, 5, 3] == pytest.approx(0.6)
    assert overlay[6, 6, 3] == pytest.approx(0.3)
    signed = -heatmap
    signed[7, 7] = 1.0
    overlay = heatmap_overlay(signed, color_scale([signed]), alpha_limit=0.6)
    assert overlay[5, 5, 3] == pytest.approx(0.6) and overlay[7, 7, 3] == pytest.approx(0.3)
    assert overlay[5, 5, 2] > overlay[5, 5, 0]  # negative: the blue end; positive: the red end
    assert overlay[7, 7, 0] > overlay[7, 7, 2]


def test_signed_maps_get_a_diverging_scale_centred_on_zero():
    signed = color_scale([np.array([-1.0, 3.0])])
    assert (signed.vmin, signed.vmax, signed.signed, signed.cmap.name) == (-3.0, 3.0, True, "RdBu_r")
    unsigned = color_scale([np.array([0.5, 2.0])])
    assert (unsigned.vmin, unsigned.vmax, unsigned.signed) == (0.0, 2.0, False)
    assert unsigned.cmap.name == "inferno"
    assert color_scale([np.zeros(3)]).vmax > 0  # an all-zero map must not divide by zero


def test_outline_pixels_are_the_inner_border_of_the_selected_segments():
    labels = np.repeat(np.repeat(np.array([[0, 1], [2, 3]]), 4, axis=0), 4, axis=1)  # 8x8, four 4x4 blocks
    expected = np.zeros((8, 8), bool)
    expected[0:4, 0:4] = True
    expected[1:3, 1:3] = False  # the interior of block 0 stays untouched
    np.testing.assert_array_equal(outline_pixels(labels, np.array([0])), expected)


def test_outline_lines_trace_pixel_edges():
    labels = np.array([[0, 1], [0, 1]])
    between = outline_lines(labels)  # one vertical edge between the columns, merged into one line
    np.testing.assert_array_equal(between, [[[0.5, -0.5], [0.5, 1.5]]])
    around = outline_lines(labels, np.array([0]))  # the closed outline of the left column
    lengths = np.abs(around[:, 1] - around[:, 0]).sum(axis=1)
    assert len(around) == 4 and lengths.sum() == pytest.approx(2 + 2 + 1 + 1)


# ---------------------------------------------------------------- format_as_image and PNGs
@pytest.mark.parametrize("kind", ["heatmap", "block", "outline"])
def test_format_as_image_has_the_size_of_the_image(kind):
    for explanation in (_gradient(), _perturbation()):
        image = format_as_image(explanation, kind, segments=GRID if explanation.segments is None else None)
        assert isinstance(image, Image.Image) and image.mode == "RGB" and image.size == (W, H)
    resized = format_as_image(_gradient(), resampling_filter="lanczos")  # the 3x4 feature map, resized
    assert resized.size == (W, H)


def test_format_as_image_without_overlay_is_the_uint8_image_itself():
    pixels = np.random.default_rng(0).integers(0, 256, (H, W, 3)).astype(np.uint8)
    image = format_as_image(_gradient(image=pixels), alpha_limit=0.0)
    np.testing.assert_array_equal(np.asarray(image), pixels)


def test_nearest_resampling_shows_the_feature_map_cells():
    feature_map = np.arange(12, dtype=float).reshape(3, 4)
    explanation = _gradient(image=np.zeros((H, W, 3)), heatmap=np.zeros((H, W)), feature_map=feature_map)
    pixels = np.asarray(format_as_image(explanation, resampling_filter="nearest", alpha_limit=1.0))
    cells = pixels[::8, ::8]  # one pixel per 8x8 cell
    assert len({tuple(p) for p in cells.reshape(-1, 3)}) == 12
    assert np.all(pixels[:8, :8] == pixels[0, 0])


def test_repr_png_draws_saved_explanations(tmp_path):
    for explanation in (_gradient(), _perturbation()):
        loaded = Explanation.load(explanation.save(tmp_path / explanation.method))
        png = loaded._repr_png_()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert Image.open(io.BytesIO(png)).size[0] > 100
    assert explanation_png(_perturbation()) == explanation_png(_perturbation())  # deterministic


# ---------------------------------------------------------------- plot defaults and titles
def test_plot_defaults_heatmap_for_gradients_and_block_for_perturbations():
    ax = _gradient().plot()
    assert len(ax.images) == 2 and ax.images[1].get_array().shape == (H, W, 4)
    assert ax.images[1].get_array()[..., 3].max() == pytest.approx(0.65)  # the heatmap's alpha_limit
    ax = plot(_perturbation())
    overlay = ax.images[1].get_array()
    np.testing.assert_array_equal(overlay[..., 3] > 0, WEIGHTS[GRID] != 0)  # every segment for or against


def test_outline_plot_draws_positive_and_negative_lines_in_their_colours():
    ax = plot(_perturbation(), "outline", show_negative=True, num_features=3,
              positive_color="yellow", negative_color="blue")
    colours = [tuple(c.get_colors()[0][:3]) for c in ax.collections]
    assert colours == [(0.0, 0.0, 1.0), (1.0, 1.0, 0.0)]  # negative drawn first, positive on top
    segments = np.concatenate([c.get_segments() for c in ax.collections])
    assert segments.min() >= -0.5 and segments[..., 0].max() <= W - 0.5  # inside the image


def test_title_names_method_class_and_score():
    title = plot(_gradient()).get_title()
    assert "gradcam" in title and "triangle" in title and "3.25" in title
    assert plot(_gradient(), title=False).get_title() == ""
    assert plot(_gradient(), title="mine").get_title() == "mine"


def test_block_plot_of_a_gradient_explanation_averages_the_heatmap_over_segments():
    heatmap = np.random.default_rng(1).random((H, W))
    expected = np.array([heatmap[GRID == k].mean() for k in range(16)])
    ax = plot(_gradient(heatmap=heatmap), "block", segments=GRID, num_features=1)
    overlay = ax.images[1].get_array()
    np.testing.assert_array_equal(overlay[..., 3] > 0, GRID == np.argmax(expected))


def test_plotting_never_mutates_the_explanation_or_the_image():
    image = (np.random.default_rng(2).random((H, W, 3)) * 255).astype(np.uint8)
    explanations = [_gradient(image=image), _perturbation(image=image)]
    kept = [copy.deepcopy(e) for e in explanations]
    image_kept = image.copy()
    for explanation in explanations:
        for kind in ("heatmap", "block", "outline"):
            plot(explanation, kind, segments=GRID, colorbar=True)
            format_as_image(explanation, kind, segments=GRID)
        explanation._repr_png_()
    compare(explanations)
    plot_superpixels(image, n_superpixels=6, method="grid")
    for explanation, original in zip(explanations, kept):
        assert explanation == original
    np.testing.assert_array_equal(image, image_kept)


def test_plotting_never_calls_show(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("plt.show() was called")

    monkeypatch.setattr(plt, "show", refuse)
    plot(_gradient())
    compare([_gradient(), _perturbation(image=_gradient().image)])
    plot_superpixels_grid(np.zeros((H, W)), n_superpixels=[4, 6], method="grid")


def test_plotting_works_without_tensorflow_imported(tmp_path):
    path = _perturbation().save(tmp_path / "lime.npz")
    script = (
        "import sys, matplotlib; matplotlib.use('Agg'); import superexplain\n"
        f"e = superexplain.Explanation.load({str(path)!r})\n"
        "superexplain.plot(e); superexplain.compare([e]); superexplain.format_as_image(e); e._repr_png_()\n"
        "superexplain.plot_superpixels(e.image, n_superpixels=8)\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TensorFlow was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------- compare
def test_compare_scales_each_panel_alone_unless_asked_to_share():
    base = np.zeros((H, W))
    weak, strong = base.copy(), base.copy()
    weak[3, 3], strong[3, 3] = 1.0, 4.0
    image = _gradient().image
    pair = [_gradient(image=image, heatmap=weak, method="a"), _gradient(image=image, heatmap=strong, method="b")]
    for shared in (compare(pair, scale="shared"), compare(pair, share_scale=True)):  # and the older spelling
        alphas = [ax.images[1].get_array()[3, 3, 3] for ax in shared.axes[1:3]]
        assert alphas == pytest.approx([0.65 / 4, 0.65])
    for separate in (compare(pair), compare(pair, scale="per_method"), compare(pair, share_scale=False)):
        assert [ax.images[1].get_array()[3, 3, 3] for ax in separate.axes[1:3]] == pytest.approx([0.65, 0.65])
    same_method = [_gradient(image=image, heatmap=weak), _gradient(image=image, heatmap=strong)]
    alphas = [ax.images[1].get_array()[3, 3, 3] for ax in compare(same_method, scale="per_method").axes[1:3]]
    assert alphas == pytest.approx([0.65 / 4, 0.65])


def test_compare_lays_out_one_row_per_image_with_titles():
    first, second = _gradient(), _gradient(image=np.ones((H, W, 3)))
    lime = _perturbation(image=first.image)
    figure = compare([[first, lime], [second]])
    titles = [ax.get_title() for ax in figure.axes]
    assert len(figure.axes) == 6 + 3  # 2 rows x (image + 2 panels), a colour bar per panel shown
    assert all(ax.get_label() == "<colorbar>" for ax in figure.axes[6:])
    assert titles[0].startswith("image") and titles[3].startswith("image")
    assert "gradcam" in titles[1] and "layer=last_conv" in titles[1]
    assert "lime" in titles[2] and "num_samples=1000" in titles[2]
    assert not figure.axes[5].axison


# ---------------------------------------------------------------- superpixel tuning plots
def test_plot_superpixels_reports_the_segments_produced_and_draws_their_boundaries():
    ax = plot_superpixels(np.zeros((30, 40, 3)), n_superpixels=12, method="grid")
    assert "12 segments" in ax.get_title() and "n=12" in ax.get_title()
    # a 3 x 4 grid has 3 inner vertical and 2 inner horizontal boundaries, each one merged line
    assert len(ax.collections[0].get_segments()) == 5


def test_plot_superpixels_titles_slic_settings():
    image = np.random.default_rng(0).random((32, 32, 3))
    ax = plot_superpixels(image, n_superpixels=10, weight=20)
    assert "n=10" in ax.get_title() and "weight=20" in ax.get_title()


def test_plot_superpixels_grid_has_a_panel_per_combination():
    image = np.random.default_rng(0).random((32, 48, 3))
    figure = plot_superpixels_grid(image, n_superpixels=[5, 15, 30], weight=[2, 40])
    titles = [ax.get_title() for ax in figure.axes]
    assert len(titles) == 6
    assert "n=5, weight=2" in titles[0] and "n=30, weight=40" in titles[5]


# ---------------------------------------------------------------- bad input
def test_unsupported_images_are_rejected():
    with pytest.raises(ValueError, match="image"):
        plot_superpixels(np.zeros((2, 8, 8, 3)))
    with pytest.raises(ValueError, match="channels"):
        plot_superpixels(np.zeros((8, 8, 2)))


def test_bad_superpixel_settings_are_rejected():
    image = np.zeros((16, 16, 3))
    with pytest.raises(ValueError, match="n_superpixels"):
        plot_superpixels(image, n_superpixels=0)
    with pytest.raises(TypeError, match="n_superpixels"):
        plot_superpixels(image, n_superpixels=2.5)
    with pytest.raises(ValueError, match="n_superpixels"):
        plot_superpixels_grid(image, n_superpixels=[10, 0])
    with pytest.raises(ValueError, match="weight"):
        plot_superpixels(image, weight=-1)
    with pytest.raises(ValueError, match="method"):
        plot_superpixels(image, method="pixels")
    with pytest.raises(ValueError, match="weight"):
        plot_superpixels(image, weight=5, method="felzenszwalb")
    with pytest.raises(ValueError, match="n_superpixels"):
        plot_superpixels(image, n_superpixels=5, method="quickshift")


def test_bad_plot_arguments_are_rejected():
    gradient = _gradient()
    with pytest.raises(TypeError, match="Explanation"):
        plot(np.zeros((H, W)))
    with pytest.raises(ValueError, match="kind"):
        plot(gradient, kind="contour")
    with pytest.raises(ValueError, match="segments"):
        plot(gradient, kind="block")  # a gradient explanation has no segments of its own
    with pytest.raises(ValueError, match="segments"):
        format_as_image(gradient, kind="outline")
    with pytest.raises(ValueError, match="segments"):
        plot(gradient, kind="block", segments=np.zeros((H, W + 1), int))
    with pytest.raises(ValueError, match="alpha_limit"):
        plot(gradient, alpha_limit=1.5)
    with pytest.raises(ValueError, match="colormap"):
        plot(gradient, colormap="no-such-map")
    with pytest.raises(ValueError, match="interpolation"):
        plot(gradient, interpolation="smooth")
    with pytest.raises(ValueError, match="num_features"):
        plot(_perturbation(), num_features=0)
    with pytest.raises(TypeError, match="ax"):
        plot(gradient, ax="left")
    with pytest.raises(ValueError, match="resampling_filter"):
        format_as_image(gradient, resampling_filter="smooth")


def test_bad_compare_arguments_are_rejected():
    gradient = _gradient()
    with pytest.raises(TypeError, match="explanations"):
        compare([])
    with pytest.raises(TypeError, match="mix"):
        compare([gradient, [gradient]])
    with pytest.raises(ValueError, match="different images"):
        compare([gradient, _gradient(image=np.ones((H, W, 3)))])
    with pytest.raises(ValueError, match="kind"):
        compare([gradient], kind="bars")


def test_public_names_point_at_the_plotting_package():
    assert superexplain.plot is plot and superexplain.compare is compare
    assert superexplain.format_as_image is format_as_image
    assert superexplain.plot_superpixels is plot_superpixels
    assert superexplain.plot_superpixels_grid is plot_superpixels_grid


@pytest.mark.parametrize("image", [
    np.random.default_rng(4).random((H, W)),                                   # grayscale (H, W)
    np.random.default_rng(4).random((H, W, 1)),                                # grayscale (H, W, 1)
    np.random.default_rng(4).integers(0, 256, (H, W, 4)).astype(np.uint8),     # RGBA
    np.random.default_rng(4).random((H, W, 3)) * 2 - 1,                        # [-1, 1]
    np.random.default_rng(4).random((H, W, 3)) * 255 - 120,                    # mean-subtracted
])
def test_every_image_form_is_drawn_at_its_size_without_change(image):
    kept = image.copy()
    explanation = _gradient(image=image)
    assert format_as_image(explanation).size == (W, H)
    assert format_as_image(explanation, "block", segments=GRID).size == (W, H)
    ax = plot_superpixels(image, n_superpixels=6, method="grid")
    assert ax.images[0].get_array().shape == (H, W, 3)
    np.testing.assert_array_equal(image, kept)


def test_a_perturbation_explanation_without_segments_defaults_to_its_heatmap():
    stripped = Explanation(image=np.zeros((H, W, 3)), method="lime", target=0, heatmap=WEIGHTS[GRID],
                           weights=WEIGHTS)
    assert len(plot(stripped).images) == 2
    assert stripped._repr_png_()[:4] == b"\x89PNG"
