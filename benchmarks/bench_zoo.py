"""Model zoo speed: Grad-CAM and LIME against their floors on one member of each keras.applications family."""
from __future__ import annotations

import gc
import os
import sys
import time
from typing import Any, Callable

import numpy as np

from ._common import machine, peak_rss_mb, table
from ._zoo import FAMILIES, build, sample_images

#: One member per family group, about 40 minutes on a 2-core CPU (RESULTS.md gives each family's minutes);
#: SUPEREXPLAIN_ZOO_FAMILIES picks others. ConvNeXt is left out of the CPU default: Keras 3 runs its 7x7
#: depthwise step as Conv2D(groups=channels), which TensorFlow's CPU kernels take about 85x longer than
#: DepthwiseConv2D (1474 ms against 17 ms on a (16, 56, 56, 96) batch), so the family alone would take
#: 20-25 minutes; its ratios are the same kind of measurement (SUPEREXPLAIN_ZOO_FAMILIES=ConvNeXtTiny).
DEFAULT_FAMILIES = ("ResNet50", "ResNet50V2", "VGG16", "InceptionV3", "InceptionResNetV2", "Xception", "MobileNet",
                    "MobileNetV2", "MobileNetV3Small", "MobileNetV3Large", "DenseNet121", "NASNetMobile",
                    "EfficientNetB0", "EfficientNetV2B0")
QUICK_FAMILIES = ("MobileNetV3Small", "EfficientNetB0")
#: Comma-separated family names from benchmarks/_zoo.py, or "all".
FAMILIES_VARIABLE = "SUPEREXPLAIN_ZOO_FAMILIES"
#: Batch sizes the LIME floor tries: those of Predictor.fastest_batch_size. Each divides the
#: number of distinct masked images the floor cycles through (the largest), so batches never wrap.
CANDIDATES = (8, 16, 32, 64, 128, 256)
#: Like fastest_batch_size: a timing covers at least this many images, best of 2 per size.
MIN_TIMED_IMAGES = 64
GRADCAM_GOAL, LIME_GOAL = 1.2, 1.10
#: Fewer rounds for slow models, to keep the default run near 45 minutes on 2 CPU cores: Grad-CAM
#: times one round less where ours' warm-up call took longer, LIME one round where the floor's
#: search predicts a round (floor + ours) longer than this many seconds.
SLOW_GRADCAM_S, SLOW_LIME_ROUND_S = 10.0, 120.0


def _settings(quick: bool) -> dict:
    if quick:
        return {"size": 96, "images": 8, "samples": 100, "gradcam_rounds": 1, "lime_rounds": 1}
    return {"size": 224, "images": 32, "samples": 1000, "gradcam_rounds": 3, "lime_rounds": 2}


def _families(quick: bool) -> list[str]:
    chosen = os.environ.get(FAMILIES_VARIABLE, "").strip()
    known = [family.name for family in FAMILIES]
    if not chosen:
        return list(QUICK_FAMILIES if quick else DEFAULT_FAMILIES)
    if chosen == "all":
        return known
    names = [name.strip() for name in chosen.split(",") if name.strip()]
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise ValueError(f"{FAMILIES_VARIABLE}={chosen!r} names unknown families {unknown}; "
                         f"known: 'all' or a comma-separated list of {known}")
    return names


def _rounds(count: int) -> str:
    return f"{count} interleaved round" + ("" if count == 1 else "s")


def _timed(function: Callable[[], Any]) -> tuple[float, Any]:
    """Wall-clock seconds of one call, and what it returned."""
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


# ---------------------------------------------------------------------- Grad-CAM
def _gradcam_floor(model, layer_name: str):
    """The least any Grad-CAM does: one compiled forward + backward pass from the top-class logit to the layer.

    The logit is what ours explains: the Dense head's ``input @ kernel + bias``, or the input of an
    Activation head. Returns activations and gradients, the two arrays every CAM is made of.
    """
    import keras
    import tensorflow as tf

    head = model.layers[-1]
    activation = getattr(getattr(head, "activation", None), "__name__", None)
    if head.output is not model.outputs[0] or activation != "softmax":
        raise ValueError(f"the floor knows models ending in a softmax layer; {model.name} ends in "
                         f"{type(head).__name__} {head.name!r} (activation {activation})")
    if isinstance(head, keras.layers.Dense):
        def to_logits(features):
            return tf.matmul(features, head.kernel) + head.bias
    elif isinstance(head, keras.layers.Activation):
        def to_logits(features):
            return features
    else:
        raise ValueError(f"the floor knows Dense and Activation softmax heads; {model.name} ends in "
                         f"{type(head).__name__}")
    exposed = keras.Model(model.inputs[0], [model.get_layer(layer_name).output, head.input])

    @tf.function(input_signature=[tf.TensorSpec([None, *model.inputs[0].shape[1:]], tf.float32)])
    def floor(x):
        with tf.GradientTape() as tape:
            activations, features = exposed(x, training=False)
            score = tf.reduce_sum(tf.reduce_max(to_logits(features), axis=1))
        return activations, tape.gradient(score, activations)

    return floor


