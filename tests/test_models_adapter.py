"""The model adapter: Keras models, files and callables become one batched Predictor."""
import numpy as np
import pytest
from scipy.special import softmax

from superexplain.models import Predictor, as_predictor


def test_logits_of_a_dense_softmax_head_reproduce_the_output(softmax_cnn, rng):
    predictor = as_predictor(softmax_cnn)
    images = rng.random((7, 16, 16, 3)).astype(np.float32)
    probabilities = predictor.predict(images)
    logits = predictor.predict(images, output="logits")
    assert predictor.output_activation == "softmax" and predictor.has_logits
    np.testing.assert_allclose(softmax(logits.astype(np.float64), axis=1), probabilities, atol=1e-6)
    # independent reference: the head's kernel applied to the pooled features
    import keras

    features = keras.Model(softmax_cnn.inputs[0], softmax_cnn.get_layer("head").input)(images).numpy()
    kernel, bias = softmax_cnn.get_layer("head").get_weights()
    np.testing.assert_allclose(logits, features @ kernel + bias, rtol=1e-5, atol=1e-6)


def test_logits_follow_the_weights_after_the_graph_was_built(keras, rng):
    # a regression: the Dense head's kernel was frozen into the logits graph when it was first built,
    # so re-initialising the output layer (the randomisation check's first step) left the logits as they were
    inputs = keras.Input((2, 3, 1))
    flat = keras.layers.Flatten()(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="head")(flat))
    predictor = as_predictor(model)
    x = rng.random((4, 2, 3, 1)).astype(np.float32)
    predictor.predict(x, output="logits")  # builds and caches the logits graph
    kernel, bias = rng.normal(size=(6, 3)).astype(np.float32), rng.normal(size=3).astype(np.float32)
    model.get_layer("head").set_weights([kernel, bias])
    np.testing.assert_allclose(predictor.predict(x, output="logits"), x.reshape(4, 6) @ kernel + bias,
                               rtol=1e-5, atol=1e-6)


def test_separate_softmax_layer_and_nested_model_expose_logits(keras, rng):
    keras.utils.set_random_seed(0)
    inner = keras.Sequential([keras.Input((6, 6, 2)), keras.layers.Flatten(), keras.layers.Dense(3),
                              keras.layers.Softmax()], name="inner")
    inputs = keras.Input((6, 6, 2))
    outer = keras.Model(inputs, inner(keras.layers.Identity()(inputs)))
    images = rng.random((4, 6, 6, 2)).astype(np.float32)
    for model in (inner, outer):
        predictor = as_predictor(model)
        assert predictor.output_activation == "softmax"
        logits = predictor.predict(images, output="logits")
        np.testing.assert_allclose(softmax(logits, axis=1), model(images).numpy(), atol=1e-6)
        # logits are not a per-row shift of log-probabilities' trivial copy: they differ from log p
        assert not np.allclose(logits, np.log(model(images).numpy()))


def test_batched_prediction_equals_one_call_and_does_not_depend_on_batch_size(softmax_cnn, rng):
    images = rng.random((10, 16, 16, 3)).astype(np.float32)
    expected = softmax_cnn(images).numpy()
    for batch_size in (1, 3, 64):
        np.testing.assert_allclose(as_predictor(softmax_cnn, batch_size=batch_size).predict(images),
                                   expected, rtol=1e-5, atol=1e-7)


def test_linear_output_model_has_equal_output_and_logits(keras, rng):
    model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(2)])
    predictor = as_predictor(model)
    images = rng.random((3, 4, 4, 1))
    assert predictor.output_activation == "linear"
    np.testing.assert_array_equal(predictor.predict(images), predictor.predict(images, output="logits"))


def test_model_file_round_trip(softmax_cnn, tmp_path, rng):
    path = tmp_path / "m.keras"
    softmax_cnn.save(path)
    images = rng.random((2, 16, 16, 3))
    np.testing.assert_allclose(as_predictor(str(path)).predict(images), softmax_cnn(images).numpy(), atol=1e-6)


def test_callable_model_and_class_names(rng):
    predictor = as_predictor(lambda x: x.mean(axis=(1, 2)), class_names={0: "r", 2: "b"})
    assert predictor.class_names == ["r", "class_1", "b"]
    scores = predictor.predict(rng.random((5, 3, 3, 3)))
    assert scores.shape == (5, 3) and predictor.num_classes == 3
    assert predictor.resolve_targets("b", scores) == [[2]] * 5


