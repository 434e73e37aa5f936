"""The layer advisor against truth by construction: a trained CNN whose last feature map is rolled by half the grid."""
from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

import superexplain
from superexplain.gradcam import rank_layers


@pytest.fixture(scope="module")
def rolled(demo_model, keras):
    """The demo CNN with its last feature map rolled by half the 8x8 grid before global pooling.

    Pooling does not care where features are, so the predictions are the demo's exactly; but the
    rolled layer's CAM points half a grid away from the object, while the layers before it point at it.
    """
    inputs = keras.Input((64, 64, 3))
    x = inputs
    for layer in demo_model.layers[1:]:
        x = layer(x)
        if layer.name == "last_conv":
            break
    moved = keras.layers.Lambda(lambda t: keras.ops.roll(keras.ops.roll(t, 4, axis=1), 4, axis=2), name="rolled")(x)
    outputs = demo_model.get_layer("predictions")(demo_model.get_layer("gap")(moved))
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def shapes():
    from superexplain.datasets import make_shapes

    return make_shapes(40, seed=31)


def test_the_rolled_model_predicts_what_the_demo_model_does(rolled, demo_model, shapes):
    np.testing.assert_allclose(rolled.predict(shapes.images, verbose=0), demo_model.predict(shapes.images, verbose=0),
                               atol=1e-6)


def test_the_advisor_ranks_the_layers_before_the_roll_first(rolled, shapes):
    calibration = shapes.images[:12]  # held out from the pointing game below
    ranking = rank_layers(rolled, calibration)
    assert "rolled" in ranking.layers and "last_conv" in ranking.layers
    assert ranking.automatic == "rolled"  # the last spatial layer: what "use the last layer" would pick
    assert ranking.best != "rolled"
    assert ranking.layers.index("last_conv") < ranking.layers.index("rolled")
    # the roll moves the map off the object: revealing its top pixels brings little of the logit back
    assert ranking.layers[-1] == "rolled"
    assert ranking.values.shape == (len(ranking.layers), 12)
    assert np.all(np.diff(ranking.scores) <= 0)  # insertion: higher is better, best first
    table = repr(ranking)
    assert table.splitlines()[0].startswith("gradcam layers ranked by insertion AUC (logit)")
    assert "automatic layer" in table


def test_layer_best_wins_the_pointing_game_where_the_rolled_layer_loses(rolled, shapes):
    from superexplain.metrics import pointing_game

    images, masks = shapes.images[12:], shapes.masks[12:]
    best = superexplain.explain(rolled, images, method="gradcam", layer="best", verbose=0)
    last = superexplain.explain(rolled, images, method="gradcam", layer="rolled", verbose=0)
    assert best[0].params["layer"] != "rolled"
    record = best[0].params["layer_ranking"]
    assert record["metric"] == "insertion" and record["layers"][0]["layer"] == best[0].params["layer"]
    assert {row["layer"] for row in record["layers"]} >= {"rolled", "last_conv"}
    # on the object 40-75% of the time at the layers before the roll, never at the rolled one
    assert pointing_game(best, masks).score >= 0.4
    assert pointing_game(last, masks).score <= 0.1


def test_every_candidate_map_from_one_pass_equals_its_own_explain_run(demo_model, shapes):
    images = shapes.images[:3]
    for method in ("gradcam", "gradcam++", "layercam", "hirescam"):
        ranking = rank_layers(demo_model, images, method=method, candidates=["relu2", "pool3", "last_conv"])
        for layer in ranking.layers:
            alone = superexplain.explain(demo_model, images, method=method, layer=layer, verbose=0)
            for mine, reference in zip(ranking.explanations[layer], alone):
                assert mine.target == reference.target
                np.testing.assert_allclose(mine.feature_map, reference.feature_map, rtol=1e-4, atol=1e-6)
                np.testing.assert_allclose(mine.heatmap, reference.heatmap, rtol=1e-4, atol=1e-6)


def test_default_candidates_are_stage_ends_and_the_last_spatial_layers(demo_model, rolled):
    from superexplain.gradcam.layer_candidates import default_candidates

    # the ends of the 64, 32 and 16 pixel stages and of the 8-pixel one, and the last four
    assert [c.name for c in default_candidates(demo_model)] == ["relu1", "relu2", "bn3", "relu3", "pool3", "last_conv"]
    assert [c.name for c in default_candidates(rolled)][-2:] == ["last_conv", "rolled"]


def test_a_class_map_layer_is_marked_and_the_automatic_one_warns_once(keras):
    from superexplain.gradcam.class_maps import class_map_layers

    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="features")(inputs)
    x = keras.layers.Conv2D(3, 1, name="class_map")(x)
    outputs = keras.layers.Activation("softmax")(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, outputs)
    images = np.random.default_rng(0).random((2, 16, 16, 3)).astype("float32")
    ranking = rank_layers(model, images, metric="deletion")
    assert ranking.class_maps == {"class_map"} and "class map" in repr(ranking)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        superexplain.explain(model, images, method="gradcam", verbose=0)
        superexplain.explain(model, images, method="gradcam", verbose=0)
        superexplain.explain(model, images, method="gradcam", layer="class_map", verbose=0)  # given: no warning
    messages = [str(w.message) for w in caught if "class map" in str(w.message)]
    assert len(messages) == 1 and 'layer="best"' in messages[0]
    # a dense head after the same convolution makes it an ordinary layer
    head = keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x))
    assert class_map_layers(keras.Model(inputs, head), [superexplain.gradcam.resolve_layer(model, "class_map")]) == set()


