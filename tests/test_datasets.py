"""Planted-shapes data and the bundled demo model."""
import numpy as np
import pytest

from superexplain.datasets import CLASS_NAMES, make_shapes


def test_make_shapes_is_deterministic_and_masks_mark_the_object():
    a = make_shapes(12, size=48, seed=3)
    b = make_shapes(12, size=48, seed=3)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.labels, b.labels)
    assert not np.array_equal(make_shapes(12, size=48, seed=4).images, a.images)
    assert a.images.dtype == np.float32 and 0.0 <= a.images.min() and a.images.max() <= 1.0
    assert set(np.unique(a.labels)) <= set(range(len(CLASS_NAMES)))
    for image, mask in zip(a.images, a.masks):
        area = mask.mean()
        assert 0.005 < area < 0.5
        # the object is one flat colour (plus the small noise): low spread inside the mask
        inside = image[mask]
        assert np.all(inside.std(axis=0) < 0.05)


def test_object_area_follows_the_radius_range():
    small = make_shapes(20, size=64, seed=0, min_radius=4, max_radius=5).masks.mean()
    large = make_shapes(20, size=64, seed=0, min_radius=14, max_radius=15).masks.mean()
    assert large > 5 * small


@pytest.mark.parametrize("kwargs, error", [({"n": 0}, ValueError), ({"n": 2, "size": 8}, ValueError),
                                            ({"n": 2, "min_radius": 30}, ValueError), ({"n": "3"}, TypeError)])
def test_make_shapes_rejects_bad_arguments(kwargs, error):
    with pytest.raises(error):
        make_shapes(**kwargs)


def test_demo_model_is_accurate_on_fresh_held_out_images(demo_model):
    # seeds never used in training (train: 0, validation: 10000)
    held_out = make_shapes(600, seed=987_654)
    predictions = demo_model.predict(held_out.images, verbose=0, batch_size=128).argmax(axis=1)
    accuracy = float((predictions == held_out.labels).mean())
    assert accuracy >= 0.97, accuracy


def test_demo_model_carries_class_names_and_a_softmax_head(demo_model):
    from superexplain.models import as_predictor

    predictor = as_predictor(demo_model)
    assert predictor.class_names == list(CLASS_NAMES)
    assert predictor.output_activation == "softmax" and predictor.has_logits
    assert predictor.input_shape == (64, 64, 3)


def test_demo_model_weights_are_small_and_load_into_the_architecture():
    import os

    import numpy as np

    from superexplain.datasets import DEMO_WEIGHTS_PATH, build_demo_model, load_demo_model

    assert os.path.getsize(DEMO_WEIGHTS_PATH) < 1_000_000
    stored = np.load(DEMO_WEIGHTS_PATH)
    model = load_demo_model()
    assert [w.shape for w in model.get_weights()] == [stored[f"{i:03d}"].shape for i in range(len(stored.files))]
    assert len(build_demo_model().get_weights()) == len(stored.files)
