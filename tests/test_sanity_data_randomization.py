"""Data randomisation (Adebayo et al. 1810.03292, section 4): permutation, controls, errors, the demo cache."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from superexplain.sanity import data_randomization


def _planted(n=64, seed=0):
    """16x16 grey images: class 0 has a bright square top-left, class 1 bottom-right."""
    rng = np.random.default_rng(seed)
    images = rng.random((n, 16, 16, 1)).astype(np.float32) * 0.5
    labels = np.arange(n) % 2
    images[labels == 0, 4:8, 4:8] += 0.5
    images[labels == 1, 8:12, 8:12] += 0.5
    return images, labels


def _least_squares(images, labels, seed):
    """'Training' in closed form: a linear Keras model with the min-norm least-squares weights onto one-hot labels.

    With fewer images than pixels the fit interpolates, so it memorises any labelling (train accuracy 1),
    and its saliency for class c is exactly |W[:, c]|: a known answer.
    """
    import keras

    model = keras.Sequential([keras.Input(images.shape[1:]), keras.layers.Flatten(), keras.layers.Dense(2)])
    model.layers[-1].set_weights([_weights(images, labels).astype(np.float32), np.zeros(2, np.float32)])
    return model


def _weights(images, labels):
    flat = images.reshape(len(images), -1).astype(np.float64)
    return np.linalg.lstsq(flat, np.eye(2)[labels], rcond=None)[0]


def _memoriser(log=None):
    """A numpy 'training' that memorises its labels exactly (a lookup table): train accuracy 1."""
    def build_and_train(images, labels, seed):
        if log is not None:
            log.append((images.copy(), labels.copy(), seed))
        table = {image.tobytes(): int(label) for image, label in zip(images, labels)}
        images[...] = 0.0  # a careless training function: must not reach the caller's arrays
        labels[...] = 0

        def model(x):
            out = np.zeros((len(x), 2), np.float32)
            for row, image in enumerate(np.asarray(x, np.float32)):
                out[row, table.get(image.tobytes(), 0)] = 1.0
            return out
        return model
    return build_and_train


@pytest.fixture(scope="module")
def planted():
    return _planted()


@pytest.fixture(scope="module")
def saliency_result(planted):
    return data_randomization(_least_squares, *planted, method="saliency", random_state=0)


def test_saliency_of_the_random_label_model_differs_from_the_true_label_model(planted, saliency_result):
    images, labels = planted
    assert saliency_result.train_accuracy == {"true": 1.0, "random": 1.0}
    assert saliency_result.params["targets"] == labels[:8].tolist()  # the true-label model's predictions
    # saliency of a linear model: |W[:, target]|, for both models (random labels: labels[permutation])
    w_true = _weights(images, labels)
    w_random = _weights(images, labels[saliency_result.params["permutation"]])
    for index, target in enumerate(labels[:8]):
        np.testing.assert_allclose(saliency_result.original[index], np.abs(w_true[:, target]).reshape(16, 16),
                                   rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(saliency_result.maps[index], np.abs(w_random[:, target]).reshape(16, 16),
                                   rtol=1e-4, atol=1e-6)
    means = saliency_result.mean()
    assert means["spearman_abs"] < 0.5 and means["ssim"] < 0.5
    assert saliency_result.scores["spearman_abs"].values["saliency"].shape == (8,)
    low, high = saliency_result.interval()["spearman_abs"]
    assert low <= means["spearman_abs"] <= high < 0.9


def test_the_edge_control_scores_exactly_one(saliency_result):
    for measure, result in saliency_result.scores.items():
        np.testing.assert_array_equal(result.values["edge"], 1.0, err_msg=measure)
    assert saliency_result.control() == {"spearman_abs": 1.0, "spearman": 1.0, "ssim": 1.0}


def test_same_seed_gives_identical_similarities_and_a_given_model_is_not_retrained(planted, saliency_result):
    images, labels = planted
    calls = []

    def counting(images, labels, seed):
        calls.append(seed)
        return _least_squares(images, labels, seed)

    again = data_randomization(counting, images, labels, method="saliency", model=_least_squares(images, labels, 0),
                               random_state=0)
    assert len(calls) == 1  # only the random-label model was trained
    np.testing.assert_array_equal(again.params["permutation"], saliency_result.params["permutation"])
    for measure in saliency_result.scores:
        np.testing.assert_array_equal(again.similarities(measure), saliency_result.similarities(measure))
    other = data_randomization(_least_squares, images, labels, method="saliency", random_state=1)
    assert not np.array_equal(other.similarities("spearman_abs"), saliency_result.similarities("spearman_abs"))


def test_labels_are_permuted_with_the_seed_and_the_users_arrays_are_untouched():
    images, labels = _planted(12)
    images_before, labels_before = images.copy(), labels.copy()
    log = []
    result = data_randomization(_memoriser(log), images, labels, method="edge", random_state=3)
    np.testing.assert_array_equal(images, images_before)
    np.testing.assert_array_equal(labels, labels_before)
    (true_images, true_labels, seed_a), (random_images, random_labels, seed_b) = log
    permutation = result.params["permutation"]
    np.testing.assert_array_equal(true_labels, labels)
    np.testing.assert_array_equal(random_labels, labels[permutation])
    np.testing.assert_array_equal(np.sort(permutation), np.arange(12))
    assert seed_a == seed_b  # the labels are the only difference between the two models
    np.testing.assert_array_equal(random_images, images)
    assert result.train_accuracy == {"true": 1.0, "random": 1.0}
    other = data_randomization(_memoriser(), images, labels, method="edge", random_state=4)
    assert not np.array_equal(other.params["permutation"], permutation)
    np.testing.assert_array_equal(data_randomization(_memoriser(), images, labels, method="edge",
                                                     random_state=3).params["permutation"], permutation)


def test_a_model_that_has_not_memorised_its_labels_is_flagged():
    images, labels = _planted(12)
    constant = lambda images, labels, seed: (lambda x: np.tile([1.0, 0.0], (len(x), 1)))
    with pytest.warns(UserWarning, match="not memorised"):
        result = data_randomization(constant, images, labels, method="edge", random_state=0)
    assert result.train_accuracy == {"true": 0.5, "random": 0.5}  # balanced labels, always class 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data_randomization(constant, images, labels, method="edge", min_train_accuracy=0.5, random_state=0)


def test_plot_shows_image_and_both_maps_per_row(saliency_result):
    import matplotlib.pyplot as plt

    figure = saliency_result.plot(max_images=2)
    assert len(figure.axes) == 6
    assert "spearman_abs" in figure.axes[2].get_title()
    plt.close("all")


def test_bad_arguments_are_rejected():
    images, labels = _planted(8)
    train = _memoriser()
    with pytest.raises(TypeError, match="build_and_train"):
        data_randomization("train", images, labels)
    with pytest.raises(TypeError, match="build_and_train returned"):
        data_randomization(lambda i, l, s: None, images, labels, method="edge")
    with pytest.raises(ValueError, match="one label per image"):
        data_randomization(train, images, labels[:5])
    with pytest.raises(ValueError, match="at least two classes"):
        data_randomization(train, images, np.zeros(8, int))
    with pytest.raises(TypeError, match="labels"):
        data_randomization(train, images, "circle")
    with pytest.raises(ValueError, match="whole class indices"):
        data_randomization(train, images, labels + 0.5)
    with pytest.raises(ValueError, match=r"images.*\(N, H, W, C\)"):
        data_randomization(train, images[0], labels)
    with pytest.raises(ValueError, match="similarity"):
        data_randomization(train, images, labels, similarity=("pearson",))
    with pytest.raises(ValueError, match="method"):
        data_randomization(train, images, labels, method="nope")
    with pytest.raises(ValueError, match="min_train_accuracy"):
        data_randomization(train, images, labels, min_train_accuracy=2.0)
    with pytest.raises(ValueError, match="explain_images"):
        data_randomization(train, images, labels, method="edge", explain_images=np.full((1, 16, 16, 1), np.nan))


def test_the_random_label_demo_model_is_cached_and_loaded_without_training(tmp_path, monkeypatch, keras):
    from superexplain.datasets import make_shapes, random_label_demo_model

    first = random_label_demo_model(seed=1, n_train=8, epochs=1, cache_dir=tmp_path)
    saved = list((tmp_path / "trained_on_labels").iterdir())
    assert len(saved) == 1 and saved[0].suffix == ".keras"  # one file, no temporary left behind

    def no_training(*args, **kwargs):
        raise AssertionError("the cached model should have been loaded, not trained")

    monkeypatch.setattr(keras.Model, "fit", no_training)
    second = random_label_demo_model(seed=1, n_train=8, epochs=1, cache_dir=tmp_path)
    for a, b in zip(first.model.get_weights(), second.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(first.labels, second.labels)
    np.testing.assert_array_equal(np.sort(first.labels), np.sort(make_shapes(8, seed=1).labels))
    assert first.train_accuracy == second.train_accuracy
    with pytest.raises(AssertionError, match="cached"):  # other settings: another key, so training
        random_label_demo_model(seed=1, n_train=8, epochs=2, cache_dir=tmp_path)


def test_train_on_labels_rejects_bad_input():
    from superexplain.datasets import train_on_labels

    images = np.zeros((4, 16, 16, 3), np.float32)
    with pytest.raises(ValueError, match="square RGB"):
        train_on_labels(images[..., :1], np.zeros(4, int), seed=0)
    with pytest.raises(ValueError, match="0..3"):
        train_on_labels(images, np.array([0, 1, 2, 7]), seed=0)
    with pytest.raises(TypeError, match="cache_dir"):
        train_on_labels(images, np.array([0, 1, 2, 3]), seed=0, cache_dir=3)
