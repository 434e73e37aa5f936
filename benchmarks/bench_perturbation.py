"""Perturbation engine: overhead over the model's own prediction, building masked images, samples to a stable
top-5, streaming memory."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np

from ._common import astronaut_224, best_time, mobilenet_astronaut, table

#: Demo-set image (make_shapes(16, seed=2024)) timed in the overhead section.
OVERHEAD_IMAGE = 5
#: Batch sizes at which the floor (the bare model) is timed.
FLOOR_BATCHES = (32, 64, 128, 256)
#: Options of lime's surrogate that ours reproduces: kernel width and ridge strength.
KERNEL_WIDTH, ALPHA = 0.25, 1.0


def _top5(weights) -> frozenset:
    return frozenset(np.argsort(-np.asarray(weights), kind="stable")[:5].tolist())


def _lime_instance(model_fn, image, segments, num_samples, batch_size=10, seed=0):
    from lime import lime_image

    explainer = lime_image.LimeImageExplainer(kernel_width=KERNEL_WIDTH, random_state=seed)
    with open(os.devnull, "w") as sink:  # lime draws a tqdm bar per call
        stderr, sys.stderr = sys.stderr, sink
        try:
            return explainer.explain_instance(image.astype(np.float64), model_fn, top_labels=1, hide_color=None,
                                              num_samples=num_samples, batch_size=batch_size,
                                              segmentation_fn=lambda _: segments, num_features=10**5)
        finally:
            sys.stderr = stderr


def _once(function) -> float:
    """Wall-clock seconds of one call, no warm-up (the rounds below do their own)."""
    return best_time(function, repeat=1, warmup=0)


# ---------------------------------------------------------------------- overhead
def _overhead_row(name, model, image, num_samples, rounds, predict_rounds, warmup_samples=None):
    """Interleaved rounds: each round times the floor at every batch size, ours, lime compiled, lime predict.

    Interleaving puts every contender under the same machine speed within a round, so a slow spell
    of a shared machine does not land on one contender only. ``warmup_samples`` (default
    ``num_samples``) sizes the untimed warm-up round, which traces the graphs.
    """
    import tensorflow as tf

    import superexplain
    from superexplain.models import as_predictor
    from superexplain.perturbation.masking import SegmentMasker
    from superexplain.perturbation._hide import hide_image
    from superexplain.perturbation.samplers import paired_masks
    from superexplain.segmentation import segment

    segments = segment(image)
    n_segments = int(segments.max()) + 1
    masks = paired_masks(np.random.default_rng(0), num_samples, n_segments).masks
    # held through all rounds (600 MB for 1000 images at 224x224); built once, outside every timing
    masked = SegmentMasker(image, segments, hide_image(image, segments, "mean"))(masks)
    forward = tf.function(lambda x: model(x, training=False),
                          input_signature=[tf.TensorSpec((None,) + image.shape, tf.float32)])
    predictor = as_predictor(model)

    def floor(batch_size, n):
        for start in range(0, n, batch_size):
            forward(tf.constant(masked[start:min(start + batch_size, n)])).numpy()

    def ours(n, batch_size=None):
        superexplain.explain(predictor, image, method="lime", num_samples=n, random_state=0, verbose=0,
                             batch_size=batch_size)

    def lime_compiled(n):
        _lime_instance(lambda b: forward(tf.constant(b, tf.float32)).numpy(), image, segments, n)

    def lime_predict(n):
        _lime_instance(lambda b: model.predict(b, verbose=0), image, segments, n)

    warm = num_samples if warmup_samples is None else warmup_samples
    for batch_size in FLOOR_BATCHES:
        floor(batch_size, warm)
    ours(warm)
    tuning_start = time.perf_counter()
    pick = predictor.fastest_batch_size(image)  # once per model and machine, outside the rounds
    tuning = time.perf_counter() - tuning_start
    ours(warm, pick)
    lime_compiled(warm)
    if predict_rounds:
        lime_predict(warm)

    floors = {batch_size: [] for batch_size in FLOOR_BATCHES}
    ours_times, pick_times, compiled_times, predict_times = [], [], [], []
    for round_index in range(rounds):
        for batch_size in FLOOR_BATCHES:
            floors[batch_size].append(_once(lambda: floor(batch_size, num_samples)))
        ours_times.append(_once(lambda: ours(num_samples)))
        pick_times.append(_once(lambda: ours(num_samples, pick)))
        compiled_times.append(_once(lambda: lime_compiled(num_samples)))
        if round_index < predict_rounds:
            predict_times.append(_once(lambda: lime_predict(num_samples)))

    best_batch = min(FLOOR_BATCHES, key=lambda b: min(floors[b]))
    best_floor, ours_best = min(floors[best_batch]), min(ours_times)
    per_round = [ours_times[r] / min(floors[b][r] for b in FLOOR_BATCHES) for r in range(rounds)]
    predict_rounds_label = f" (model.predict {predict_rounds})" if predict_rounds < rounds else ""
    return [name, n_segments, num_samples, f"{rounds}{predict_rounds_label}",
            f"{best_floor:.3f} (batch {best_batch})", f"{min(floors[64]):.3f}", f"{ours_best:.3f}",
            ours_best / best_floor, f"{pick} ({tuning:.1f} s)", f"{min(pick_times):.3f}", min(pick_times) / best_floor,
            float(np.median(per_round)), min(compiled_times) / ours_best,
            min(predict_times) / ours_best if predict_times else "not run"]


# ---------------------------------------------------------------------- building the masked images
def _masking_row(name, image, num_samples=1000, batch_size=64):
    """CPU time to build ``num_samples`` masked images in batches: a fresh array per batch vs one reused.

    This is the engine's own work per sample, which a GPU's model time no longer hides.
    """
    from superexplain._memory import aligned_empty
    from superexplain.perturbation.samplers import orthogonal_masks
    from superexplain.segmentation import segment

    segments = segment(image)
    masker = _masker(image, segments)
    masks = orthogonal_masks(np.random.default_rng(0), num_samples, int(segments.max()) + 1).masks
    starts = range(0, num_samples, batch_size)
    reused = aligned_empty((batch_size,) + image.shape, np.float32)

    def fresh():
        for start in starts:
            masker(masks[start:start + batch_size])

    def into():
        for start in starts:
            chunk = masks[start:start + batch_size]
            masker(chunk, out=reused[:len(chunk)])

    fresh_s, into_s = best_time(fresh, repeat=7), best_time(into, repeat=7)
    per_sample = into_s / num_samples * 1e6
    return [name, num_samples, batch_size, f"{fresh_s * 1e3:.1f}", f"{into_s * 1e3:.1f}", fresh_s / into_s,
            f"{per_sample:.1f}"]


# ---------------------------------------------------------------------- samples to a stable top-5
def _masker(image, segments):
    from superexplain.perturbation.masking import SegmentMasker
    from superexplain.perturbation._hide import hide_image

    return SegmentMasker(image, segments, hide_image(image, segments, "mean"))


def _fit(masks, response, clusters):
    from superexplain.perturbation.surrogate import fit_weighted_ridge, lime_kernel

    return fit_weighted_ridge(masks.astype(np.float64), response, lime_kernel(masks, KERNEL_WIDTH), ALPHA, clusters)


def _references(predictor, image, segments, target, outputs, num_samples, seed=10**6):
    """One reference per output: ours with lime's independent masks, ``num_samples`` masks shared by all outputs.

    Returns {output: (coef, coef_se)}.
    """
    from superexplain.perturbation.engine import score_masks
    from superexplain.perturbation.samplers import draw_masks

    sample = draw_masks("bernoulli", np.random.default_rng(seed), num_samples, int(segments.max()) + 1)
    masker = _masker(image, segments)
    references = {}
    for output in outputs:  # each from the model's own output: the function the compared runs explain
        response = score_masks(predictor, masker, sample.masks, None, output, 0)[:, target].astype(np.float64)
        fit = _fit(sample.masks, response, sample.clusters)
        references[output] = (np.asarray(fit.coef), np.asarray(fit.coef_se))
    return references


def _ours_prefix_weights(predictor, image, segments, target, output, sampler, seed, grid):
    """The weights after each prefix of one run: by prefix consistency, equal to runs with num_samples=n."""
    from superexplain.perturbation.engine import score_masks
    from superexplain.perturbation.samplers import draw_masks

    sample = draw_masks(sampler, np.random.default_rng(seed), max(grid), int(segments.max()) + 1)
    response = score_masks(predictor, _masker(image, segments), sample.masks, None, output, 0)[:, target]
    response = response.astype(np.float64)
    return [np.asarray(_fit(sample.masks[:n], response[:n], sample.clusters[:n]).coef) for n in grid]


def _lime_prefix_weights(classifier, image, segments, target, seed, grid):
    """lime's own sampler (data_labels) and its own surrogate (LimeBase) on prefixes of one draw."""
    from lime import lime_image
    from sklearn.metrics import pairwise_distances

    explainer = lime_image.LimeImageExplainer(kernel_width=KERNEL_WIDTH, random_state=seed)
    fudged = image.astype(np.float64).copy()
    for label in np.unique(segments):  # lime's hide_color=None: each segment's mean colour
        fudged[segments == label] = image[segments == label].mean(axis=0)
    with open(os.devnull, "w") as sink:  # lime draws a tqdm bar
        stderr, sys.stderr = sys.stderr, sink
        try:
            # batch size 100, not lime's 10: it changes neither the masks nor the scores, only the number of
            # model calls (this section counts samples, not seconds)
            data, labels = explainer.data_labels(image.astype(np.float64), fudged, segments, classifier, max(grid),
                                                 batch_size=100)
        finally:
            sys.stderr = stderr
    weights_per_n = []
    for n in grid:
        distances = pairwise_distances(data[:n], data[:1], metric="cosine").ravel()
        _, local, _, _ = explainer.base.explain_instance_with_data(data[:n], labels[:n], distances, target, 10**5)
        weights = np.zeros(data.shape[1])
        for index, weight in local:
            weights[index] = weight
        weights_per_n.append(weights)
    return weights_per_n


