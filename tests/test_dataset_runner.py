"""Tests of explain_dataset: identical results on both backends, resuming, corrupt files, bad input."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import superexplain
from superexplain import Explanation
from superexplain.runner import DatasetResult, explain_dataset
from _batch_invariance import assert_same_explanation

LIME = {"num_samples": 40, "batch_size": 3}  # units of 3 images whose masked copies share model batches


def expected_seed(random_state: int, index: int) -> int:
    """The documented per-image seed: SeedSequence([random_state, index]), first 32-bit word."""
    return int(np.random.SeedSequence([random_state, index]).generate_state(1)[0])


def index_lines(out) -> list[dict]:
    with open(os.path.join(out, "index.jsonl")) as handle:
        return [json.loads(line) for line in handle]


def explanations_by_file(result: DatasetResult) -> dict[str, Explanation]:
    return {record["file"]: Explanation.load(os.path.join(result.out, record["file"])) for record in result.done}


@pytest.fixture(scope="module")
def images():
    from superexplain.datasets import make_shapes

    return make_shapes(7, seed=31).images


@pytest.fixture(scope="module")
def local_runs(demo_model, images, tmp_path_factory):
    """Uninterrupted local runs, the reference the other tests compare with."""
    base = tmp_path_factory.mktemp("reference")
    return {
        "gradcam": explain_dataset(demo_model, images, "gradcam", out=base / "gradcam", batch_size=3, verbose=0),
        "lime": explain_dataset(demo_model, images, "lime", out=base / "lime", verbose=0, **LIME),
    }


# ---------------------------------------------------------------------------------------- results
def test_each_image_is_explained_with_its_own_seed(demo_model, images, local_runs):
    result = local_runs["lime"]
    assert len(result) == len(images) and not result.failed
    explained = list(result.pairs())
    for start in range(0, len(images), LIME["batch_size"]):
        # a unit is one call with one seed per image: its images' masked copies share model batches
        unit = range(start, min(start + LIME["batch_size"], len(images)))
        packed = superexplain.explain(demo_model, images[unit.start:unit.stop], method="lime",
                                      random_state=[expected_seed(0, i) for i in unit], verbose=0,
                                      num_samples=LIME["num_samples"])
        for i, direct in zip(unit, packed):
            image, explanation = explained[i]
            assert explanation == direct
            np.testing.assert_array_equal(image, images[i])
            assert result.index[i]["seed"] == explanation.params["seed"] == expected_seed(0, i)
            # alone, with its seed, the image gets the same masks; only the model's last bits may differ
            alone = superexplain.explain(demo_model, images[i], method="lime", random_state=expected_seed(0, i),
                                         verbose=0, num_samples=LIME["num_samples"])
            np.testing.assert_array_equal(alone.segments, explanation.segments)
            np.testing.assert_allclose(alone.weights, explanation.weights, rtol=1e-4, atol=1e-7)
            assert alone.params == explanation.params


def test_one_image_per_unit_equals_explain_bit_for_bit(demo_model, images, tmp_path):
    result = explain_dataset(demo_model, images[:2], "lime", out=tmp_path, batch_size=1, verbose=0,
                             num_samples=LIME["num_samples"])
    for i, explanation in enumerate(result.explanations()):
        assert explanation == superexplain.explain(demo_model, images[i], method="lime", verbose=0,
                                                   random_state=expected_seed(0, i),
                                                   num_samples=LIME["num_samples"])


def test_model_batch_size_sets_the_images_per_model_call_and_is_part_of_the_run(demo_model, images, tmp_path):
    from superexplain.models import as_predictor

    out = tmp_path / "run"
    result = explain_dataset(demo_model, images[:2], "lime", out=out, batch_size=1, model_batch_size=16, verbose=0,
                             num_samples=LIME["num_samples"])
    assert result.settings["model_batch_size"] == 16
    predictor = as_predictor(demo_model, batch_size=16)  # what each worker builds
    for i, explanation in enumerate(result.explanations()):
        assert explanation.params["batch_size"] == 16
        assert explanation == superexplain.explain(predictor, images[i], method="lime", verbose=0,
                                                   random_state=expected_seed(0, i),
                                                   num_samples=LIME["num_samples"])
    # a model's last bits can depend on its batch shape: a resume with another size is another run
    with pytest.raises(ValueError, match="model_batch_size: directory has 16, this call has 8"):
        explain_dataset(demo_model, images[:2], "lime", out=out, batch_size=1, model_batch_size=8, verbose=0,
                        num_samples=LIME["num_samples"])
    with pytest.raises(ValueError, match="model_batch_size"):
        explain_dataset(demo_model, images[:2], "lime", out=tmp_path / "bad", model_batch_size=0)


def test_batched_gradcam_matches_one_image_calls(demo_model, images, local_runs):
    result = local_runs["gradcam"]
    assert [r["index"] for r in result.index] == list(range(len(images)))
    for i, explanation in enumerate(result.explanations()):
        direct = superexplain.explain(demo_model, images[i], method="gradcam", verbose=0)
        np.testing.assert_allclose(explanation.heatmap, direct.heatmap, rtol=1e-5, atol=1e-6)
        assert explanation.target == direct.target == result.index[i]["target"]
        assert explanation.params["seed"] == expected_seed(0, i)


def test_reopened_result_lists_the_same_explanations(local_runs, images):
    result = local_runs["gradcam"]
    reopened = DatasetResult.open(result.out)
    assert reopened.index == result.index and len(reopened) == len(images)
    assert reopened.settings["method"] == "gradcam" and reopened.settings["batch_size"] == 3
    assert all(a == b for a, b in zip(reopened.explanations(), result.explanations()))


def test_tf_data_and_iterable_sources_give_the_array_results(demo_model, images, local_runs, tmp_path):
    import tensorflow as tf

    labels = np.arange(len(images))
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(2)  # (image, label), batched
    from_tf = explain_dataset(demo_model, dataset, "gradcam", out=tmp_path / "tf", batch_size=3, verbose=0)
    from_iter = explain_dataset(demo_model, (image for image in images), "gradcam", out=tmp_path / "it",
                                batch_size=3, verbose=0)
    reference = explanations_by_file(local_runs["gradcam"])
    assert explanations_by_file(from_tf) == reference
    assert explanations_by_file(from_iter) == reference


def test_top_labels_write_one_file_and_line_per_target(demo_model, images, tmp_path):
    result = explain_dataset(demo_model, images[:3], "gradcam", out=tmp_path, top_labels=2, verbose=0)
    scores = demo_model(images[:3]).numpy()
    expected = [int(c) for row in np.argsort(-scores, axis=1)[:, :2] for c in row]
    assert [r["target"] for r in result.index] == expected
    assert [r["n_targets"] for r in result.index] == [2] * 6
    assert len({r["file"] for r in result.index}) == 6


def test_local_backend_streams_the_source(demo_model, images, tmp_path, monkeypatch):
    from superexplain.runner import index as index_module

    pulled = []
    seen_at_first_write = []
    original = index_module.RunIndex.append

    def append(self, records):
        if not seen_at_first_write:
            seen_at_first_write.append(len(pulled))
        original(self, records)

    def stream():
        for image in np.concatenate([images] * 4):
            pulled.append(1)
            yield image

    monkeypatch.setattr(index_module.RunIndex, "append", append)
    result = explain_dataset(demo_model, stream(), "gradcam", out=tmp_path, batch_size=3, verbose=0)
    assert len(result) == 4 * len(images)
    assert seen_at_first_write == [4]  # one batch of 3, and the image that showed the batch was complete


def test_drawn_seed_is_recorded_and_reused_on_resume(demo_model, images, tmp_path, monkeypatch):
    with monkeypatch.context() as patch:
        interrupt_after(patch, 3)
        with pytest.raises(Interrupt):
            explain_dataset(demo_model, images, "lime", out=tmp_path, random_state=None, verbose=0, **LIME)
    drawn = DatasetResult.open(tmp_path).settings["random_state"]
    result = explain_dataset(demo_model, images, "lime", out=tmp_path, random_state=None, verbose=0, **LIME)
    assert [r["seed"] for r in result.index] == [expected_seed(drawn, i) for i in range(len(images))]
    assert [e.params["seed"] for e in result.explanations()] == [expected_seed(drawn, i) for i in range(len(images))]


def test_images_of_several_sizes_share_a_run_on_a_free_size_model(keras, tmp_path):
    keras.utils.set_random_seed(3)
    inputs = keras.Input((None, None, 3))
    features = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(features))
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(0)
    sizes = [16, 24, 16, 24, 24]
    images = [rng.random((size, size, 3), dtype=np.float32) for size in sizes]
    result = explain_dataset(model, iter(images), "gradcam", out=tmp_path, batch_size=4, verbose=0)
    assert [e.heatmap.shape for e in result.explanations()] == [(size, size) for size in sizes]
    for image, explanation in zip(images, result.explanations()):
        np.testing.assert_array_equal(explanation.image, image)


# ---------------------------------------------------------------------------------------- resuming
class Interrupt(KeyboardInterrupt):
    pass


def interrupt_after(monkeypatch, k: int) -> None:
    """Make the index raise (as Ctrl-C would) when the k-th image's lines are about to be written."""
    from superexplain.runner import index as index_module

    original = index_module.RunIndex.append
    calls = {"n": 0}

    def append(self, records):
        calls["n"] += 1
        if calls["n"] == k:
            raise Interrupt
        original(self, records)

    monkeypatch.setattr(index_module.RunIndex, "append", append)


