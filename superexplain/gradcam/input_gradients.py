"""The compiled input gradients of the pixel-attribution methods: the gradient function (plain or guided),
and the accumulation of gradients over images x targets x integration points x noise samples, a batch at a time.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..models.batching import run_in_batches
from ..models.cache import compiled
from ..models.tracing import compile_function

__all__ = ["input_gradient_function", "input_gradients", "sync_guided", "accumulate_attributions"]


def _guided_model(model: Any) -> tuple[Any, int]:
    from ._guided_copy import guided_copy

    return compiled(model, ("guided_copy",), lambda: guided_copy(model))


def input_gradient_function(predictor: Any, score: str = "logit", guided: bool = False) -> tuple[Any, str, int]:
    """The compiled gradient function for ``predictor``'s model, built once per (model, score, guided).

    Returns ``(function, score_kind, guided_relus)``; ``function(images, targets)`` takes a batch
    (N, H, W, C) in the model's input dtype and int32 class indices (N,), one per row, and returns
    ``(scores (N,), gradients (N, H, W, C))`` as tensors: the score of each row's target and its
    gradient with respect to that row's input. The signature has a free batch dimension, so batches
    of any size share one trace. A score target's view (:mod:`superexplain.models.score_targets`)
    differentiates its target, class 0. With ``guided=True`` the gradients come from a private copy of
    the model with rectified ReLU gradients (its weights are synced by :func:`sync_guided`).
    A plain callable raises TypeError (from ``predictor.score_function``).

    Examples
    --------
    >>> from superexplain.datasets import load_demo_model
    >>> from superexplain.models import as_predictor
    >>> function, kind, guided_relus = input_gradient_function(as_predictor(load_demo_model()), guided=True)
    >>> kind, guided_relus
    ('logit', 4)
    """

    _, kind = predictor.score_function(score)  # raises TypeError for plain callables
    model = predictor.keras_model
    guided_relus = _guided_model(model)[1] if guided else 0

    def build():
        import tensorflow as tf

        from ..models import as_predictor

        source = as_predictor(_guided_model(model)[0]) if guided else predictor
        if guided and predictor.score_target is not None:  # the guided copy, seen through the same target
            from ..models.score_targets import score_target_view

            source = score_target_view(source, predictor.score_target)
        score_fn, _ = source.score_function(score)
        height, width, channels = predictor.input_shape
        dtype = model.inputs[0].dtype if getattr(model, "inputs", None) else "float32"
        specs = [tf.TensorSpec([None, height, width, channels], dtype), tf.TensorSpec([None], tf.int32)]

        def gradients(images, targets):
            with tf.GradientTape() as tape:
                tape.watch(images)
                scores = tf.convert_to_tensor(score_fn(images))
                scores = tf.reshape(scores, [tf.shape(scores)[0], -1])
                # rows are independent in inference mode, so the gradient of the sum is per row
                picked = tf.gather(scores, targets, axis=1, batch_dims=1)
            grads = tape.gradient(picked, images)
            if grads is None:  # the score does not depend on the input
                grads = tf.zeros_like(images)
            return tf.cast(picked, tf.float32), tf.cast(grads, tf.float32)

        return compile_function(gradients, input_signature=specs, reduce_retracing=True)

    target = predictor.score_target  # a score target's view: one function per target (its cache key)
    key = ("input_gradients", score, bool(guided), None if target is None else target.cache_key)
    return compiled(model, key, build), kind, guided_relus


def input_gradients(function: Callable, predictor: Any, images: np.ndarray,
                    targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run a function from :func:`input_gradient_function` on numpy arrays; returns numpy arrays.

    Examples
    --------
    >>> import numpy as np, keras
    >>> from superexplain.models import as_predictor
    >>> model = keras.Sequential([keras.Input((2, 2, 1)), keras.layers.Flatten(), keras.layers.Dense(2)])
    >>> predictor = as_predictor(model)
    >>> function, kind, _ = input_gradient_function(predictor)
    >>> scores, grads = input_gradients(function, predictor, np.ones((3, 2, 2, 1), np.float32), np.array([0, 1, 0]))
    >>> grads.shape
    (3, 2, 2, 1)
    """
    from ..models import keras_model as _keras

    batch = _keras.as_float_input(np.ascontiguousarray(images, dtype=np.float32), predictor.keras_model)
    scores, grads = function(batch, np.asarray(targets, dtype=np.int32))
    return scores.numpy(), grads.numpy()


def sync_guided(predictor: Any) -> None:
    """Bring the guided copy's weights up to date with the user's model (before each guided run).

    Examples
    --------
    >>> from superexplain.datasets import load_demo_model
    >>> from superexplain.models import as_predictor
    >>> predictor = as_predictor(load_demo_model())
    >>> _ = input_gradient_function(predictor, guided=True)   # makes the guided copy
    >>> sync_guided(predictor)
    """
    from ._guided_copy import sync_weights

    model = predictor.keras_model
    sync_weights(model, _guided_model(model)[0])