def _first_stable(hits, grid, n_seeds):
    for n, count in zip(grid, hits):
        if count >= 0.9 * n_seeds:
            return n
    return None


def _screen(predictor, images, scores, reference_samples):
    """The reference of every (score, image) and whether its top-5 is determined (5th-6th gap >= 2 SE)."""
    from superexplain.segmentation import segment

    screened = []
    for index, image in images:
        screened += _screen_image(predictor, index, image, segment(image), scores, reference_samples)
    return screened


def _screen_image(predictor, index, image, segments, scores, reference_samples):
    """The screened cases of one image on given segments: one per score (see :func:`_screen`)."""
    outputs = {score: predictor.output_for(score)[0] for score in scores}
    probabilities = predictor.predict(image[None])[0]
    target = int(np.argmax(probabilities))
    references = _references(predictor, image, segments, target, sorted(set(outputs.values())), reference_samples)
    cases = []
    for score in scores:
        coef, se = references[outputs[score]]
        order = np.argsort(-coef, kind="stable")
        fifth, sixth = order[4], order[5]
        gap, gap_se = float(coef[fifth] - coef[sixth]), float(np.hypot(se[fifth], se[sixth]))
        cases.append({"score": score, "index": index, "image": image, "segments": segments,
                      "target": target, "probability": float(probabilities[target]), "coef": coef, "se": se,
                      # a gap of exactly 0 (a model whose score no masking changes) decides nothing
                      "gap": gap, "gap_se": gap_se, "determined": gap > 0 and gap >= 2 * gap_se})
    return cases