@pytest.mark.parametrize("method", ["gradcam", "lime"])
def test_interrupted_then_resumed_run_equals_uninterrupted_run(demo_model, images, local_runs, tmp_path,
                                                               monkeypatch, method):
    options = {"batch_size": 3} if method == "gradcam" else LIME
    out = tmp_path / method
    with monkeypatch.context() as patch:
        interrupt_after(patch, 5)  # inside the second unit of 3 images, which must be re-run whole
        with pytest.raises(Interrupt):
            explain_dataset(demo_model, images, method, out=out, verbose=0, **options)
    assert [r["index"] for r in index_lines(out)] == [0, 1, 2, 3]
    resumed = explain_dataset(demo_model, images, method, out=out, verbose=0, **options)
    lines = index_lines(out)
    assert sorted(r["index"] for r in lines) == list(range(len(images)))  # every image once
    assert explanations_by_file(resumed) == explanations_by_file(local_runs[method])


def test_half_written_files_are_not_taken_as_done(demo_model, images, local_runs, tmp_path, monkeypatch):
    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        interrupt_after(patch, 4)
        with pytest.raises(Interrupt):
            explain_dataset(demo_model, images, "lime", out=out, verbose=0, **LIME)
    folder = out / "explanations"
    # what a crash can leave: a temporary file cut short, a renamed file whose line never came,
    # and an index line cut short
    (folder / "000004_t0.tmp-999.npz").write_bytes(b"PK\x03\x04 cut short")
    assert (folder / local_runs["lime"].index[3]["file"].split("/")[1]).exists()
    with open(out / "index.jsonl", "a") as handle:
        handle.write('{"index": 5, "status": "do')
    resumed = explain_dataset(demo_model, images, "lime", out=out, verbose=0, **LIME)
    assert sorted(r["index"] for r in index_lines(out)) == list(range(len(images)))
    assert not [name for name in os.listdir(folder) if ".tmp-" in name]
    assert explanations_by_file(resumed) == explanations_by_file(local_runs["lime"])