def _gradcam(model, images: np.ndarray, rounds: int) -> dict:
    """Ours and the floor, warmed up, then timed in interleaved rounds (floor, ours); best of each."""
    import tensorflow as tf

    import superexplain

    def ours():
        return superexplain.explain(model, images, method="gradcam", verbose=0, batch_size=len(images))

    warm_s, explanations = _timed(ours)  # warm-up: traces ours' graph and tells which layer it chose
    layer = explanations[0].params["layer"]
    del explanations
    if warm_s > SLOW_GRADCAM_S:
        rounds = max(1, rounds - 1)
    floor = _gradcam_floor(model, layer)
    inputs = tf.constant(images)  # made beforehand: the floor converts nothing

    def floor_call():
        return [tensor.numpy() for tensor in floor(inputs)]

    floor_call()  # warm-up: traces
    floor_times, ours_times = [], []
    for _ in range(rounds):
        floor_times.append(_timed(floor_call)[0])
        ours_times.append(_timed(ours)[0])
    return {"layer": layer, "floor": min(floor_times), "ours": min(ours_times), "rounds": rounds}


def _gradcam_profile(model, layer: str, images: np.ndarray, ours_s: float) -> str:
    """Where ours' time goes: its own compiled graph call, combining and upsampling the maps in numpy, the rest."""
    from superexplain.gradcam import cam_maps as _cam
    from superexplain.gradcam.cam_graph import cam_graph
    from superexplain.gradcam.layers import resolve_layer
    from superexplain.gradcam.cam_common import encode_targets
    from superexplain.models import as_predictor
    from superexplain.models.keras_model import as_float_input

    predictor = as_predictor(model)
    graph, _ = cam_graph(predictor, resolve_layer(model, layer), "logit")  # the graph ours cached on the model
    targets, _ = encode_targets(predictor, len(images), None, None)
    graph_times, combine_times = [], []
    for _ in range(2):
        seconds, outputs = _timed(lambda: [t.numpy() for t in graph.gradients(as_float_input(images, model), targets)])
        activations, _, gradients, _ = outputs
        graph_times.append(seconds)
        combine_times.append(_timed(lambda: _cam.upsample(np.maximum(_cam.gradcam(activations, gradients), 0.0),
                                                          images.shape[1:3]))[0])
    graph_s, combine_s = min(graph_times), min(combine_times)
    rest = ours_s - graph_s - combine_s
    left = (f"leaving {rest:.3g} s for checking the images, finding the layer and building the Explanations"
            if rest > 0 else "which leave nothing measurable for the rest: the difference is timing noise")
    return (f"its compiled graph call took {graph_s:.3g} s and combining and upsampling the maps {combine_s:.3g} s "
            f"(best of 2 each), {left}")


