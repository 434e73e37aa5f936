"""THE batch loop: feeding many images to a model, a batch at a time, building the next batch ahead.

Every method, metric and the dataset runner score images through :func:`predict_in_batches`
(:meth:`Predictor.predict <superexplain.models.Predictor.predict>` included), and
:func:`fastest_batch_size` times the model at several batch sizes.
"""
from __future__ import annotations

import contextlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import numpy as np

from .._memory import aligned_empty
from .._progress import progress
from .._validation import check_int, describe

__all__ = ["run_in_batches", "predict_in_batches", "build_ahead", "fastest_batch_size"]

#: Images each timing of :func:`fastest_batch_size` covers at least: one call of 8 images is a
#: burst, short enough to run faster per image than the same size does over a whole run.
MIN_TIMED_IMAGES = 64


def predict_in_batches(predictor: Any, make_batch: Callable[..., np.ndarray], n: int,
                       batch_size: int | None = None, output: str = "output", verbose: int | bool = 0,
                       desc: str = "perturb", consume: Callable[[int, int, np.ndarray], None] | None = None,
                       first_batch_index: int = 0, image_shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Score ``n`` images that are built only one batch at a time (memory bounded by one batch).

    Parameters
    ----------
    predictor : superexplain.models.Predictor
        The model adapter (``as_predictor(model)``).
    make_batch : callable ``(start, stop) -> ndarray (stop - start, H, W, C)``
        Builds images ``start .. stop - 1``; called once per batch, in order, and where the
        model runs on a GPU (or is a plain callable) on a helper thread one batch ahead of the
        model (so it must not depend on ``consume`` having run for the previous batch; see
        :func:`build_ahead`). With ``image_shape`` given it is called as
        ``make_batch(start, stop, out)`` instead and fills ``out``, a float32 array of shape
        ``(stop - start,) + image_shape``, returning it.
    n : int
        Number of images.
    batch_size : int, optional
        Images per model call (default: the predictor's ``batch_size``, 64 unless set there).
    output : {"output", "logits"}
        The model's own output or its pre-softmax/sigmoid scores (see ``Predictor.output_for``).
    verbose : int or bool
        A progress bar over batches.
    desc : str
        The progress bar's label.
    consume : callable ``(start, stop, scores) -> None``, optional
        Called after each batch with its scores, e.g. to accumulate a weighted mask sum while the
        batch's masks are still at hand.
    first_batch_index : int
        Added to batch numbers in error messages (for callers that score in rounds).
    image_shape : tuple of int, optional
        The images' (H, W, C): batches are then built into arrays allocated here. For a Keras
        model two arrays serve all batches in turn (the model is done with a batch before the one
        after next is built into it). A fresh batch larger than malloc recycles (32 MiB: 64 images
        of 224x224) costs a page fault per 4 KiB written; building 1000 masked 224x224 images in
        batches of 64 took 155 ms into fresh arrays and 116 ms into a reused one (2-core CPU,
        2026-12-02, ``benchmarks/RESULTS.md``). A plain callable model gets a fresh array per batch, so it may keep the
        batches it is given.

    Returns
    -------
    ndarray, shape (n, classes), float32

    Notes
    -----
    A model that raises is reported with the index of the batch it raised on; a model that
    returns the wrong number of rows, or NaN scores, is a ``ValueError`` naming the batch.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.models import as_predictor
    >>> predictor = as_predictor(lambda x: x.mean(axis=(1, 2)))
    >>> masks = np.linspace(0, 1, 10)
    >>> image = np.ones((4, 4, 3), dtype=np.float32)
    >>> scores = predict_in_batches(predictor, lambda a, b: masks[a:b, None, None, None] * image, 10, batch_size=4)
    >>> scores.shape, float(scores[-1, 0])
    ((10, 3), 1.0)
    """
    predictor.check_output(output)
    size = predictor.batch_size if batch_size is None else check_int(batch_size, "batch_size", 1)
    n = check_int(n, "n", 0)
    scores = None
    bounds = [(start, min(start + size, n)) for start in range(0, n, size)]

    reuse = image_shape is not None and getattr(predictor, "keras_model", None) is not None
    buffers: list[np.ndarray] = []

    def build(index: int) -> np.ndarray:
        if image_shape is None:
            return np.asarray(make_batch(*bounds[index]), dtype=np.float32)
        start, stop = bounds[index]
        if not reuse:
            out = aligned_empty((stop - start,) + tuple(image_shape), np.float32)
        else:
            if len(buffers) < 2:
                buffers.append(aligned_empty((size,) + tuple(image_shape), np.float32))
            out = buffers[index % 2][:stop - start]
        return np.asarray(make_batch(start, stop, out), dtype=np.float32)

    # Where the model runs on an accelerator, a helper thread builds batch i + 1 while the model
    # scores batch i (numpy and TensorFlow both release the GIL); at most two batches live. On a
    # CPU, batches are built in turn: TensorFlow's threads already take every core, and a builder
    # beside them slowed each batch by more than building it costs (see build_ahead).
    def score(index: int, batch: np.ndarray) -> np.ndarray:
        # the adapter's one model call: it checks rows, NaNs, and names the batch on errors
        return predictor.score_batch(batch, output, first_batch_index + index)

    def keep(index: int, batch_scores: np.ndarray) -> None:
        nonlocal scores
        start, stop = bounds[index]
        if scores is None:
            scores = np.empty((n, batch_scores.shape[1]), dtype=np.float32)
        scores[start:stop] = batch_scores
        if consume is not None:
            consume(start, stop, batch_scores)

    run_in_batches(build, score, len(bounds), keep, ahead=build_ahead(predictor), verbose=verbose, desc=desc)
    return scores if scores is not None else np.empty((0, 0), dtype=np.float32)


def run_in_batches(build: Callable[[int], Any], call: Callable[[int, Any], Any], n_batches: int,
                   consume: Callable[[int, Any], None] | None = None, *, ahead: bool = False,
                   verbose: int | bool = 0, desc: str = "batches") -> None:
    """THE batch loop: for each batch index ``i``, ``consume(i, call(i, build(i)))``, with a progress bar.

    Every model call over many inputs runs through here: :func:`predict_in_batches` (scores) and
    the gradient methods' compiled gradient calls. ``build`` makes batch ``i`` (any object the
    ``call`` takes); with ``ahead`` it runs on a helper thread one batch ahead of ``call``, so at
    most two batches live and ``build`` must not depend on ``consume`` having run for the batch
    before. A ``call`` that raises cancels the batch being built and the error propagates.

    Parameters
    ----------
    build : callable ``index -> batch``
    call : callable ``(index, batch) -> result``
    n_batches : int
    consume : callable ``(index, result) -> None``, optional
    ahead : bool
        Build the next batch on a helper thread while ``call`` runs (see :func:`build_ahead`).
    verbose : int or bool
        A progress bar over batches.
    desc : str
        The progress bar's label.

    Examples
    --------
    >>> results = []
    >>> run_in_batches(lambda i: [i] * 2, lambda i, batch: sum(batch), 3, lambda i, total: results.append(total))
    >>> results
    [0, 2, 4]
    """
    with (ThreadPoolExecutor(max_workers=1) if ahead else contextlib.nullcontext()) as pool, \
            progress(n_batches, desc, verbose) as bar:
        pending = pool.submit(build, 0) if pool is not None and n_batches else None
        for index in range(n_batches):
            if pool is not None and pending is not None:  # ahead: the batch was submitted
                batch = pending.result()
                pending = pool.submit(build, index + 1) if index + 1 < n_batches else None
            else:
                batch = build(index)
            try:
                result = call(index, batch)
            except BaseException:
                if pending is not None:
                    pending.cancel()
                raise
            del batch
            if consume is not None:
                consume(index, result)
            bar.update()


def build_ahead(predictor: Any) -> bool:
    """Whether :func:`predict_in_batches` builds the next batch on a helper thread while the model
    scores the current one: for a Keras model only when TensorFlow has a GPU, and for a plain
    callable (whose threads are unknown here) always.

    On a 2-core CPU the demo CNN's 1000 LIME batches took 0.165 s with the helper thread and 0.151 s
    built in turn, against 0.141 s for the model alone on prebuilt images (batch 256, medians of 15,
    2026-12-02): TensorFlow's parallel kernels wait for the core the builder holds.
    """
    if getattr(predictor, "keras_model", None) is None:
        return True
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU"))


def fastest_batch_size(predictor: Any, images: Any = None, candidates: Sequence[int] = (8, 16, 32, 64, 128, 256),
                       output: str = "output", repeat: int = 2) -> int:
    """Time the model at each candidate batch size and return the one fastest per image.

    The best batch size differs by model and machine (measured on 2-core CPUs: 64 to 256 for
    the 64x64 demo CNN, 8 to 32 for MobileNetV2 at 224x224), so it is measured rather than
    guessed. Pass the result on (``as_predictor(model, batch_size=...)``
    or a method's ``batch_size``) rather than tuning inside every run: a model's float32 scores
    can change in the last bit with the batch shape, and a fixed batch size keeps a seed's
    explanation bit-identical from run to run.

    Parameters
    ----------
    images : array_like, optional
        An image or a batch to time on, repeated to fill the largest batch. Default: uniform
        random values (seed 0) at the model's input shape; required where the shape is unknown
        (a plain callable, or a Keras model with free spatial dimensions).
    candidates : sequence of int
        Batch sizes to try.
    output : {"output", "logits"}
        Which compiled function to time (as for :meth:`predict`).
    repeat : int
        Timings per candidate, after one untimed warm-up call each (the first call at a new
        shape sets up its kernels). A timing covers at least 64 images, in several calls for
        sizes below 64, and a candidate's time per image is its fastest timing divided by the
        images it covered.

    Notes
    -----
    Candidates are timed from the smallest up, and the search stops once two in a row are
    slower per image than the best so far: time per image is, in practice, first falling then
    rising in the batch size, and the large batches are the costly ones to time. On MobileNetV2
    at 224x224 on a 2-core CPU it took 3 to 11 s and picked a size within 3% of the best of a
    full sweep (``benchmarks/RESULTS.md``, 2026-12-02).

    Returns
    -------
    int
        The candidate with the least time per image.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.models import as_predictor
    >>> predictor = as_predictor(lambda x: x.mean(axis=(1, 2)))
    >>> fastest_batch_size(predictor, np.zeros((4, 4, 3)), candidates=(2, 4)) in (2, 4)
    True
    """
    import time

    if not isinstance(candidates, Sequence) or not candidates:
        raise TypeError(f"candidates must be a non-empty sequence of batch sizes; got {describe(candidates)}")
    sizes = sorted({check_int(size, "candidates", 1) for size in candidates})
    repeat = check_int(repeat, "repeat", 1)
    predictor.check_output(output)
    if images is None:
        if None in predictor.input_shape:
            raise ValueError("images must be given to time this model: its input shape is not known "
                             f"(got {predictor.input_shape}); pass an image or a batch like the ones to explain")
        images = np.random.default_rng(0).random((1,) + tuple(predictor.input_shape), dtype=np.float32)
    batch, _ = predictor.check_images(images)
    # the images repeated to fill the largest batch, 64-byte aligned as the engine's batches are
    # (an unaligned batch is copied on its way to TensorFlow, which would tax large sizes)
    filled = aligned_empty((sizes[-1],) + batch.shape[1:], np.float32)
    filled[...] = np.resize(batch, filled.shape)
    per_image: dict[int, float] = {}
    slower = 0
    for size in sizes:
        calls = -(-MIN_TIMED_IMAGES // size)  # small sizes: several calls, as in a real run
        predictor.score_batch(filled[:size], output, 0)  # the first call at a new shape sets up its kernels
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            for _ in range(calls):
                predictor.score_batch(filled[:size], output, 0)
            times.append(time.perf_counter() - start)
        per_image[size] = min(times) / (calls * size)
        slower = slower + 1 if per_image[size] > min(per_image.values()) else 0
        if slower == 2:
            break
    return min(per_image, key=per_image.__getitem__)
