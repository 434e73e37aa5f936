"""The `explain` entry point: dispatch, the one-in-one-out rule, and bad input at the public door."""
import numpy as np
import pytest

import superexplain
from superexplain import Explanation


def test_every_registered_method_is_importable():
    import importlib

    registry = importlib.import_module("superexplain.registry").METHODS
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


# ---------------------------------------------------------------- the input contract (issue 19, section 3)
GRID = {"method": "grid", "n_segments": 4}


def _mean_model(batch):
    return batch.mean(axis=(1, 2))


@pytest.mark.parametrize("method, options", [("gradcam", {}), ("saliency", {}), ("lime", {"num_samples": 20}),
                                             ("occlusion", {})])
def test_target_errors_name_target_as_the_user_wrote_it(demo_model, demo_data, method, options):
    with pytest.raises(ValueError, match=r"^target=99 is out of range: the model has 4 classes"):
        superexplain.explain(demo_model, demo_data.images[0], method=method, target=99, verbose=0, **options)
    with pytest.raises(ValueError, match=r"^target\[1\]=99 is out of range"):
        superexplain.explain(demo_model, demo_data.images[:2], method=method, target=[0, 99], verbose=0, **options)


def test_target_errors_name_target_for_a_callable_whose_classes_are_learnt_on_the_first_call():
    image = np.random.default_rng(0).random((8, 8, 3))
    with pytest.raises(ValueError, match=r"^target=5 is out of range: the model has 3 classes"):
        superexplain.explain(_mean_model, image, method="occlusion", target=5, segmentation=GRID, verbose=0)
    with pytest.raises(TypeError, match=r"^target must be None, an int, a class name.*got float 1.5"):
        superexplain.explain(_mean_model, image, method="occlusion", target=1.5, segmentation=GRID,
                             verbose=0)


def test_gradcam_class_keeps_saying_targets(demo_model, demo_data):
    with pytest.raises(ValueError, match=r"^targets=99 is out of range"):
        superexplain.GradCAM(demo_model).explain(demo_data.images[0], targets=99, verbose=0)


def test_target_and_top_labels_together_are_refused_at_the_door(demo_model, demo_data):
    with pytest.raises(ValueError, match=r"^give either target or top_labels, not both; got target=1 and top_labels=2"):
        superexplain.explain(demo_model, demo_data.images[0], target=1, top_labels=2, verbose=0)


def test_user_image_shape_is_reported_not_an_internal_reshape(demo_model):
    with pytest.raises(ValueError, match=r"^image must have 3 channels for this model; got shape \(5, 5\)$"):
        superexplain.explain(demo_model, np.zeros((5, 5)), verbose=0)


def test_channels_first_image_is_refused_with_moveaxis(demo_model, demo_data):
    channels_first = np.moveaxis(demo_data.images[0], -1, 0)
    with pytest.raises(ValueError, match=r"\(3, 64, 64\) looks like one channels-first image.*np\.moveaxis\(image"):
        superexplain.explain(demo_model, channels_first, verbose=0)
    fixed = superexplain.explain(demo_model, np.moveaxis(channels_first, 0, -1), verbose=0)
    assert isinstance(fixed, Explanation)


def test_batch_argument_decides_an_ambiguous_rank3_array_for_a_callable():
    stack = np.random.default_rng(1).random((3, 8, 8))
    with pytest.raises(ValueError, match=r"ambiguous.*batch=True"):
        superexplain.explain(_mean_model, stack, method="occlusion", segmentation=GRID, verbose=0)
    explanations = superexplain.explain(_mean_model, stack, method="occlusion", segmentation=GRID, batch=True,
                                        verbose=0)
    assert isinstance(explanations, list) and len(explanations) == 3
    for explanation, image in zip(explanations, stack):
        assert explanation.image.shape == (8, 8, 1)
        np.testing.assert_allclose(explanation.image[:, :, 0], image, rtol=1e-6)
    with pytest.raises(ValueError, match=r"shape \(2, 8, 8, 3\) is a batch.*batch=False"):
        superexplain.explain(_mean_model, np.zeros((2, 8, 8, 3)), method="occlusion", batch=False, verbose=0)


def test_float_image_for_a_uint8_model_is_refused_at_the_public_entry(keras):
    inputs = keras.Input((8, 8, 3), dtype="uint8")
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(x))
    model = keras.Model(inputs, outputs)
    with pytest.raises(ValueError, match=r"^image holds fractional values \(e.g. 0.5\).*uint8"):
        superexplain.explain(model, np.full((8, 8, 3), 0.5), method="occlusion", segmentation=GRID, verbose=0)


@pytest.mark.parametrize("method, options", [
    ("rise", {"num_masks": 20}),
    ("occlusion", {"segmentation": GRID}),
    ("lime", {"num_samples": 30, "segmentation": GRID, "convergence": True}),
    ("kernelshap", {"num_samples": 30, "segmentation": GRID}),
])
def test_batch_size_bounds_every_model_call(method, options):
    sizes = []

    def model(batch):
        sizes.append(len(batch))
        return batch.mean(axis=(1, 2))

    images = np.random.default_rng(2).random((10, 8, 8, 3))
    superexplain.explain(model, images, method=method, batch_size=3, random_state=0, verbose=0, **options)
    assert sizes and max(sizes) <= 3
