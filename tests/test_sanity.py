"""Model-parameter randomisation (Adebayo et al. 1810.03292): re-initialisation, modes, controls, errors."""
from __future__ import annotations

import numpy as np
import pytest

from superexplain.sanity import model_randomization


@pytest.fixture(scope="module")
def demo_images(demo_data):
    return demo_data.images[:4]


def test_gradcam_similarity_falls_below_half_once_all_layers_are_randomised(demo_model, demo_images):
    result = model_randomization(demo_model, demo_images, method="gradcam", random_state=0)
    assert result.layers[0] == "predictions" and len(result.layers) == 8
    assert result.scores["spearman_abs"].shape == (8, len(demo_images))
    assert result.scores["spearman_abs"][-1].mean() < 0.5
    assert result.scores["ssim"][-1].mean() < 0.5
    # the output layer alone already changes every map (Grad-CAM's weights are its kernel's column)
    assert result.scores["spearman_abs"][0].max() < 0.95


def test_edge_detector_control_stays_at_one(demo_model, demo_images):
    result = model_randomization(demo_model, demo_images, method="edge", random_state=0)
    for name, values in result.scores.items():
        np.testing.assert_allclose(values, 1.0, atol=1e-12, err_msg=name)


def test_the_users_model_is_left_untouched(softmax_cnn):
    before = [w.copy() for w in softmax_cnn.get_weights()]
    images = np.random.default_rng(0).random((2, 16, 16, 3)).astype(np.float32)
    model_randomization(softmax_cnn, images, method="gradcam", similarity=("spearman",), random_state=1)
    for old, new in zip(before, softmax_cnn.get_weights()):
        np.testing.assert_array_equal(old, new)


def _recorder(trained_model, log):
    """A 'method' that records which layers differ from the trained model when it is called."""
    trained = {layer.name: [w.copy() for w in layer.get_weights()] for layer in trained_model.layers if layer.weights}

    def method(model, images, targets=None):
        weighted = [layer for layer in model.layers if layer.weights]
        changed = {layer.name for layer in weighted
                   if any(not np.array_equal(a, b) for a, b in zip(layer.get_weights(), trained[layer.name]))}
        log.append((changed, {layer.name: [w.copy() for w in layer.get_weights()] for layer in weighted}))
        return [np.random.default_rng(len(log)).random(images.shape[1:3]) for _ in images]

    return method


@pytest.mark.parametrize("mode", ["cascading", "independent"])
def test_layers_are_randomised_top_down_cumulatively_or_one_at_a_time(softmax_cnn, mode):
    log = []
    images = np.random.default_rng(0).random((1, 16, 16, 3)).astype(np.float32)
    result = model_randomization(softmax_cnn, images, method=_recorder(softmax_cnn, log), mode=mode,
                                 similarity=("spearman",), random_state=2)
    assert result.layers == ["head", "conv_b", "conv_a"]
    changed = [entry[0] for entry in log]
    assert changed[0] == set()  # the original explanation comes from the trained weights
    if mode == "cascading":
        assert changed[1:] == [{"head"}, {"head", "conv_b"}, {"head", "conv_b", "conv_a"}]
    else:
        assert changed[1:] == [{"head"}, {"conv_b"}, {"conv_a"}]


def test_reinitialisation_uses_each_layers_own_initialisers(keras):
    keras.utils.set_random_seed(4)
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, kernel_initializer=keras.initializers.RandomNormal(stddev=5.0),
                            bias_initializer=keras.initializers.Constant(-0.25), name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, kernel_initializer=keras.initializers.Constant(0.3), name="head")(x)
    model = keras.Model(inputs, outputs)
    for layer in model.layers:  # "train": move every weight away from its initial value
        layer.set_weights([w + 1.5 for w in layer.get_weights()])
    log = []
    images = np.random.default_rng(0).random((1, 8, 8, 1)).astype(np.float32)
    model_randomization(model, images, method=_recorder(model, log), similarity=("spearman",), random_state=3)
    final = log[-1][1]
    np.testing.assert_array_equal(final["head"][0], np.float32(0.3))
    np.testing.assert_array_equal(final["head"][1], 0.0)  # Dense's default bias initialiser: zeros
    gamma, beta, moving_mean, moving_variance = final["bn"]
    np.testing.assert_array_equal(gamma, 1.0)
    np.testing.assert_array_equal(beta, 0.0)
    np.testing.assert_array_equal(moving_mean, 0.0)
    np.testing.assert_array_equal(moving_variance, 1.0)
    kernel, bias = final["conv"]
    assert 3.0 < kernel.std() < 7.0 and abs(kernel.mean()) < 2.5
    np.testing.assert_array_equal(bias, -0.25)