# ---------------------------------------------------------------------- LIME
def _lime(model, image: np.ndarray, samples: int, rounds: int) -> dict:
    """Ours at the picked batch size and the bare model at its own best batch size, on ``samples`` images."""
    import tensorflow as tf

    import superexplain
    from superexplain.models import as_predictor
    from superexplain.perturbation._hide import hide_image
    from superexplain.perturbation.masking import SegmentMasker
    from superexplain.perturbation.samplers import draw_masks
    from superexplain.segmentation import segment

    tuning_s, pick = _timed(lambda: as_predictor(model).fastest_batch_size(image))

    # the floor's images: masked copies of the image (the model's time does not depend on which), cycled;
    # handed to TensorFlow beforehand, as ours hands its aligned batches over without a copy
    segments = segment(image)
    masks = draw_masks("orthogonal", np.random.default_rng(0), max(CANDIDATES), int(segments.max()) + 1).masks
    pool = tf.constant(SegmentMasker(image, segments, hide_image(image, segments, "mean"))(masks))
    forward = tf.function(lambda x: model(x, training=False),
                          input_signature=[tf.TensorSpec((None,) + image.shape, tf.float32)])

    def floor(batch_size: int, n: int) -> None:
        for start in range(0, n, batch_size):
            offset = start % len(pool)
            forward(pool[offset:offset + min(batch_size, n - start)]).numpy()

    # the floor's best batch size, searched as fastest_batch_size searches ours
    per_image: dict[int, float] = {}
    slower = 0
    for size in CANDIDATES:
        count = -(-MIN_TIMED_IMAGES // size) * size
        floor(size, size)  # the first call at a new shape sets up its kernels
        per_image[size] = min(_timed(lambda: floor(size, count))[0] for _ in range(2)) / count
        slower = slower + 1 if per_image[size] > min(per_image.values()) else 0
        if slower == 2:
            break
    floor_batch = min(per_image, key=per_image.get)
    if 2 * samples * per_image[floor_batch] > SLOW_LIME_ROUND_S:
        rounds = 1

    def ours(n: int = samples):
        # convergence=None: exactly n samples (the default; said here so a changed default cannot shorten the run)
        return superexplain.explain(model, image, method="lime", num_samples=n, convergence=None, random_state=0,
                                    verbose=0, batch_size=pick)

    # warm-ups at the shapes of the timed runs: a full batch and the last, partial one
    floor(floor_batch, floor_batch + samples % floor_batch)
    ours(max(2, pick + samples % pick))
    floor_times, ours_times = [], []
    for _ in range(rounds):
        floor_times.append(_timed(lambda: floor(floor_batch, samples))[0])
        seconds, explanation = _timed(ours)
        if explanation.params["samples_used"] != samples:
            raise AssertionError(f"LIME used {explanation.params['samples_used']} samples, not {samples}")
        ours_times.append(seconds)
    return {"pick": pick, "tuning": tuning_s, "floor_batch": floor_batch, "floor": min(floor_times),
            "ours": min(ours_times), "rounds": rounds, "floor_per_image": per_image}


def _lime_profile(model, image: np.ndarray, samples: int, pick: int, ours_s: float) -> str:
    """Ours' steps outside the model, timed alone with ours' defaults; the rest is model calls and batching."""
    from superexplain._memory import aligned_empty
    from superexplain.models import as_predictor
    from superexplain.perturbation.engine import resolve_segments
    from superexplain.perturbation._hide import hide_image
    from superexplain.perturbation.masking import SegmentMasker
    from superexplain.perturbation.lime import _fit_targets
    from superexplain.perturbation.samplers import draw_masks
    from superexplain.perturbation.surrogate import one_blas_thread

    segmentation_s, (segments, _) = _timed(lambda: resolve_segments(image, "slic"))
    masks_s, sample = _timed(lambda: draw_masks("orthogonal", np.random.default_rng(0), samples,
                                                int(segments.max()) + 1))
    masker = SegmentMasker(image, segments, hide_image(image, segments, "mean"))
    batch = aligned_empty((pick,) + image.shape, np.float32)

    def build_all():
        for start in range(0, samples, pick):
            chunk = sample.masks[start:start + pick]
            masker(chunk, out=batch[:len(chunk)])

    building_s, _ = _timed(build_all)
    # the fit's cost does not depend on the scores' values: random ones stand in for the model's
    scores = np.random.default_rng(0).random((samples, as_predictor(model).num_classes)).astype(np.float32)

    def fit():
        with one_blas_thread():
            return _fit_targets(sample.masks, scores, sample.clusters, [0], 0.25, 1.0, "auto", None)

    fit_s, _ = _timed(fit)
    rest = ours_s - segmentation_s - masks_s - building_s - fit_s
    return (f"SLIC {segmentation_s:.3g} s, drawing masks {masks_s:.3g} s, building the masked images "
            f"{building_s:.3g} s, the fit {fit_s:.3g} s, leaving {rest:.3g} s for the model calls and batching")


# ---------------------------------------------------------------------- one family
def _profile(describe: Callable[[], str]) -> str:
    """A profile's sentence, or why there is none: it uses the library's internals, which may have moved,
    and a broken profile should not cost the row its timings."""
    try:
        return describe()
    except Exception as exc:  # recorded in the note, not hidden
        return f"no profile ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})"


def _family_row(name: str, settings: dict) -> tuple[list, list[str]]:
    size, samples = settings["size"], settings["samples"]
    model = build(name, "flat", size=size, classes=1000, seed=0)
    images = sample_images(name, settings["images"], size=size)
    image = sample_images(name, 1, size=size)[0]
    gradcam = _gradcam(model, images, settings["gradcam_rounds"])
    lime = _lime(model, image, samples, settings["lime_rounds"])
    gradcam_ratio, lime_ratio = gradcam["ours"] / gradcam["floor"], lime["ours"] / lime["floor"]
    misses, notes = [], []
    if gradcam_ratio > GRADCAM_GOAL:
        misses.append("Grad-CAM")
        profile = _profile(lambda: _gradcam_profile(model, gradcam["layer"], images, gradcam["ours"]))
        notes.append(f"{name}, Grad-CAM {gradcam_ratio:.2f}x: of ours' {gradcam['ours']:.3g} s (floor "
                     f"{gradcam['floor']:.3g} s), {profile}.")
    if lime_ratio > LIME_GOAL:
        misses.append("LIME")
        pick, best, per_image = lime["pick"], lime["floor_batch"], lime["floor_per_image"]
        pick_note = "" if pick == best else f"; ours ran at batch {pick}, the floor was fastest at {best}"
        if pick != best and pick in per_image:
            slower = per_image[pick] / per_image[best]
            pick_note += f", where the floor's search timed batch {pick} {slower:.2f}x slower per image"
        notes.append(f"{name}, LIME {lime_ratio:.2f}x: of ours' {lime['ours']:.3g} s (floor {lime['floor']:.3g} s"
                     f"{pick_note}), {_profile(lambda: _lime_profile(model, image, samples, pick, lime['ours']))}.")
    row = [name, gradcam["layer"], gradcam["floor"], gradcam["ours"], gradcam_ratio,
           f"{lime['pick']} ({lime['tuning']:.1f} s)", f"{lime['floor']:.3g} (batch {lime['floor_batch']})",
           lime["ours"], lime_ratio, f"{gradcam['rounds']} / {lime['rounds']}",
           "yes" if not misses else "no: " + ", ".join(misses)]
    return row, notes


def run(quick: bool = False) -> str:
    import keras

    settings = _settings(quick)
    size, count, samples = settings["size"], settings["images"], settings["samples"]
    rows, notes, minutes = [], [], []
    start = time.perf_counter()
    for name in _families(quick):
        family_start = time.perf_counter()
        sys.stderr.write(f"   {name} ({family_start - start:.0f} s)\n")
        try:
            row, family_notes = _family_row(name, settings)
        except Exception as exc:  # one family failing is a finding of its own: recorded, the others still run
            row = [name] + ["-"] * 9 + [f"failed: {type(exc).__name__}"]
            family_notes = [f"{name} failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"]
        rows.append(row)
        notes += family_notes
        minutes.append(f"{name} {(time.perf_counter() - family_start) / 60:.1f}")
        keras.backend.clear_session()  # free the model and its compiled functions before the next
        gc.collect()
    elapsed = time.perf_counter() - start
    missed = "\n".join(f"- {note}" for note in notes) if notes else "- Every family meets both goals."
    return (
        "## Model zoo: Grad-CAM and LIME against their floors, one family per row\n\n"
        f"Each family built by `benchmarks/_zoo.py` (`weights=None`, 1000 classes, seed 0) at {size}x{size}, on smooth "
        "random images in its input range (`sample_images`). "
        f"Grad-CAM: `explain(model, images, method=\"gradcam\", batch_size={count})` on {count} images (automatic "
        "layer, top class, logit) against the floor, a bare `tf.function` doing one forward + backward pass from a "
        "tensor made beforehand to the layer ours chose, for the top-class logit (the Dense head's "
        "`input @ kernel + bias`, or the Activation head's input) and returning activations and gradients; one "
        f"warm-up call each, then {_rounds(settings['gradcam_rounds'])} (floor, ours; one fewer where ours' "
        f"warm-up call took over {SLOW_GRADCAM_S:.0f} s), best of each. "
        f"LIME: `explain(model, image, method=\"lime\", num_samples={samples}, batch_size=pick, random_state=0)` end "
        "to end, SLIC included, where pick is `as_predictor(model).fastest_batch_size(image)`, run once before the "
        "rounds (its seconds in brackets). Its floor: the model under a bare `tf.function` on "
        f"{samples} masked copies of the image (256 built beforehand as TensorFlow tensors and cycled: the floor "
        "builds and converts nothing) at the batch size fastest for that function, searched as `fastest_batch_size` "
        "searches (candidates 8-256 from the smallest up, at least 64 images per timing, best of 2, stopping after "
        "two in a row slower); warm-ups at the full and the last partial batch's shape, then "
        f"{_rounds(settings['lime_rounds'])} (floor, ours; 1 where the floor's search predicts a round "
        f"over {SLOW_LIME_ROUND_S:.0f} s), best of each. The rounds column gives Grad-CAM's / LIME's.\n\n"
        + table(["family", "layer chosen", "Grad-CAM floor s", "Grad-CAM ours s", "Grad-CAM ours / floor",
                 "LIME pick (tuning)", "LIME floor s (batch)", "LIME ours s", "LIME ours / floor", "rounds",
                 "meets goals"],
                rows)
        + f"\n\nGoals: Grad-CAM ours / floor <= {GRADCAM_GOAL}, LIME ours / floor <= {LIME_GOAL}. "
        f"Machine: {machine()}.\n\n"
        "Misses, with where ours' time went (each step timed alone, after the rounds):\n\n"
        + missed
        + f"\n\nPeak RSS {peak_rss_mb():.0f} MB; {len(rows)} famil{'y' if len(rows) == 1 else 'ies'} in "
        f"{elapsed / 60:.1f} min (per family, building included: {', '.join(minutes)} min).\n"
    )
