"""The `explain` entry point: dispatch, the one-in-one-out rule, and bad input at the public door."""
import numpy as np
import pytest

import superexplain
from superexplain import Explanation


def test_every_registered_method_is_importable():
    import importlib

    registry = importlib.import_module("superexplain.explain").METHODS
    assert superexplain.available_methods() == list(registry)


def test_one_image_gives_one_explanation_and_a_batch_a_list(demo_model, demo_data):
    single = superexplain.explain(demo_model, demo_data.images[0], method="gradcam", verbose=0)
    assert isinstance(single, Explanation) and single.heatmap.shape == (64, 64)
    batch = superexplain.explain(demo_model, demo_data.images[:3], method="gradcam", verbose=0)
    assert isinstance(batch, list) and len(batch) == 3
    np.testing.assert_allclose(batch[0].heatmap, single.heatmap, rtol=1e-5, atol=1e-6)
    top = superexplain.explain(demo_model, demo_data.images[0], method="gradcam", top_labels=2, verbose=0)
    assert [e.target for e in top] == list(np.argsort(-demo_model(demo_data.images[:1]).numpy()[0])[:2])


def test_targets_by_class_name_reach_the_method(demo_model, demo_data):
    explanation = superexplain.explain(demo_model, demo_data.images[0], method="gradcam", target="cross", verbose=0)
    assert explanation.target == 3 and explanation.target_name == "cross"


def test_explain_does_not_modify_the_image(demo_model, demo_data):
    image = demo_data.images[1].copy()
    superexplain.explain(demo_model, image, method="lime", num_samples=50, random_state=0, verbose=0)
    np.testing.assert_array_equal(image, demo_data.images[1])


@pytest.mark.parametrize("method", ["gradcam", "lime"])
@pytest.mark.parametrize(
    "image, target, error, match",
    [
        (np.zeros((64, 64)), None, ValueError, "channel"),
        (np.zeros((64, 64, 4)), None, ValueError, "channel"),
        (np.zeros((32, 32, 3)), None, ValueError, "64x64"),
        (np.full((64, 64, 3), np.nan), None, ValueError, "NaN"),
        (np.zeros((0, 64, 64, 3)), None, ValueError, "empty batch"),
        (np.zeros((2, 2, 2, 2, 2)), None, ValueError, "shape"),
        (np.zeros((64, 64, 3)), 4, ValueError, "out of range"),
        (np.zeros((64, 64, 3)), "hexagon", ValueError, "not a known class name"),
    ],
)
def test_bad_input_is_reported_at_the_public_entry(demo_model, method, image, target, error, match):
    with pytest.raises(error, match=match):
        superexplain.explain(demo_model, image, method=method, target=target, num_samples=20, verbose=0) \
            if method == "lime" else superexplain.explain(demo_model, image, method=method, target=target, verbose=0)


def test_unknown_method_and_non_model_are_rejected(demo_data):
    with pytest.raises(ValueError, match="method must be one of"):
        superexplain.explain(lambda x: x, demo_data.images[0], method="shap-magic")
    with pytest.raises(TypeError, match="model must be a Keras model"):
        superexplain.explain("not a model object".split(), demo_data.images[0], method="lime")