def test_the_occlusion_metric_and_the_plot(demo_model, shapes):
    ranking = rank_layers(demo_model, shapes.images[:2], metric="occlusion", candidates=["relu1", "last_conv"])
    assert ranking.higher_is_better and np.all(np.diff(ranking.scores) <= 0)
    assert np.all(np.abs(ranking.values) <= 1.0)
    figure = ranking.plot()
    titles = [ax.get_title() for ax in figure.axes]
    assert sum("occlusion" in title for title in titles) == 4  # 2 images x 2 layers
    import matplotlib.pyplot as plt

    plt.close(figure)


@pytest.mark.parametrize("arguments, error, message", [
    ({"method": "saliency"}, ValueError, "method"),
    ({"metric": "accuracy"}, ValueError, "metric"),
    ({"candidates": "last_conv"}, TypeError, "candidates"),
    ({"candidates": []}, ValueError, "candidates"),
    ({"candidates": ["last_conv", "last_conv"]}, ValueError, "more than once"),
    ({"candidates": ["nope"]}, ValueError, "not a layer"),
])
def test_bad_input_names_the_argument(demo_model, shapes, arguments, error, message):
    with pytest.raises(error, match=message):
        rank_layers(demo_model, shapes.images[:1], **arguments)


def test_layer_best_is_refused_where_it_cannot_rank(demo_model, shapes):
    with pytest.raises(ValueError, match='layer="best"'):
        superexplain.explain(demo_model, shapes.images[:1], method="gradcam", layer="best", top_labels=2, verbose=0)


def test_explaining_at_many_layers_in_a_row_sends_no_retracing_warning(demo_model, shapes):
    import logging

    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    handler = Keep(level=logging.WARNING)
    logger = logging.getLogger("tensorflow")
    logger.addHandler(handler)
    try:
        for layer in ("conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "conv3", "relu3", "pool3", "last_conv"):
            superexplain.explain(demo_model, shapes.images[:1], method="gradcam", layer=layer, verbose=0)
    finally:
        logger.removeHandler(handler)
    assert not [message for message in records if "retracing" in message]


def test_the_command_line_ranks_on_held_out_images_and_explains_at_the_winner(demo_model, shapes, tmp_path, capsys):
    import json

    from PIL import Image

    from superexplain import Explanation
    from superexplain.cli import main

    demo_model.save(tmp_path / "model.keras")
    for folder, first in (("images", 12), ("calibration", 0)):
        (tmp_path / folder).mkdir()
        for i in range(first, first + 3):
            pixels = np.round(shapes.images[i] * 255).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / folder / f"shape_{i}.png")
    out = tmp_path / "out"
    status = main(["explain", str(tmp_path / "model.keras"), str(tmp_path / "images"), "--layer", "best",
                   "--calibrate", str(tmp_path / "calibration"), "--out", str(out), "--format", "json", "--json"])
    assert status == 0, capsys.readouterr().err
    summary = json.loads(capsys.readouterr().out)
    ranking = json.loads((out / "layer_ranking.json").read_text())
    assert summary["layer_ranking"] == ranking
    assert [os.path.basename(p) for p in ranking["ranked_on"]] == [f"shape_{i}.png" for i in range(3)]
    best = ranking["layers"][0]["layer"]
    files = sorted((out / "explanations").glob("*.npz"))
    assert len(files) == 3 and all(Explanation.load(f).params["layer"] == best for f in files)
    assert main(["explain", str(tmp_path / "model.keras"), str(tmp_path / "images"), "--calibrate",
                 str(tmp_path / "calibration"), "--out", str(tmp_path / "other")]) == 2
    assert "--calibrate applies to --layer best" in capsys.readouterr().err


def test_a_subclassed_model_is_ranked_over_the_candidates_it_is_given(demo_model, shapes, keras):
    class Wrapped(keras.Model):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def call(self, x):
            return self.net(x)

    model = Wrapped(demo_model)
    model(shapes.images[:1])
    images = shapes.images[:3]
    ranking = rank_layers(model, images, candidates=["net.relu2", "net.last_conv"])
    assert sorted(ranking.layers) == ["net.last_conv", "net.relu2"] and np.all(np.isfinite(ranking.values))
    alone = superexplain.explain(model, images, method="gradcam", layer="net.last_conv", verbose=0)
    for mine, reference in zip(ranking.explanations["net.last_conv"], alone):
        np.testing.assert_allclose(mine.heatmap, reference.heatmap, rtol=1e-5, atol=1e-7)
    with pytest.raises(TypeError, match="subclassed model has no graph"):
        rank_layers(model, images)
