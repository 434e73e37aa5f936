"""Deep Feature Factorization against scikit-learn's NMF called here, on activations from layers called by hand."""
from __future__ import annotations

import numpy as np
import pytest

from superexplain import Explanation
from superexplain.gradcam.feature_factorization import run_feature_factorization
from superexplain.models import as_predictor

from test_gradcam_reference import nested_model  # noqa: F401 - fixture


def _nested_activations(model, images, upto="inner_relu"):
    """The nested model's layer activations, layers called one by one (no superexplain graph)."""
    sub = model.get_layer("sub")
    x = sub.get_layer("inner_conv")(model.get_layer("pool")(model.get_layer("c1")(images)))
    if upto == "inner_relu":
        x = sub.get_layer("inner_relu")(sub.get_layer("inner_bn")(x, training=False))
    return x.numpy().astype(np.float64)


def test_concepts_are_sklearn_nmf_of_the_activations_and_score_as_dense_of_the_embedding(
        nested_model, rng):  # noqa: F811
    from sklearn.decomposition import NMF

    model = nested_model
    images = rng.random((2, 16, 16, 3)).astype("float32")
    kept = images.copy()
    explanations = run_feature_factorization(as_predictor(model), images, top_labels=2, layer="sub/inner_relu",
                                             n_concepts=3, verbose=0)
    np.testing.assert_array_equal(images, kept)
    assert len(explanations) == 4
    activations = _nested_activations(model, images)  # (2, 8, 8, 6), after the ReLU: non-negative
    head = model.get_layer("head")
    kernel, bias = head.kernel.numpy().astype(np.float64), head.bias.numpy().astype(np.float64)
    for n in range(2):
        nmf = NMF(n_components=3, init="nndsvda", max_iter=500, random_state=0)
        weights = nmf.fit_transform(activations[n].reshape(64, 6))
        maps = weights.T.reshape(3, 8, 8)
        class_scores = nmf.components_ @ kernel + bias  # GAP of a constant map is the embedding: Dense(embedding)
        for explanation in explanations[2 * n:2 * n + 2]:
            concepts = explanation.params["concepts"]
            np.testing.assert_allclose(np.array(concepts["maps"]), maps, rtol=1e-3, atol=1e-4 * maps.max())
            np.testing.assert_allclose(np.array(concepts["class_scores"]), class_scores, rtol=1e-3, atol=1e-4)
            assert concepts["top_classes"] == np.argsort(-class_scores, axis=1)[:, :3].tolist()
            best = int(np.argmax(class_scores[:, explanation.target]))
            assert explanation.params["concept"] == best
            np.testing.assert_allclose(explanation.feature_map, maps[best], rtol=1e-3, atol=1e-4 * maps.max())
            assert explanation.heatmap.shape == (16, 16)


def test_negative_activations_are_refused_or_clipped_and_too_many_concepts_refused(nested_model, rng):  # noqa: F811
    predictor = as_predictor(nested_model)
    images = rng.random((1, 16, 16, 3)).astype("float32")
    assert _nested_activations(nested_model, images, "inner_conv").min() < 0
    with pytest.raises(ValueError, match="non-negative activations.*'sub/inner_conv'.*negative='clip'"):
        run_feature_factorization(predictor, images, layer="sub/inner_conv", verbose=0)
    clipped = run_feature_factorization(predictor, images, layer="sub/inner_conv", negative="clip", verbose=0)[0]
    assert clipped.params["negative"] == "clip" and np.min(clipped.params["concepts"]["maps"]) >= 0
    with pytest.raises(ValueError, match=r"n_concepts must be at most min\(h\*w, c\) = 6"):
        run_feature_factorization(predictor, images, layer="sub/inner_relu", n_concepts=7, verbose=0)
    with pytest.raises(TypeError, match="n_concepts"):
        run_feature_factorization(predictor, images, n_concepts="3", verbose=0)
    with pytest.raises(TypeError, match="factorises one layer's activations.*not a list"):
        run_feature_factorization(predictor, images, layer=["c1", "sub/inner_relu"], verbose=0)


def test_concepts_survive_a_save_and_load_and_plot_one_legend_entry_each(demo_model, demo_data, tmp_path):
    import matplotlib.pyplot as plt

    import superexplain

    explanation = superexplain.explain(demo_model, demo_data.images[0], method="feature_factorization",
                                       n_concepts=4, verbose=0)
    path = tmp_path / "dff.npz"
    explanation.save(path)
    loaded = Explanation.load(path)
    assert loaded.params["concepts"] == explanation.params["concepts"]
    ax = superexplain.plot_concepts(loaded, class_names=["a", "b", "c", "d"])
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(texts) == 4
    top = loaded.params["concepts"]["top_classes"]
    assert texts[1].startswith("concept 2") and texts[1].endswith(", ".join("abcd"[c] for c in top[1]))
    assert sum("*" in t for t in texts) == 1
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="no concepts"):
        superexplain.plot_concepts(superexplain.explain(demo_model, demo_data.images[0], method="gradcam", verbose=0))