def test_class_names_are_read_from_the_model_and_checked(softmax_cnn):
    with pytest.raises(ValueError, match="class_names has 2 names but the model outputs 5"):
        as_predictor(softmax_cnn, class_names=["a", "b"])
    names = ["a", "b", "c", "d", "e"]
    assert as_predictor(softmax_cnn, class_names=names).class_name(4) == "e"


def test_resolve_targets_forms(softmax_cnn, rng):
    predictor = as_predictor(softmax_cnn, class_names=list("abcde"))
    scores = rng.random((3, 5))
    assert predictor.resolve_targets(None, scores) == [[int(np.argmax(r))] for r in scores]
    assert predictor.resolve_targets(None, scores, top_labels=2) == [list(np.argsort(-r)[:2]) for r in scores]
    assert predictor.resolve_targets([0, "c", [1, "e"]], scores) == [[0], [2], [1, 4]]
    with pytest.raises(ValueError, match="2 entries but 3 image"):
        predictor.resolve_targets([0, 1], scores)
    with pytest.raises(ValueError, match="out of range"):
        predictor.resolve_targets(9, scores)
    with pytest.raises(ValueError, match="not a known class name"):
        predictor.resolve_targets("zebra", scores)
    with pytest.raises(ValueError, match="either targets or top_labels"):
        predictor.resolve_targets(1, scores, top_labels=2)


@pytest.mark.parametrize(
    "images, match",
    [
        (np.zeros((16, 16, 1)), "3 channel"),
        (np.zeros((2, 8, 8, 3)), "16x16 pixels"),
        (np.zeros((0, 16, 16, 3)), "empty batch"),
        (np.full((16, 16, 3), np.nan), "NaN"),
    ],
)
def test_images_are_checked_against_the_model_input(softmax_cnn, images, match):
    with pytest.raises(ValueError, match=match):
        as_predictor(softmax_cnn).predict(images)


def test_not_a_model_is_rejected():
    with pytest.raises(TypeError, match="model must be a Keras model"):
        Predictor(42)


def test_model_path_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        as_predictor(str(tmp_path / "missing.keras"))
    bogus = tmp_path / "bogus.keras"
    bogus.write_text("not a model")
    with pytest.raises(ValueError, match="could not load a Keras model"):
        as_predictor(str(bogus))
    with pytest.raises(ValueError, match="not a TensorFlow SavedModel"):
        as_predictor(str(tmp_path))


@pytest.mark.parametrize(
    "function, error, match",
    [
        (lambda x: np.zeros((len(x) + 1, 2)), ValueError, r"shape \(N, classes\)"),
        (lambda x: np.full((len(x), 2), np.nan), ValueError, "NaN or infinite scores"),
        (lambda x: np.array([["a"] * 2] * len(x)), TypeError, "numeric scores"),
    ],
)
def test_callable_returning_bad_scores_is_reported(function, error, match):
    with pytest.raises(error, match=match):
        as_predictor(function).predict(np.zeros((2, 3, 3, 3)))


def test_callable_that_raises_reports_the_batch(rng):
    def flaky(batch):
        if flaky.calls == 1:
            raise MemoryError("out of memory")
        flaky.calls += 1
        return np.zeros((len(batch), 2))

    flaky.calls = 0
    with pytest.raises(RuntimeError, match="MemoryError on batch 1"):
        as_predictor(flaky, batch_size=2).predict(rng.random((4, 3, 3, 3)))


def test_gradient_scores_need_a_keras_model():
    with pytest.raises(TypeError, match="perturbation method"):
        as_predictor(lambda x: x).score_function()


def test_prediction_does_not_modify_input(softmax_cnn, rng):
    images = rng.random((2, 16, 16, 3)).astype(np.float32)
    before = images.copy()
    as_predictor(softmax_cnn).predict(images)
    np.testing.assert_array_equal(images, before)


def test_subclassed_model_predicts_through_the_adapter(keras, rng):
    class TinyNet(keras.Model):
        def __init__(self):
            super().__init__()
            self.flatten = keras.layers.Flatten()
            self.dense = keras.layers.Dense(3)

        def call(self, x):
            return self.dense(self.flatten(x))

    model = TinyNet()
    images = rng.random((4, 5, 5, 3)).astype(np.float32)
    model(images)  # build
    predictor = as_predictor(model)
    assert predictor.output_activation == "unknown" and not predictor.has_logits
    np.testing.assert_allclose(predictor.predict(images), model(images).numpy(), rtol=1e-6, atol=1e-6)