#: Our designs compared with lime's: the default first.
OUR_DESIGNS = (("ours, orthogonal", "orthogonal"), ("ours, paired", "paired"))


def _stability(predictor, case, n_seeds, grid, n_mse, convergence_samples, auto_options=None,
               our_designs=OUR_DESIGNS):
    """Hits per n for lime and our designs, MSE at ``n_mse``, and convergence stopping, for one (image, score).

    ``auto_options`` (a dict) replaces the stopping run's ``num_samples=convergence_samples, convergence=True``
    (``{}``: the default, ``num_samples="auto"``); ``our_designs`` the designs compared with lime's.
    """
    import superexplain

    image, segments, target, score = case["image"], case["segments"], case["target"], case["score"]
    output = predictor.output_for(score)[0]
    reference, reference_top = case["coef"], _top5(case["coef"])
    at = grid.index(n_mse)

    def classifier(batch):  # lime explains the same function as ours: probabilities or logits
        return predictor.predict(batch, output=output)

    designs = [("lime 0.2.0.1", lambda seed: _lime_prefix_weights(classifier, image, segments, target, seed, grid))]
    designs += [(label, lambda seed, sampler=sampler: _ours_prefix_weights(predictor, image, segments, target, output,
                                                                          sampler, seed, grid))
                for label, sampler in our_designs]
    results = {}
    for label, weights_of in designs:
        hits = np.zeros(len(grid), int)
        errors = []
        for seed in range(n_seeds):
            weights = weights_of(seed)
            hits += np.array([_top5(w) == reference_top for w in weights])
            errors.append(float(np.mean((weights[at] - reference) ** 2)))
        results[label] = {"hits": hits, "stable": _first_stable(hits, grid, n_seeds), "mse": float(np.mean(errors))}
    # convergence stopping with the default design and criterion: the samples it used and agreement
    used, agree, by_cap, floor = [], 0, 0, None
    options = (dict(num_samples=convergence_samples, convergence=True) if auto_options is None
               else dict(auto_options))
    for seed in range(n_seeds):
        explanation = superexplain.explain(predictor, image, method="lime", segments=segments, random_state=seed,
                                           target=target, score=score, verbose=0, **options)
        used.append(int(explanation.params["samples_used"]))
        agree += _top5(explanation.weights) == reference_top
        stopping = explanation.params.get("stopping") or {}
        by_cap, floor = by_cap + (stopping.get("stopped_by") == "cap"), stopping.get("floor", floor)
    results["convergence"] = {"used": used, "agree": agree, "by_cap": by_cap, "floor": floor}
    return results