def accumulate_attributions(predictor: Any, images: np.ndarray, jobs: list[tuple[int, int]], *, score: str,
                            guided: bool, alphas: np.ndarray, alpha_weights: np.ndarray,
                            baselines: np.ndarray | None, num_groups: int = 1,
                            noise_scales: np.ndarray | None = None, rng: Any = None,
                            batch_size: int = 64, verbose: int | bool = 0,
                            desc: str = "gradients") -> tuple[np.ndarray, np.ndarray | None]:
    """The gradient accumulation of the pixel-gradient methods, on the library's one batch loop.

    Every job ``(image index, target)`` has ``num_groups`` groups (noise samples; 1 without
    noise); each group evaluates the gradient at ``len(baselines) * len(alphas)`` points
    ``b + alpha (x' - b)`` where ``x' = x + noise``. A group's attribution is
    ``sum_{b, alpha} weight(alpha) / n_b * grad * (x' - b)`` (``* 1`` when ``baselines`` is None,
    i.e. plain gradients). All rows of all jobs are flattened and cut into batches of
    ``batch_size``, so many images, targets, steps and samples share each compiled call
    (:func:`superexplain.models.batching.run_in_batches` runs the batches, ``desc`` labels its bar).

    Noise is drawn per image (shared by its targets) from ``rng`` in image order, so the result
    does not depend on ``batch_size``'s effect on the draw order; ``rng`` is one Generator, or a
    list of one Generator per image (image ``i`` then draws what it would draw alone). A group's
    rows are summed in row order whichever batches they fall in, so a job's result does not depend
    on where its rows start in the batches (an image explained with others equals it alone).

    Returns the mean over groups (J, H, W, C) and, when ``num_groups > 1``, the population
    variance over groups (float64 arrays).

    Examples
    --------
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> from superexplain.models import as_predictor
    >>> images = make_shapes(2, seed=0).images
    >>> mean, variance = accumulate_attributions(
    ...     as_predictor(load_demo_model()), images, [(0, 1), (1, 1)], score="logit", guided=False,
    ...     alphas=np.ones(1), alpha_weights=np.ones(1), baselines=None)       # plain gradients
    >>> mean.shape, variance is None
    ((2, 64, 64, 3), True)
    """
    from ..models import keras_model as _keras

    function, _, _ = input_gradient_function(predictor, score, guided)
    gradient_call = function.get_concrete_function()  # skips the per-call signature matching of tf.function
    if guided:
        sync_guided(predictor)
    alphas = np.asarray(alphas, dtype=np.float64)
    alpha_weights = np.asarray(alpha_weights, dtype=np.float64)
    n_baselines = 1 if baselines is None else baselines.shape[1]
    points = n_baselines * alphas.size
    total_rows = len(jobs) * num_groups * points
    job_images = np.array([image for image, _ in jobs], dtype=np.int64)
    job_targets = np.array([target for _, target in jobs], dtype=np.int32)
    shape = images.shape[1:]
    sums = np.zeros((len(jobs),) + shape, np.float64)
    squares = np.zeros_like(sums) if num_groups > 1 else None
    group_sum = np.zeros(shape, np.float64)  # the group being accumulated (groups may straddle batches)
    noise: dict[int, np.ndarray] = {}
    rngs = rng if isinstance(rng, (list, tuple)) else [rng] * len(images)

    def noise_of(image: int, scales: np.ndarray) -> np.ndarray:
        if image not in noise:
            for old in [key for key in noise if key < image]:
                del noise[old]
            draws = rngs[image].standard_normal((num_groups,) + shape, dtype=np.float32)
            noise[image] = draws * np.float32(scales[image])
        return noise[image]

    starts = range(0, total_rows, batch_size)

    def build(index: int) -> tuple[tuple, tuple]:
        """Batch ``index``'s gradient inputs, and what folding its gradients needs."""
        start = starts[index]
        rows = np.arange(start, min(start + batch_size, total_rows))
        group_ids, point = np.divmod(rows, points)
        job, group = np.divmod(group_ids, num_groups)
        baseline_index, alpha_index = np.divmod(point, alphas.size)
        image_index = job_images[job]
        inputs = images[image_index]
        if noise_scales is not None:
            inputs = inputs + np.stack([noise_of(i, noise_scales)[g] for i, g in zip(image_index, group)])
        if baselines is None:
            multiplier, batch = None, inputs
        else:
            base = baselines[image_index, baseline_index]
            multiplier = inputs - base
            alpha = alphas[alpha_index]
            batch = base + alpha.astype(np.float32)[:, None, None, None] * multiplier
            at_input = alpha == 1
            batch[at_input] = inputs[at_input]  # alpha == 1 is the input itself, exactly
        feed = (_keras.as_float_input(batch, predictor.keras_model), job_targets[job])
        return feed, (rows, group_ids, job, alpha_index, multiplier)

    def call(index: int, built: tuple[tuple, tuple]) -> tuple[tuple, np.ndarray]:
        feed, fold = built
        return fold, gradient_call(*feed)[1].numpy()

    def consume(index: int, result: tuple[tuple, np.ndarray]) -> None:
        nonlocal group_sum  # ``+=`` rebinds the name (to the same array, updated in place)
        (rows, group_ids, job, alpha_index, multiplier), grads = result
        grads *= (alpha_weights[alpha_index] / n_baselines).astype(np.float32)[:, None, None, None]
        if multiplier is not None:
            grads *= multiplier
        # sum contiguous runs of the same group, then fold finished groups into their job
        run_starts = np.flatnonzero(np.r_[True, group_ids[1:] != group_ids[:-1]])
        run_sums = np.add.reduceat(grads, run_starts, axis=0, dtype=np.float64)
        for run, first in enumerate(run_starts):
            end = run_starts[run + 1] if run + 1 < len(run_starts) else len(rows)
            if rows[first] % points == 0:  # a group's first rows: their sum, in row order
                group_sum[...] = run_sums[run]
            else:  # a group begun in the last batch: its rows added one by one, the same order as one run
                for row in grads[first:end]:
                    group_sum += row
            last = rows[end - 1]
            if last % points == points - 1:
                sums[job[first]] += group_sum
                if squares is not None:
                    squares[job[first]] += group_sum * group_sum
                group_sum[...] = 0.0

    run_in_batches(build, call, len(starts), consume, verbose=verbose, desc=desc)
    mean = sums / num_groups
    variance = None if squares is None else np.maximum(squares / num_groups - mean * mean, 0.0)
    return mean, variance
