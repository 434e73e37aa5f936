"""What the pictures show, read off rendered pixels: per-panel scales and colour bars, negative
weights, titles that do not overlap, constant maps, and sanity curves that stay visible."""
import dataclasses
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from superexplain import Explanation  # noqa: E402
from superexplain.plotting import compare, format_as_image, plot  # noqa: E402
from superexplain.sanity import RandomizationResult  # noqa: E402

H, W = 24, 32
GRID = (np.arange(H)[:, None] // 6) * 4 + (np.arange(W)[None, :] // 8)  # 16 blocks of 6 x 8
GREY = np.full((H, W, 3), 0.5)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _blob(scale=1.0):
    yy, xx = np.mgrid[:H, :W]
    return scale * np.exp(-((yy - 12) ** 2 + (xx - 16) ** 2) / 40.0)


def _gradient(heatmap, method="gradcam", **params):
    return Explanation(image=GREY, method=method, target=1, target_name="circle", score=2.0, heatmap=heatmap,
                       params={"layer": "last_conv", "score_kind": "logit", **params})


def _lime(weights):
    return Explanation(image=GREY, method="lime", target=1, target_name="circle", score=0.9,
                       heatmap=weights[GRID], segments=GRID, weights=weights,
                       params={"num_samples": 500, "score_kind": "probability"})


def _panel_pixels(figure, ax):
    """The rendered RGB pixels inside ``ax`` (its image area), after drawing the figure."""
    figure.canvas.draw()
    pixels = np.asarray(figure.canvas.buffer_rgba())[..., :3].astype(int)
    box = ax.get_window_extent()
    height = pixels.shape[0]
    top, bottom = int(height - box.y1) + 2, int(height - box.y0) - 2
    return pixels[top:bottom, int(box.x0) + 2:int(box.x1) - 2]


def _coloured_fraction(pixels):
    """Share of pixels visibly away from the plain grey image (128, 128, 128)."""
    return float(np.mean(np.abs(pixels - 128).max(axis=2) > 20))


# ---------------------------------------------------------------- 1. a colour scale per panel
def test_maps_a_thousand_times_apart_both_show_colour_each_with_its_colour_bar():
    strong = _gradient(_blob(1000.0), method="occlusion")
    weak = _gradient(_blob(1.0), method="gradcam")
    figure = compare([strong, weak], show_image=False)
    panels, bars = figure.axes[:2], figure.axes[2:]
    fractions = [_coloured_fraction(_panel_pixels(figure, ax)) for ax in panels]
    assert min(fractions) > 0.1, fractions  # both panels visibly coloured
    assert len(bars) == 2 and all(bar.get_label() == "<colorbar>" for bar in bars)
    assert [bar.get_ylabel() for bar in bars] == ["logit drop when hidden", "attribution (logit)"]
    assert bars[0].get_ylim()[1] == pytest.approx(1000.0) and bars[1].get_ylim()[1] == pytest.approx(1.0)
    # the shared scale (same units, asked for) washes the weak map out: the check above has teeth
    shared = compare([_gradient(_blob(1000.0)), _gradient(_blob(1.0))], show_image=False, scale="shared")
    assert _coloured_fraction(_panel_pixels(shared, shared.axes[1])) < 0.01


def test_colour_bars_state_each_methods_units():
    weights = np.linspace(-0.2, 0.5, 16)
    figure = compare([_gradient(_blob()), _lime(weights)])
    assert [ax.get_ylabel() for ax in figure.axes[3:]] == ["attribution (logit)", "LIME weight (probability units)"]
    assert len(compare([_gradient(_blob())], colorbar=False).axes) == 2  # no colour bar when asked for none


def test_shared_scale_refuses_maps_in_different_units_and_bad_scales_are_named():
    pair = [_gradient(_blob()), _lime(np.linspace(-0.2, 0.5, 16))]
    with pytest.raises(ValueError, match="units"):
        compare(pair, kind="heatmap", scale="shared")
    with pytest.raises(ValueError, match="scale"):
        compare(pair, scale="global")
    with pytest.raises(ValueError, match="share_scale"):
        compare(pair, scale="shared", share_scale=True)
    with pytest.raises(TypeError, match="share_scale"):
        compare(pair, share_scale="yes")


def test_per_method_scale_keeps_different_layers_apart():
    inner = _gradient(_blob(1.0), layer="backbone/block_2/conv")
    outer = _gradient(_blob(1000.0), layer="backbone/block_5/conv")
    figure = compare([inner, outer], scale="per_method", show_image=False)
    assert [bar.get_ylim()[1] for bar in figure.axes[2:]] == pytest.approx([1.0, 1000.0])


# ---------------------------------------------------------------- 2. negative weights
def _blueish(pixels):
    return np.mean((pixels[..., 2] - pixels[..., 0]) > 30)


def _render(draw):
    """Draw into an Axes covering a canvas of one pixel per image pixel; return RGB ints."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(W / 100, H / 100), dpi=100)
    canvas = FigureCanvasAgg(figure)
    ax = figure.add_axes([0, 0, 1, 1])
    draw(ax)
    ax.set_axis_off()
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].astype(int)


def test_block_plot_shows_a_negative_segment_in_blue_unless_positive_only():
    weights = np.full(16, 0.05)
    weights[5] = -1.0  # one segment strongly against the class
    explanation = _lime(weights)
    region = GRID == 5
    for render in (lambda **o: np.asarray(format_as_image(explanation, **o)).astype(int),
                   lambda **o: _render(lambda ax: plot(explanation, ax=ax, title=False, **o))):
        pixels = render()
        assert _blueish(pixels[region]) > 0.9 and _blueish(pixels[~region]) == 0
        assert _blueish(render(positive_only=True)) == 0
        assert np.abs(render(positive_only=True)[region] - 128).max() <= 1  # left as the plain grey image


def test_positive_only_is_checked_and_agrees_with_the_older_show_negative():
    explanation = _lime(np.linspace(-0.5, 0.5, 16))
    with pytest.raises(TypeError, match="positive_only"):
        plot(explanation, positive_only="no")
    with pytest.raises(ValueError, match="positive_only"):
        plot(explanation, positive_only=True, show_negative=True)
    a = np.asarray(format_as_image(explanation, "outline", show_negative=False))
    b = np.asarray(format_as_image(explanation, "outline", positive_only=True))
    np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- 3. titles that never overlap
def _overlaps(figure, axes):
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    boxes = [ax.title.get_window_extent(renderer) for ax in axes]
    return [(i, j) for i in range(len(boxes)) for j in range(i + 1, len(boxes)) if boxes[i].overlaps(boxes[j])]


def test_long_layer_paths_and_settings_do_not_run_into_the_next_title():
    layer = "backbone/stage_4/block_5/residual_branch/conv2_with_a_rather_long_descriptive_name"
    settings = dict(layer=layer, num_samples=123456, segmentation="felzenszwalb_with_custom_options",
                    n_segments=987654, kernel_width=0.123456789)
    row = [_gradient(_blob(k), method=f"method_with_a_long_name_{k}", **settings) for k in (1, 2, 3, 4)]
    for panel_size in (1.5, 3.0):
        figure = compare(row, panel_size=panel_size)
        panels = figure.axes[1:5]
        assert _overlaps(figure, figure.axes[:5]) == []
        for ax in panels:
            title = ax.get_title()
            assert "conv2_with" in title.replace("\n", "") and "backbone" not in title  # the layer's own name
            assert title.count("\n") >= 1  # settings on a line of their own
            assert ax.title.get_window_extent().width <= figure.bbox.width / 5  # wrapped to its column


def test_a_user_title_is_wrapped_too():
    ax = plot(_gradient(_blob()), title="word " * 40, figsize=(3, 3))
    assert ax.get_title().count("\n") >= 2


# ---------------------------------------------------------------- 4. constant maps
@pytest.mark.parametrize("value", [0.0, 2.5])
def test_a_constant_map_says_so_in_its_title_and_warns(value):
    explanation = _gradient(np.full((H, W), value))
    with pytest.warns(UserWarning, match="constant") as record:
        ax = plot(explanation, colorbar=True)
    assert f"map is constant ({value:g}): nothing to show" in ax.get_title()
    assert len(ax.figure.axes) == 1  # no invented colour bar
    if value == 0:
        assert "ReLU" in str(record[0].message)  # Grad-CAM's likely reason
    with pytest.warns(UserWarning, match="constant"):
        format_as_image(explanation)
    with pytest.warns(UserWarning, match="does not change"):
        figure = compare([dataclasses.replace(explanation, method="integrated_gradients", heatmap=np.zeros((H, W)))])
    assert "nothing to show" in figure.axes[1].get_title()


def test_a_map_with_values_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plot(_gradient(_blob()), colorbar=True)
        compare([_gradient(_blob()), _lime(np.linspace(-0.2, 0.5, 16))])


# ---------------------------------------------------------------- 5. sanity curves
def test_sanity_curves_that_coincide_have_distinct_markers_and_line_styles():
    same = np.array([[0.5, 0.4], [0.1, 0.2]])
    scores = {"spearman_abs": same, "spearman": same.copy(), "ssim": same * 0.5, "hog": same * 0.2}
    result = RandomizationResult(["head", "conv"], scores, np.zeros((2, 4, 4)), np.zeros((2, 2, 4, 4)),
                                 np.zeros((2, 4, 4, 3)), {"mode": "cascading", "method": "gradcam"})
    lines = [line for line in result.plot().axes[0].get_lines() if line.get_label() in scores]
    assert [line.get_label() for line in lines] == list(scores)
    styles = {(str(line.get_linestyle()), line.get_marker()) for line in lines}
    assert len(styles) == len(lines)
    assert len({line.get_marker() for line in lines}) == len(lines)