def _ratio_text(lime_n, ours_n, largest):
    if lime_n and ours_n:
        return f"{lime_n / ours_n:.2f}"
    if ours_n:  # lime never reached 90% on the grid
        return f"> {largest / ours_n:.2f}"
    if lime_n:
        return f"< {lime_n / largest:.2f}"
    return "n/a (neither reached 90%)"


def _stability_section(model, data, quick):
    from superexplain.models import as_predictor

    predictor = as_predictor(model)
    scores = ("probability", "logit")
    n_seeds = 4 if quick else 20
    grid = ([50, 100, 200] if quick else
            [25, 50, 60, 75, 90, 100, 125, 150, 175, 200, 225, 250, 300, 400, 500, 600, 800, 1000, 1500, 2000, 3000,
             5000])
    n_mse = 200 if quick else 1000
    reference_samples = 2000 if quick else 10000
    convergence_samples = 1000 if quick else 5000
    screened = _screen(predictor, [(i, data.images[i]) for i in range(8)], scores, reference_samples)

    screen_rows = [[case["score"], case["index"], f"{case['probability']:.4f}", f"{case['gap']:.2e}",
                    f"{case['gap_se']:.2e}", "yes" if case["determined"] else "no"] for case in screened]
    rows, lines, ratios = [], [], {"design": [], "convergence": []}
    for score in scores:
        chosen = [case for case in screened if case["score"] == score and case["determined"]][:3]
        if not chosen:
            lines.append(f"- score {score}: no screened image has a determined reference top-5; nothing compared.")
        for case in chosen:
            results = _stability(predictor, case, n_seeds, grid, n_mse, convergence_samples)
            for label in ("lime 0.2.0.1",) + tuple(label for label, _ in OUR_DESIGNS):
                result = results[label]
                rows.append([case["index"], score, label, " ".join(f"{n}:{h}" for n, h in zip(grid, result["hits"])),
                             result["stable"] or "> max", f"{result['mse']:.3g}"])
            convergence = results["convergence"]
            used = convergence["used"]
            rows.append([case["index"], score, "ours, orthogonal + convergence",
                         f"agree {convergence['agree']}/{n_seeds}",
                         f"used mean {np.mean(used):.0f} (min {min(used)}, max {max(used)})", ""])
            lime, ours, paired = (results[label] for label in ("lime 0.2.0.1", "ours, orthogonal", "ours, paired"))
            reference_variance = float(np.mean(case["se"] ** 2))
            n_segments = int(case["segments"].max()) + 1
            mse_ratio = lime["mse"] / ours["mse"] if ours["mse"] > 0 else float("inf")
            lime_own, ours_own = lime["mse"] - reference_variance, ours["mse"] - reference_variance
            corrected = (f"{lime_own / ours_own:.2f}" if lime_own > 0 and ours_own > 0
                         else "n/a (an MSE is within the reference's variance)")
            if lime["stable"] and ours["stable"]:
                ratios["design"].append(lime["stable"] / ours["stable"])
            stopping = (f"{lime['stable'] / np.mean(used):.2f}" if lime["stable"] else "n/a")
            if lime["stable"] and convergence["agree"] >= 0.9 * n_seeds:
                ratios["convergence"].append(lime["stable"] / np.mean(used))
            lines.append(
                f"- image {case['index']}, {score}: lime reaches 90% agreement at {lime['stable'] or '> max'} samples, "
                f"ours (orthogonal) at {ours['stable'] or '> max'} (lime / ours = "
                f"{_ratio_text(lime['stable'], ours['stable'], grid[-1])}; goal >= 3), paired masks at "
                f"{paired['stable'] or '> max'}. MSE at {n_mse} samples: lime / ours = {mse_ratio:.2f} ({corrected} "
                f"after subtracting the reference's own variance, {reference_variance:.2e}). Convergence stopping "
                f"used {np.mean(used):.0f} samples on average (max {max(used)}) and agreed with the reference in "
                f"{convergence['agree'] / n_seeds:.0%} of seeds: lime's fixed n / ours' mean = {stopping}. "
                f"{n_segments} segments: the smallest design that balances every pair and triple of them has "
                f"{2 * n_segments} masks (Rao's bound for strength 3, 2K)"
                + (f"; a third of lime's samples is {lime['stable'] / 3:.0f}." if lime["stable"] else "."))
    for kind, label in (("design", "fixed n, lime / ours (orthogonal)"),
                        ("convergence", "lime's fixed n / ours' mean with convergence stopping")):
        if ratios[kind]:
            values = ratios[kind]
            lines.append(f"- {label}: geometric mean {np.exp(np.mean(np.log(values))):.2f} over {len(values)} cases "
                         f"(min {min(values):.2f}, max {max(values):.2f}); cases at >= 3: "
                         f"{sum(v >= 3 for v in values)} of {len(values)}.")

    return (
        "## Samples to a stable top-5 (demo CNN)\n\n"
        f"Reference: for each of the first 8 images of `make_shapes(16, seed=2024)` and the model's top class, one "
        f"{reference_samples}-sample run of ours with lime's own design (independent Bernoulli masks, "
        "`sampler=\"bernoulli\"`, seed 10**6), lime's kernel (width 0.25) and ridge (alpha 1), once on the "
        "model's probabilities and once on its logits (the same masks for both). Every design estimates the "
        "same limit, so one reference serves them all.\n\n"
        "Screening: the reference's top-5 is *determined* when its 5th and 6th largest weights differ by at least "
        "2 standard errors (sandwich standard errors of the reference fit, combined as hypot(se5, se6)). Where "
        "they nearly tie, which of the two a run ranks 5th is a coin flip for any sampling design, so exact "
        "top-5 agreement never reaches 90% and samples to stable is undefined; only determined images are "
        "compared. Where the top-class probability is near 1 (saturated), every probability weight is tiny; "
        "logits are not saturated.\n\n"
        + table(["score", "image", "top-class probability", "5th-6th gap", "gap SE", "determined"], screen_rows)
        + "\n\n"
        f"Comparison on the first 3 determined images per score: over {n_seeds} seeds, lime 0.2.0.1 through its "
        "own sampler (`data_labels`, batch size 100 instead of 10, which changes only the number of model calls) "
        "and surrogate (`LimeBase`), given a classifier that returns the same "
        "function ours explains (probabilities, or `predict(output=\"logits\")` for logits; lime can explain "
        "logits as well as we can, so this compares the sampling design on one function), against ours with "
        "the default orthogonal design (randomised strength-3 orthogonal arrays: a Paley design and its complements, then linear codes in complementary pairs) and with "
        "paired masks (each random mask followed by its complement). All run on prefixes of one draw per seed (a prefix of lime's i.i.d. draw is "
        "distributed as a shorter draw; ours are prefix-consistent by design). `n:hits` counts the seeds whose "
        "top-5 equals the reference's; samples to stable is the first n with hits >= 90% of seeds. MSE: the "
        f"weights' mean squared difference from the reference at {n_mse} samples, averaged over segments and "
        "seeds; it includes the reference's own variance, which makes the lime / ours ratio an underestimate of "
        "the design's variance reduction (the bullets also give it with that variance subtracted). Convergence "
        f"stopping: `explain(..., num_samples={convergence_samples}, convergence=True, score=...)` per seed, "
        "default design and criterion; its ratio divides lime's samples to stable (an oracle: the smallest fixed n "
        "that works, known only after this study) by ours' mean samples used. "
        "Goal: ours needs <= 1/3 of lime's samples.\n\n"
        + (table(["image", "score", "method", "hits per n", "samples to stable", f"MSE at {n_mse}"], rows)
           if rows else "No image was determined; nothing compared.")
        + "\n\n" + "\n".join(lines))