def test_permutation_keeps_each_variables_values(softmax_cnn):
    log = []
    images = np.random.default_rng(0).random((1, 16, 16, 3)).astype(np.float32)
    model_randomization(softmax_cnn, images, method=_recorder(softmax_cnn, log), reinit="permute",
                        similarity=("spearman",), random_state=5)
    trained = log[0][1]["conv_b"][0]
    permuted = log[-1][1]["conv_b"][0]
    assert not np.array_equal(trained, permuted)
    np.testing.assert_array_equal(np.sort(trained.ravel()), np.sort(permuted.ravel()))


def test_same_seed_gives_the_same_randomised_maps(softmax_cnn):
    images = np.random.default_rng(0).random((2, 16, 16, 3)).astype(np.float32)
    run = lambda seed: model_randomization(softmax_cnn, images, method="gradcam", similarity=("spearman",),
                                           random_state=seed).maps
    np.testing.assert_array_equal(run(7), run(7))
    assert not np.array_equal(run(7), run(8))


def test_plot_draws_curves_and_one_thumbnail_per_step(softmax_cnn):
    import matplotlib.pyplot as plt

    images = np.random.default_rng(0).random((2, 16, 16, 3)).astype(np.float32)
    result = model_randomization(softmax_cnn, images, method="gradcam", random_state=0)
    figure = result.plot()
    assert len(figure.axes) == 1 + len(result.layers) + 1
    assert len(figure.axes[0].get_lines()) >= 4
    plt.close("all")


def test_a_layer_without_initialisers_is_named_in_the_error(keras):
    @keras.saving.register_keras_serializable(package="superexplain_tests")
    class Scale(keras.layers.Layer):
        def build(self, input_shape):
            self.factor = self.add_weight(shape=(), initializer="ones", name="factor")

        def call(self, x):
            return x * self.factor

    inputs = keras.Input((8, 8, 1))
    x = Scale(name="scale")(inputs)
    outputs = keras.layers.Dense(2)(keras.layers.Flatten()(x))
    model = keras.Model(inputs, outputs)
    images = np.zeros((1, 8, 8, 1), np.float32)
    with pytest.raises(ValueError, match=r"'scale'.*'factor'"):
        model_randomization(model, images, method="edge", random_state=0)
    # permutation needs no initialiser
    result = model_randomization(model, images, method="edge", reinit="permute", random_state=0)
    assert result.layers[-1] == "scale"


def test_bad_arguments_are_rejected(softmax_cnn):
    images = np.zeros((1, 16, 16, 3), np.float32)
    with pytest.raises(ValueError, match="mode"):
        model_randomization(softmax_cnn, images, mode="random")
    with pytest.raises(ValueError, match="similarity"):
        model_randomization(softmax_cnn, images, similarity=("pearson",))
    with pytest.raises(ValueError, match="reinit"):
        model_randomization(softmax_cnn, images, reinit="zeros")
    with pytest.raises(ValueError, match="not layers with weights"):
        model_randomization(softmax_cnn, images, layers=["nope"])
    with pytest.raises(TypeError, match="Keras model"):
        model_randomization(lambda x: x.mean(axis=(1, 2)), images)
    with pytest.raises(ValueError, match="16x16"):
        model_randomization(softmax_cnn, np.zeros((1, 8, 8, 3), np.float32))


def test_a_model_that_cannot_be_cloned_is_reported(keras):
    class Net(keras.Model):
        def __init__(self, units):
            super().__init__()
            self.flat = keras.layers.Flatten()
            self.dense = keras.layers.Dense(units)

        def call(self, x):
            return self.dense(self.flat(x))

    model = Net(3)
    model(np.zeros((1, 8, 8, 1), np.float32))
    with pytest.raises(ValueError, match="clone_model failed on Net"):
        model_randomization(model, np.zeros((1, 8, 8, 1), np.float32), method="edge")


def test_lime_under_randomisation_changes_and_is_reproducible(demo_model, demo_images):
    run = lambda: model_randomization(demo_model, demo_images[:1], method="lime", layers=["predictions", "conv1"],
                                      similarity=("spearman_abs",), random_state=3, num_samples=60)
    first, second = run(), run()
    assert first.layers == ["predictions", "conv1"]
    np.testing.assert_array_equal(first.maps, second.maps)
    assert first.scores["spearman_abs"][-1, 0] < 0.9