def test_explained_models_are_freed_once_the_user_drops_them(keras, rng):
    import gc
    import weakref

    model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(2),
                              keras.layers.Softmax()])
    as_predictor(model).predict(rng.random((2, 4, 4, 1)), output="logits")
    assert as_predictor(model)._logits_fn is as_predictor(model)._logits_fn  # built once, reused
    reference = weakref.ref(model)
    del model
    gc.collect()
    assert reference() is None


def test_fastest_batch_size_picks_the_least_time_per_image():
    import time

    # a model whose cost per call is set by its batch size: per image 10, 2.5, 0.625 and 1.25 ms
    cost = {8: 0.08, 16: 0.04, 32: 0.02, 64: 0.08}
    calls = []

    def model(batch):
        calls.append(len(batch))
        time.sleep(cost[len(batch)])
        return batch.mean(axis=(1, 2))

    image = np.linspace(0, 1, 4 * 4 * 3, dtype=np.float32).reshape(4, 4, 3)
    before = image.copy()
    assert as_predictor(model).fastest_batch_size(image, candidates=(64, 8, 32, 16), repeat=1) == 32
    # smallest first, a warm-up call each, then one timing over at least 64 images: 8 calls of 8, 4 of 16, ...
    assert calls == [8] * (1 + 8) + [16] * (1 + 4) + [32] * (1 + 2) + [64] * (1 + 1)
    np.testing.assert_array_equal(image, before)

    # the search stops after two candidates in a row slower than the best: 128 and 256 are never run
    cost.update({8: 0.02, 16: 0.01, 32: 0.04, 64: 0.16, 128: 1.0, 256: 2.0})
    calls.clear()
    assert as_predictor(model).fastest_batch_size(image, candidates=(8, 16, 32, 64, 128, 256), repeat=2) == 16
    assert calls == [8] * (1 + 2 * 8) + [16] * (1 + 2 * 4) + [32] * (1 + 2 * 2) + [64] * (1 + 2)
    np.testing.assert_array_equal(image, before)


def test_fastest_batch_size_times_a_keras_model_on_its_own_input_shape(softmax_cnn):
    predictor = as_predictor(softmax_cnn)
    assert predictor.fastest_batch_size(candidates=(2, 4), repeat=1) in (2, 4)


def test_fastest_batch_size_rejects_bad_arguments(softmax_cnn):
    callable_predictor = as_predictor(lambda x: x.mean(axis=(1, 2)))
    with pytest.raises(ValueError, match="images must be given"):
        callable_predictor.fastest_batch_size()
    with pytest.raises(TypeError, match="candidates must be a non-empty sequence"):
        callable_predictor.fastest_batch_size(np.zeros((4, 4, 3)), candidates=32)
    with pytest.raises(TypeError, match="candidates must be a non-empty sequence"):
        callable_predictor.fastest_batch_size(np.zeros((4, 4, 3)), candidates=())
    with pytest.raises(ValueError, match="candidates must be >= 1"):
        callable_predictor.fastest_batch_size(np.zeros((4, 4, 3)), candidates=(0, 8))
    with pytest.raises(ValueError, match="repeat must be >= 1"):
        callable_predictor.fastest_batch_size(np.zeros((4, 4, 3)), repeat=0)
    with pytest.raises(ValueError, match="must be 16x16 pixels"):
        as_predictor(softmax_cnn).fastest_batch_size(np.zeros((8, 8, 3)))
    with pytest.raises(ValueError, match="logits are not available"):
        callable_predictor.fastest_batch_size(np.zeros((4, 4, 3)), output="logits")


# ---------------------------------------------------------------- the input contract (issue 19, section 3)
@pytest.fixture(scope="module")
def free_size_gray_model():
    import keras

    keras.utils.set_random_seed(3)
    inputs = keras.Input((None, None, 1))
    x = keras.layers.Conv2D(2, 3, padding="same", activation="relu")(inputs)
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, outputs)


def test_colour_image_to_a_free_size_one_channel_model_is_refused_not_a_batch(free_size_gray_model):
    predictor = as_predictor(free_size_gray_model)
    colour = np.random.default_rng(0).random((32, 32, 3)).astype(np.float32)
    with pytest.raises(ValueError, match=r"images of shape \(32, 32, 3\) looks like one image with 3 channels"):
        predictor.predict(colour)
    # said to be a batch, it is 32 grayscale images of 32x3 pixels, scored as the model scores them
    batch, single = predictor.check_images(colour, "images", batch=True)
    assert not single and batch.shape == (32, 32, 3, 1)
    np.testing.assert_allclose(predictor.predict(batch), free_size_gray_model(colour[..., None]).numpy(),
                               rtol=1e-5, atol=1e-6)