def test_run_killed_with_sigkill_resumes_to_the_same_set(demo_model, images, local_runs, tmp_path):
    out = tmp_path / "killed"
    np.save(tmp_path / "images.npy", images)
    script = textwrap.dedent(f"""
        import numpy as np, superexplain
        from superexplain.datasets import load_demo_model
        images = np.load({str(tmp_path / 'images.npy')!r})
        images = np.concatenate([images] * 200)  # far more work than the test waits for
        # a stream, so that the resume below may give only its first images (an array must be given whole)
        superexplain.explain_dataset(load_demo_model(), iter(images), "lime", out={str(out)!r}, verbose=0,
                                     num_samples={LIME['num_samples']}, batch_size={LIME['batch_size']})
    """)
    root = os.path.dirname(os.path.dirname(os.path.abspath(superexplain.__file__)))
    env = {**os.environ, "PYTHONPATH": root, "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen([sys.executable, "-c", script], env=env, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if (out / "index.jsonl").exists() and len(index_lines(out)) >= 3:
                break
            time.sleep(0.05)
        assert process.poll() is None, "the run ended before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert 3 <= len(index_lines(out)) < len(images) * 200
    resumed = explain_dataset(demo_model, iter(images), "lime", out=out, verbose=0, **LIME)  # the first 7 images
    lines = index_lines(out)
    assert len({r["index"] for r in lines}) == len(lines)  # no image done twice
    assert sorted(r["index"] for r in lines)[:len(images)] == list(range(len(images)))
    mine = [r for r in resumed.done if r["index"] < len(images)]
    got = {r["file"]: Explanation.load(os.path.join(out, r["file"])) for r in mine}
    assert got == explanations_by_file(local_runs["lime"])


# ---------------------------------------------------------------------------------------- another run
def tiny_cnn(keras, seed: int, extra_layer: bool = False):
    """A small CNN on the demo images' 64x64x3 with 4 classes; ``extra_layer`` changes its architecture."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((64, 64, 3))
    x = keras.layers.Conv2D(4, 3, strides=4, padding="same", activation="relu")(inputs)
    if extra_layer:
        x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(4, activation="softmax")(x))


def write_pngs(folder, pixels) -> list[str]:
    from PIL import Image

    folder.mkdir(exist_ok=True)
    names = []
    for i, image in enumerate(pixels):
        Image.fromarray(image).save(folder / f"img{i}.png")
        names.append(f"img{i}.png")
    return names


@pytest.fixture
def image_folder(images, tmp_path):
    folder = tmp_path / "images"
    write_pngs(folder, (images[:3] * 255).round().astype(np.uint8))
    return folder


def test_resume_with_the_same_files_and_a_reloaded_model_continues(images, image_folder, tmp_path, monkeypatch,
                                                                   keras):
    model_path = tmp_path / "model.keras"
    tiny_cnn(keras, 0).save(model_path)
    out = tmp_path / "out"
    with monkeypatch.context() as patch:
        interrupt_after(patch, 2)
        with pytest.raises(Interrupt):
            explain_dataset(str(model_path), str(image_folder), "gradcam", out=out, batch_size=1, verbose=0)
    recorded = DatasetResult.open(out).settings
    sizes = {name: os.path.getsize(image_folder / name) for name in ("img0.png", "img1.png", "img2.png")}
    assert [(name, size) for name, size, _ in recorded["source_identity"]["files"]] == sorted(sizes.items())
    assert recorded["model_fingerprint"]["kind"] == "keras"
    # the same file again, and the same model built anew (other automatic layer names) and in memory
    rebuilt = tiny_cnn(keras, 0)
    assert rebuilt.layers[1].name != keras.models.load_model(model_path).layers[1].name
    resumed = explain_dataset(rebuilt, str(image_folder), "gradcam", out=out, batch_size=1, verbose=0)
    assert [r["id"] for r in resumed.index] == ["img0.png", "img1.png", "img2.png"]
    assert sorted(r["index"] for r in index_lines(out)) == [0, 1, 2]  # image 0 was not done twice


def test_resume_after_one_image_file_changed_names_that_file(images, image_folder, tmp_path, demo_model):
    out = tmp_path / "out"
    explain_dataset(demo_model, str(image_folder), "gradcam", out=out, verbose=0)
    before = (out / "index.jsonl").read_text()
    write_pngs(tmp_path / "new", (images[5:6] * 255).round().astype(np.uint8))
    os.replace(tmp_path / "new" / "img0.png", image_folder / "img1.png")  # another picture under the same name
    os.utime(image_folder / "img1.png", ns=(1_000_000_000, 1_000_000_000))
    with pytest.raises(ValueError, match=r"image files differ.*1 changed, by size or modification time \(img1.png\)"
                                         r".*overwrite=True") as caught:
        explain_dataset(demo_model, str(image_folder), "gradcam", out=out, verbose=0)
    assert "img0.png" not in str(caught.value) and "img2.png" not in str(caught.value)
    assert (out / "index.jsonl").read_text() == before  # the refused resume changed nothing


def test_resume_after_a_file_was_added_names_it(images, image_folder, tmp_path, demo_model):
    out = tmp_path / "out"
    explain_dataset(demo_model, str(image_folder), "gradcam", out=out, verbose=0)
    (image_folder / "img3.png").write_bytes((image_folder / "img0.png").read_bytes())
    with pytest.raises(ValueError, match=r"1 added \(img3.png\)"):
        explain_dataset(demo_model, str(image_folder), "gradcam", out=out, verbose=0)
    os.remove(image_folder / "img3.png")
    os.remove(image_folder / "img2.png")
    with pytest.raises(ValueError, match=r"1 removed \(img2.png\)"):
        explain_dataset(demo_model, str(image_folder), "gradcam", out=out, verbose=0)


def test_resume_with_an_array_changed_by_one_pixel_is_refused(demo_model, images, local_runs):
    out = local_runs["gradcam"].out
    changed = images.copy()
    changed[4, 10, 10, 1] += 0.25
    with pytest.raises(ValueError, match="in-memory images differ"):
        explain_dataset(demo_model, changed, "gradcam", out=out, batch_size=3, verbose=0)
    with pytest.raises(ValueError, match=r"in-memory images differ.*shape \(7, 64, 64, 3\) float32 then, "
                                         r"\(6, 64, 64, 3\) float32 now"):
        explain_dataset(demo_model, images[:6], "gradcam", out=out, batch_size=3, verbose=0)
    with pytest.raises(ValueError, match="the run explained an in-memory array, this call gives an iterable"):
        explain_dataset(demo_model, iter(images), "gradcam", out=out, batch_size=3, verbose=0)
    assert len(DatasetResult.open(out)) == len(images)  # untouched


def test_resume_of_a_stream_that_yields_other_images_is_refused(demo_model, images, tmp_path, monkeypatch):
    out = tmp_path / "out"
    with monkeypatch.context() as patch:
        interrupt_after(patch, 3)
        with pytest.raises(Interrupt):
            explain_dataset(demo_model, iter(images), "gradcam", out=out, batch_size=1, verbose=0)
    changed = images.copy()
    changed[1, 0, 0, 0] += 0.5
    with pytest.raises(ValueError, match="image 1 differs from the image the run"):
        explain_dataset(demo_model, iter(changed), "gradcam", out=out, batch_size=1, verbose=0)
    assert [r["index"] for r in index_lines(out)] == [0, 1]  # nothing new was written
    resumed = explain_dataset(demo_model, iter(images), "gradcam", out=out, batch_size=1, verbose=0)
    assert len(resumed) == len(images)


def test_resume_with_other_weights_or_architecture_says_which(keras, images, tmp_path):
    model = tiny_cnn(keras, 0)
    out = tmp_path / "out"
    explain_dataset(model, images[:2], "gradcam", out=out, verbose=0)
    retrained = keras.models.clone_model(model)
    retrained.set_weights([w * 1.5 for w in model.get_weights()])
    with pytest.raises(ValueError, match=r"model's weights changed \(same architecture\).*overwrite=True"):
        explain_dataset(retrained, images[:2], "gradcam", out=out, verbose=0)
    with pytest.raises(ValueError, match="model's architecture changed"):
        explain_dataset(tiny_cnn(keras, 0, extra_layer=True), images[:2], "gradcam", out=out, verbose=0)
    assert [w.shape for w in model.get_weights()] == [w.shape for w in retrained.get_weights()]


def test_a_changed_model_file_is_caught_after_loading(keras, images, tmp_path):
    model_path = tmp_path / "model.keras"
    tiny_cnn(keras, 0).save(model_path)
    out = tmp_path / "out"
    explain_dataset(str(model_path), images[:2], "gradcam", out=out, verbose=0)
    tiny_cnn(keras, 0).save(model_path)  # saved again: other bytes, the same model
    explain_dataset(str(model_path), images[:2], "gradcam", out=out, verbose=0)
    tiny_cnn(keras, 1).save(model_path)
    with pytest.raises(ValueError, match="weights changed"):
        explain_dataset(str(model_path), images[:2], "gradcam", out=out, verbose=0)


def test_callable_models_are_compared_by_name(images, tmp_path):
    def red(batch):
        return np.stack([batch[..., 0].mean(axis=(1, 2)), batch[..., 1].mean(axis=(1, 2))], axis=1)

    def green(batch):
        return red(batch)[:, ::-1]

    out = tmp_path / "out"
    explain_dataset(red, images[:1], "occlusion", out=out, verbose=0)
    assert DatasetResult.open(out).settings["model_fingerprint"] == {
        "kind": "callable", "name": f"{__name__}.test_callable_models_are_compared_by_name.<locals>.red"}
    with pytest.raises(ValueError, match="model callable is another one.*green"):
        explain_dataset(green, images[:1], "occlusion", out=out, verbose=0)


def test_overwrite_starts_over_with_the_new_model_and_removes_only_the_runs_files(keras, images, tmp_path):
    old_model, new_model = tiny_cnn(keras, 0), tiny_cnn(keras, 1)
    out = tmp_path / "out"
    old = explain_dataset(old_model, images[:3], "gradcam", out=out, top_labels=2, random_state=None, verbose=0)
    old_files = {r["file"] for r in old.done}
    old_seed = old.settings["random_state"]
    (out / "notes.txt").write_text("mine")
    (out / "explanations" / "README").write_text("mine too")
    result = explain_dataset(new_model, images[:2], "gradcam", out=out, top_labels=2, random_state=None,
                             overwrite=True, verbose=0)
    fresh = explain_dataset(new_model, images[:2], "gradcam", out=tmp_path / "fresh", top_labels=2,
                            random_state=result.settings["random_state"], verbose=0)
    assert [(r["index"], r["target"]) for r in result.index] == [(r["index"], r["target"]) for r in fresh.index]
    assert list(result.explanations()) == list(fresh.explanations())
    assert [r["index"] for r in index_lines(out)] == [0, 0, 1, 1]
    # image 2's files and the old targets' files are gone; files the runner did not write stay
    left = {f"explanations/{name}" for name in os.listdir(out / "explanations")}
    assert left == {r["file"] for r in result.done} | {"explanations/README"}
    assert old_files - left
    assert (out / "notes.txt").read_text() == "mine"
    assert result.settings["model_fingerprint"] != old.settings["model_fingerprint"]
    assert DatasetResult.open(out).settings["random_state"] != old_seed  # a new run draws a new seed
    with pytest.raises(TypeError, match="overwrite"):
        explain_dataset(new_model, images[:2], "gradcam", out=out, overwrite="yes", verbose=0)


def test_a_run_json_from_before_the_checks_resumes_with_a_warning(demo_model, images, tmp_path):
    out = tmp_path / "out"
    explain_dataset(demo_model, images[:4], "gradcam", out=out, batch_size=2, verbose=0)
    settings = json.loads((out / "run.json").read_text())
    recorded = {key: settings.pop(key) for key in ("source_identity", "model_fingerprint")}
    (out / "run.json").write_text(json.dumps(settings))
    with pytest.warns(UserWarning, match="predates the image and model checks.*resumes it"):
        resumed = explain_dataset(demo_model, images[:4], "gradcam", out=out, batch_size=2, verbose=0)
    assert len(resumed) == 4
    now = json.loads((out / "run.json").read_text())
    assert {key: now[key] for key in recorded} == recorded  # recorded now, and checked from here on
    with pytest.raises(ValueError, match="in-memory images differ"):
        explain_dataset(demo_model, images[1:5], "gradcam", out=out, batch_size=2, verbose=0)


# ---------------------------------------------------------------------------------------- corrupt outputs
def test_a_corrupt_explanation_file_in_a_run_is_named_by_pairs_and_the_metrics(demo_model, images, tmp_path):
    from superexplain.metrics import deletion

    result = explain_dataset(demo_model, images[:3], "gradcam", out=tmp_path / "run", verbose=0)
    damaged = tmp_path / "run" / result.index[1]["file"]
    data = damaged.read_bytes()
    damaged.write_bytes(data[:len(data) // 2])
    reopened = DatasetResult.open(tmp_path / "run")
    for read in (lambda: list(reopened.explanations()), lambda: list(reopened.pairs()),
                 lambda: deletion(demo_model, str(tmp_path / "run"), step=512, random_state=0, verbose=0)):
        with pytest.raises(ValueError, match=rf"{damaged.name}.*cut short.*image 1 \(id '1'\).*explain_dataset "
                                             "again"):
            read()
    # the documented remedy: delete it and resume, which explains that image again
    os.remove(damaged)
    explain_dataset(demo_model, images[:3], "gradcam", out=tmp_path / "run", verbose=0)
    assert len(list(DatasetResult.open(tmp_path / "run").pairs())) == 3


def test_a_corrupt_file_in_a_folder_of_explanations_stops_the_metrics(demo_model, images, tmp_path):
    from superexplain.metrics import deletion

    folder = tmp_path / "folder"
    folder.mkdir()
    for i, explanation in enumerate(superexplain.explain(demo_model, images[:2], method="gradcam", verbose=0)):
        explanation.save(folder / f"e{i}.npz")
    np.savez(folder / "cache.npz", counts=np.arange(3))  # another tool's archive: passed over
    first = deletion(demo_model, str(folder), step=512, random_state=0, verbose=0)
    (folder / "e2.npz").write_bytes(b"")
    with pytest.raises(ValueError, match=r"e2.npz.*empty \(0 bytes\)"):
        deletion(demo_model, str(folder), step=512, random_state=0, verbose=0)
    os.remove(folder / "e2.npz")
    assert deletion(demo_model, str(folder), step=512, random_state=0, verbose=0).auc == first.auc


# ---------------------------------------------------------------------------------------- files
def test_corrupt_image_in_a_directory_is_reported_and_the_run_goes_on(demo_model, images, tmp_path):
    from PIL import Image

    folder = tmp_path / "images"
    folder.mkdir()
    pixels = (images[:3] * 255).round().astype(np.uint8)
    for i, image in enumerate(pixels):
        Image.fromarray(image).save(folder / f"img{i}.png")
    (folder / "img1b.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")  # sorts between img1 and img2
    with pytest.warns(UserWarning, match="1 image"):
        result = explain_dataset(demo_model, str(folder), "gradcam", out=tmp_path / "out", verbose=0)
    assert [r["id"] for r in result.index] == ["img0.png", "img1.png", "img1b.png", "img2.png"]
    assert [r["status"] for r in result.index] == ["done", "done", "error", "done"]
    assert "img1b.png" in result.failed[0]["error"] and result.failed[0]["file"] is None
    assert len(result) == 3
    for (image, explanation), original in zip(result.pairs(), pixels):
        np.testing.assert_array_equal(image, original.astype(np.float32) / 255)  # preprocess="unit"


# ---------------------------------------------------------------------------------------- ray
@pytest.mark.parametrize("method", ["gradcam", "lime"])
def test_ray_backend_writes_the_local_backend_explanations(demo_model, images, local_runs, tmp_path, ray_started,
                                                           method):
    from superexplain.datasets import load_demo_model

    options = {"batch_size": 3} if method == "gradcam" else LIME
    # gradcam ships the in-memory model (saved to a .keras file); lime lets each worker call a factory
    model = demo_model if method == "gradcam" else load_demo_model
    result = explain_dataset(model, images, method, out=tmp_path, backend="ray", num_workers=2, verbose=0,
                             **options)
    reference = local_runs[method]
    assert [r["index"] for r in result.index] == [r["index"] for r in reference.index]
    assert [(r["target"], r["score"]) for r in result.index] == [(r["target"], r["score"]) for r in reference.index]
    assert explanations_by_file(result) == explanations_by_file(reference)


def test_ray_actors_load_the_model_once_for_a_source_of_several_chunks(demo_model, images, local_runs, tmp_path,
                                                                      ray_started, monkeypatch):
    from superexplain.runner import ray_backend

    unit_bytes = images[:3].nbytes  # units of 3 images
    monkeypatch.setattr(ray_backend, "CHUNK_BYTES", 2 * unit_bytes)  # the array is 2.3 chunks, not 256 MB
    reports, run_on_ray = [], ray_backend.run_on_ray
    monkeypatch.setattr(ray_backend, "run_on_ray", lambda *args, **kwargs: reports.append(run_on_ray(*args, **kwargs)))
    # one actor keeps the test cheap (an actor's start-up is most of its time)
    result = explain_dataset(demo_model, images, "gradcam", out=tmp_path, backend="ray", num_workers=1, verbose=0,
                             batch_size=3)
    [report] = reports
    assert images.nbytes > ray_backend.CHUNK_BYTES and report["units"] == 3
    # one model load for the whole run (a pipeline per chunk loaded one per chunk: 2 here)
    assert len(report["actors"]) == 1 and report["actors"][0][1] == 1
    assert report["peak_bytes"] == ray_backend.CHUNK_BYTES  # two units in flight, never three
    reference = local_runs["gradcam"]
    assert [(r["index"], r["target"], r["score"]) for r in result.index] == \
        [(r["index"], r["target"], r["score"]) for r in reference.index]
    assert explanations_by_file(result) == explanations_by_file(reference)


def test_ray_backend_refuses_a_changed_model_file_and_overwrites_on_request(keras, images, tmp_path, ray_started):
    model_path = tmp_path / "model.keras"
    tiny_cnn(keras, 0).save(model_path)
    out = tmp_path / "out"
    explain_dataset(str(model_path), images[:3], "gradcam", out=out, verbose=0)  # both backends write the same
    tiny_cnn(keras, 1).save(model_path)
    with pytest.raises(ValueError, match=r"model's weights changed.*overwrite=True"):
        explain_dataset(str(model_path), images[:3], "gradcam", out=out, backend="ray", num_workers=1, verbose=0)
    result = explain_dataset(str(model_path), images[:3], "gradcam", out=out, backend="ray", num_workers=1,
                             overwrite=True, verbose=0)
    reference = explain_dataset(str(model_path), images[:3], "gradcam", out=tmp_path / "local", verbose=0)
    assert explanations_by_file(result) == explanations_by_file(reference)


def test_ray_backend_needs_a_model_it_can_ship(images, tmp_path):
    with pytest.raises(TypeError, match="factory"):
        explain_dataset(lambda x: x.mean(axis=(1, 2)), images, "lime", out=tmp_path, backend="ray", verbose=0)


def test_missing_ray_says_how_to_install_it(images, tmp_path, monkeypatch, demo_model):
    import superexplain.runner.ray_backend as ray_backend

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImportError, match=r'pip install "superexplain\[ray\]"'):
        ray_backend.import_ray()


# ---------------------------------------------------------------------------------------- bad input
def test_bad_arguments_are_rejected_with_their_name(demo_model, images, tmp_path):
    with pytest.raises(ValueError, match="backend"):
        explain_dataset(demo_model, images, "gradcam", out=tmp_path / "a", backend="spark")
    with pytest.raises(ValueError, match="method"):
        explain_dataset(demo_model, images, "nope", out=tmp_path / "a")
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(ValueError, match="not a directory"):
        explain_dataset(demo_model, images, "gradcam", out=a_file)
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "thesis.tex").write_text("x")
    with pytest.raises(ValueError, match="run.json"):
        explain_dataset(demo_model, images, "gradcam", out=tmp_path / "foreign")
    with pytest.raises(TypeError, match="out"):
        explain_dataset(demo_model, images, "gradcam", out=3)
    # SmoothGrad takes one seed per image (issue 23): units of 4 images, each image its single-image result
    smoothgrad = explain_dataset(demo_model, images[:3], "smoothgrad", out=tmp_path / "sg", batch_size=4,
                                 num_samples=3, verbose=0)
    for i, explanation in enumerate(smoothgrad.explanations()):
        assert_same_explanation(explanation, superexplain.explain(
            demo_model, images[i], method="smoothgrad", num_samples=3, random_state=expected_seed(0, i), verbose=0))
    with pytest.raises(TypeError, match="random_state"):
        explain_dataset(demo_model, images, "lime", out=tmp_path / "b", random_state=np.random.default_rng(0))
    with pytest.raises(ValueError, match="targets"):
        explain_dataset(demo_model, images, "gradcam", out=tmp_path / "b", targets=[0, 1])
    with pytest.raises(TypeError, match="images"):
        explain_dataset(demo_model, 5, "gradcam", out=tmp_path / "b")
    with pytest.raises(ValueError, match="image_size"):
        explain_dataset(demo_model, images, "gradcam", out=tmp_path / "b", image_size=(0, 3))
    assert not os.path.exists(tmp_path / "a") and not os.path.exists(tmp_path / "b")  # nothing written


def test_resuming_with_other_settings_is_refused(demo_model, images, local_runs):
    out = local_runs["lime"].out
    with pytest.raises(ValueError, match="method"):
        explain_dataset(demo_model, images, "gradcam", out=out, verbose=0)
    with pytest.raises(ValueError, match="options"):
        explain_dataset(demo_model, images, "lime", out=out, verbose=0, num_samples=41)
    with pytest.raises(ValueError, match="random_state"):
        explain_dataset(demo_model, images, "lime", out=out, verbose=0, random_state=1, **LIME)
    assert len(DatasetResult.open(out)) == len(images)  # untouched


def test_a_second_writer_on_the_same_directory_is_refused(demo_model, images, local_runs):
    from superexplain.runner.index import RunIndex, read_settings

    out = local_runs["gradcam"].out
    holder = RunIndex(out, read_settings(out))
    try:
        with pytest.raises(RuntimeError, match="another"):
            explain_dataset(demo_model, images, "gradcam", out=out, batch_size=3, verbose=0)
    finally:
        holder.close()


def test_open_refuses_a_directory_that_is_not_a_run(tmp_path):
    with pytest.raises(ValueError, match="run.json"):
        DatasetResult.open(tmp_path)


def test_output_picks_one_of_several_model_outputs(keras, tmp_path, rng):
    keras.utils.set_random_seed(4)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(x)
    classes = keras.layers.Dense(3, activation="softmax", name="classes")(pooled)
    two_heads = keras.Model(inputs, {"classes": classes, "box": keras.layers.Dense(4, name="box")(pooled)})
    single = keras.Model(inputs, classes)
    images = rng.random((3, 16, 16, 3)).astype("float32")
    with pytest.raises(ValueError, match=r"2 outputs.*output="):
        explain_dataset(two_heads, images, "gradcam", out=tmp_path / "none", verbose=0)
    result = explain_dataset(two_heads, images, "gradcam", out=tmp_path / "picked", output="classes", verbose=0)
    expected = superexplain.explain(single, images, method="gradcam", verbose=0)
    for explanation, reference in zip(result.explanations(), expected):
        assert explanation.target == reference.target
        np.testing.assert_allclose(explanation.feature_map, reference.feature_map, rtol=1e-6, atol=1e-9)


def test_ray_beside_a_pyarrow_that_needs_numpy_2_says_which_pyarrow_to_install(monkeypatch):
    # what a user pinned to numpy 1 (TensorFlow < 2.18) meets with the newest pyarrow: its import error
    import builtins

    from superexplain.runner.ray_backend import import_ray

    real_import = builtins.__import__

    def import_with_a_numpy_2_pyarrow(name, *args, **kwargs):
        if name.split(".")[0] == "ray":
            raise ImportError("pyarrow requires NumPy 2.0 or newer, found 1.24.4")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", import_with_a_numpy_2_pyarrow)
    with pytest.raises(ImportError, match=r'found 1\.24\.4.*pip install "pyarrow<26"'):
        import_ray()