# ---------------------------------------------------------------------- memory
_MEMORY_SCRIPT = """
import json, resource, sys
import superexplain
name, num_samples = sys.argv[1], int(sys.argv[2])
if name == "mobilenetv2":
    from benchmarks._common import mobilenet_astronaut
    model, image = mobilenet_astronaut()
else:
    from superexplain.datasets import load_demo_model, make_shapes
    model, image = load_demo_model(), make_shapes(1, seed=1).images[0]
superexplain.explain(model, image, method="lime", num_samples=2, random_state=0, verbose=0)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
superexplain.explain(model, image, method="lime", num_samples=num_samples, random_state=0, verbose=0)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
print(json.dumps({"before": before, "peak": after}))
"""


def _peak_memory(name, num_samples):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "-c", _MEMORY_SCRIPT, name, str(num_samples)], capture_output=True,
                          text=True, env=env, cwd=root, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> str:
    from superexplain.datasets import load_demo_model, make_shapes

    demo = load_demo_model()
    data = make_shapes(16, seed=2024)
    sections = []

    # 1. overhead
    num_samples = 200 if quick else 1000
    rounds = 2 if quick else 9
    rows = [_overhead_row("demo CNN 64x64", demo, data.images[OVERHEAD_IMAGE], num_samples, rounds, 2)]
    mobilenet_note = ""
    if not quick:
        mobilenet, image = mobilenet_astronaut()
        rows.append(_overhead_row("MobileNetV2 224x224", mobilenet, image, 1000, 2, 1, warmup_samples=256))
        mobilenet_note = (" MobileNetV2 is slow on a CPU, so it gets 2 rounds, `model.predict` in the first only, "
                          "after a warm-up round on 256 samples.")
    sections.append(
        "## LIME overhead over the model's own prediction\n\n"
        f"Interleaved rounds ({rounds} for the demo model, after one untimed warm-up round): each round times, "
        "one after another, the floor at batch sizes 32, 64, 128 and 256, then ours, then lime with the "
        "compiled classifier, then (first 2 rounds only; it is slow) lime with `model.predict`, so a slow spell "
        "of the shared machine hits every contender of that round alike." + mobilenet_note + " "
        "Floor: the model under a bare `tf.function` on the same masked images (built beforehand, untimed). "
        "Ours: `explain(method=\"lime\")` end to end, segmentation included, default batch size (64). lime "
        "0.2.0.1 with the same segments and sample count, its default batch size 10.\n\n"
        "Columns: floor s (best) is the minimum over rounds and batch sizes, with its batch size; floor s @64 "
        "the minimum over rounds at our default batch size; ours s the minimum over rounds; ours / floor the "
        "ratio of those minima; pick (tuning) the batch size `predictor.fastest_batch_size(image)` chose (candidates "
        "8-256) and the seconds its timing took, once per model and machine, before the rounds; ours s @ pick and "
        "ours @ pick / floor the same for ours run at that batch size (the floor stays the issue's, the best of "
        "32-256); median round ratio the median over rounds of (ours in that round / best floor in "
        "that same round), which a drift in machine speed between rounds does not bias; the lime columns divide "
        "lime's minimum by ours (at the default batch size). Goals: ours / floor <= 1.10; lime / ours >= 1.5 on the "
        "demo model.\n\n"
        + table(["model", "segments", "samples", "rounds", "floor s (best)", "floor s @64", "ours s", "ours / floor",
                 "pick (tuning)", "ours s @ pick", "ours @ pick / floor", "median round ratio", "lime compiled / ours",
                 "lime model.predict / ours"], rows))

    # 2. building the masked images
    masking_rows = [_masking_row("demo 64x64", data.images[OVERHEAD_IMAGE])]
    if not quick:
        masking_rows.append(_masking_row("astronaut 224x224", astronaut_224()))
    sections.append(
        "## Building the masked images\n\n"
        "The engine's own work per sample, which the model hides on a CPU but not on a GPU: `SegmentMasker` on "
        "orthogonal masks in batches of 64, best of 7, into a fresh array per batch (as before 2026-12-02 15:40) "
        "and into one reused array (what the engine now does for a Keras model). A fresh batch larger than "
        "malloc recycles after a free (32 MiB: 64 images of 224x224) costs a page fault per 4 KiB written; "
        "smaller ones come back from malloc's free lists.\n\n"
        + table(["image", "samples", "batch", "fresh arrays ms", "reused array ms", "fresh / reused",
                 "us per sample (reused)"], masking_rows))

    # 3. samples to a stable top-5
    sections.append(_stability_section(demo, data, quick))

    # 4. memory
    name, small, large = ("demo", 200, 2000) if quick else ("mobilenetv2", 1000, 10000)
    low, high = _peak_memory(name, small), _peak_memory(name, large)
    sections.append(
        "## Streaming memory\n\n"
        f"Peak resident memory of a fresh process running LIME on {name} (subprocess per row). "
        "Goal: the 10 000-sample peak within 1 GB of the 1000-sample peak.\n\n"
        + table(["samples", "peak before LIME MB", "peak after LIME MB"],
                [[small, low["before"], low["peak"]], [large, high["before"], high["peak"]]])
        + f"\n\nDifference of peaks: {high['peak'] - low['peak']:.0f} MB.")
    return "\n\n".join(sections)