def test_rank3_stack_to_a_one_channel_model_is_a_batch_of_grayscale_images(free_size_gray_model):
    stack = np.random.default_rng(1).random((5, 12, 10)).astype(np.float32)
    predictor = as_predictor(free_size_gray_model)
    batch, single = predictor.check_images(stack)
    assert not single and batch.shape == (5, 12, 10, 1)
    np.testing.assert_allclose(predictor.predict(stack), free_size_gray_model(stack[..., None]).numpy(),
                               rtol=1e-5, atol=1e-6)
    one, single = predictor.check_images(stack[0][..., None])
    assert single and one.shape == (1, 12, 10, 1)


def test_channels_first_image_to_a_keras_model_suggests_moveaxis(softmax_cnn):
    with pytest.raises(ValueError, match=r"\(3, 16, 16\) looks like one channels-first image.*np\.moveaxis"):
        as_predictor(softmax_cnn).check_images(np.zeros((3, 16, 16)), "image")


def test_channels_first_looking_array_to_a_callable_needs_batch():
    seen = []

    def model(batch):
        seen.append(batch.shape)
        return batch.mean(axis=(1, 2))

    predictor = as_predictor(model)
    stack = np.random.default_rng(2).random((3, 8, 8))
    with pytest.raises(ValueError, match=r"ambiguous.*np\.moveaxis\(images, 0, -1\).*batch=True"):
        predictor.predict(stack)
    assert seen == []  # refused before the model ran
    batch, single = predictor.check_images(stack, batch=True)
    np.testing.assert_allclose(predictor.predict(batch), stack.mean(axis=(1, 2))[:, None], rtol=1e-6)
    assert seen == [(3, 8, 8, 1)] and not single


def test_float_images_for_a_uint8_model_must_be_whole_numbers(keras):
    keras.utils.set_random_seed(4)
    inputs = keras.Input((4, 4, 3), dtype="uint8")
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    outputs = keras.layers.Dense(2)(keras.layers.Flatten()(x))
    model = keras.Model(inputs, outputs)
    predictor = as_predictor(model)
    with pytest.raises(ValueError, match=r"^image holds fractional values \(e.g. 0.9\).*uint8"):
        predictor.check_images(np.full((4, 4, 3), 0.9), "image")
    with pytest.raises(ValueError, match=r"values in \[0, 300\]"):
        predictor.predict(np.full((4, 4, 3), 300.0) * (np.arange(3) > 1))
    # whole numbers in 0..255 given as floats are cast exactly: the scores of the same uint8 image
    pixels = np.random.default_rng(5).integers(0, 256, (2, 4, 4, 3))
    expected = model(pixels.astype(np.uint8)).numpy()
    np.testing.assert_allclose(predictor.predict(pixels.astype(np.float64)), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(predictor.predict(pixels.astype(np.uint8)), expected, rtol=1e-6, atol=1e-6)


def test_shape_errors_show_the_shape_the_user_gave(softmax_cnn):
    predictor = as_predictor(softmax_cnn)
    with pytest.raises(ValueError, match=r"^image must have 3 channels for this model; got shape \(5, 5\)$"):
        predictor.check_images(np.zeros((5, 5)), "image")
    with pytest.raises(ValueError, match=r"must be 16x16 pixels \(the model's input size\); got 8x9 "
                                         r"\(shape \(2, 8, 9, 3\)\)"):
        predictor.check_images(np.zeros((2, 8, 9, 3)), "images")


def test_target_errors_use_the_name_the_user_gave(softmax_cnn):
    from superexplain.models.targets import Named

    predictor = as_predictor(softmax_cnn)
    scores = np.zeros((2, 5))
    with pytest.raises(ValueError, match=r"^targets=99 is out of range: the model has 5 classes"):
        predictor.resolve_targets(99, scores)
    with pytest.raises(ValueError, match=r"^target=99 is out of range: the model has 5 classes"):
        predictor.resolve_targets(Named(99, "target"), scores)
    with pytest.raises(ValueError, match=r"^target\[1\]=7 is out of range"):
        predictor.resolve_targets(Named([0, 7], "target"), scores)
    with pytest.raises(ValueError, match=r"^give either target or top_labels"):
        predictor.resolve_targets(Named(1, "target"), scores, top_labels=1)
    assert predictor.resolve_targets(Named([4, [0, 2]], "target"), scores) == [[4], [0, 2]]
