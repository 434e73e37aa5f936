"""LIME for images (Ribeiro et al., 2016) on the perturbation engine, with standard errors and convergence stopping."""
from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_choice, check_float, check_int, image_random_states
from ..explanation import Explanation
from ..models.score_targets import use_score_target
from .engine import (check_common, first_sample_targets, masked_copies, paint, per_image_segments, resolve_segments,
                     score_masks, score_perturbations, unperturbed_targets, warn_if_constant)
from .masking import SegmentMasker
from ._hide import describe_hide, hide_image
from .samplers import SAMPLERS, draw_masks
from .stopping import MAX_SAMPLES, check_num_samples, check_rule, sample_in_rounds
from .surrogate import FEATURE_SELECTIONS, fit_weighted_ridge, lime_kernel, one_blas_thread, select_features

__all__ = ["run_lime", "LimeImage"]


def _fit_targets(masks, scores, clusters, target_list, kernel_width, alpha, feature_selection, num_features):
    sample_weights = lime_kernel(masks, kernel_width)
    fits = []
    for target in target_list:
        response = scores[:, target].astype(np.float64)
        selected = select_features(masks, response, sample_weights, feature_selection, num_features)
        fit = fit_weighted_ridge(masks[:, selected].astype(np.float64), response, sample_weights, alpha, clusters)
        weights = np.zeros(masks.shape[1])
        errors = np.zeros(masks.shape[1])
        weights[selected], errors[selected] = fit.coef, fit.coef_se
        fits.append((weights, errors, fit))
    return fits


def run_lime(predictor: Any, images: np.ndarray, *, targets: Any = None, top_labels: int | None = None,
             random_state: Any = None, verbose: int | bool = 1, num_samples: int | str = "auto",
             batch_size: int | None = None, segmentation: Any = "slic", segments: Any = None,
             hide_color: Any = "mean", kernel_width: float = 0.25, alpha: float = 1.0,
             feature_selection: str = "auto", num_features: int | None = None, score: str = "probability",
             sampler: str = "orthogonal", convergence: Any = None,
             max_samples: int = MAX_SAMPLES) -> list[Explanation]:
    """LIME on superpixels: masked copies of each image, the model's scores, a weighted ridge per target.

    Parameters
    ----------
    predictor : Predictor
        The model adapter; ``images`` is a validated float32 batch (N, H, W, C).
    targets, top_labels :
        Which classes to explain (None: the top class); one shared sample set serves them all.
    random_state : int, Generator, None or sequence of int
        Seed for the masks, recorded in ``params["seed"]``; one int seed per image gives each image
        its own stream (as if explained alone with that seed).
    verbose : int or bool
        Progress bar over batches; with ``"auto"`` it shows the samples and the rule's margin.
    num_samples : "auto" or int
        ``"auto"`` (default): sample in rounds of whole design blocks and stop once, for every
        target, the top-k segments are separated from the rest by ``z`` standard errors
        (:mod:`superexplain.perturbation.stopping`), from a floor of two independent design blocks
        (about 4K to 6K samples for K segments) up to
        ``max_samples``. An int (>= 2; the first sample is the unperturbed image): exactly that
        many, as lime (whose default is 1000) does.
    max_samples : int
        The cap of an automatic run (default 4000).
    convergence : None, True or dict
        The stopping rule's settings, ``{"top_k": 5, "z": 1.0}`` by default. Given with an integer
        ``num_samples``, that integer is the cap of an automatic run.
    batch_size : int, optional
        Images per model call (default: the predictor's, 64: the fastest we measured on CPUs).
        Several images' samples share batches, so every batch is full.
    segmentation : str, dict or callable
        How to make superpixels (default SLIC, ``n_segments=50, compactness=10, sigma=1``).
    segments : ndarray (H, W) or (N, H, W), optional
        Precomputed superpixel labels (overrides ``segmentation``).
    hide_color : "mean", "blur", number, per-channel tuple or image-shaped array
        What hidden superpixels show (see :func:`superexplain.perturbation.hide_image`).
    kernel_width : float
        Width of lime's exponential kernel on the cosine distance to the unperturbed mask.
    alpha : float
        Ridge strength (the intercept is not penalised), lime's ``Ridge(alpha=1)``.
    feature_selection : {"auto", "none", "forward_selection", "lasso_path", "highest_weights"}
    num_features : int, optional
        Segments to keep in the surrogate (None: all).
    score : {"probability", "logit"}
        Explain the model's output (as lime does) or its pre-softmax logits.
    sampler : {"orthogonal", "paired", "bernoulli"}
        ``"orthogonal"`` (default): randomised strength-3 orthogonal arrays, a Paley design and its
        complements first, then linear codes in complementary pairs
        (:func:`~superexplain.perturbation.orthogonal_masks`); ``"paired"``: independent masks each
        followed by its complement; ``"bernoulli"``: lime's independent masks. All three give every
        sample lime's distribution, so the surrogate has lime's limit; the first two have less
        sampling noise.

    Returns
    -------
    list of Explanation
        Image-major, target-minor; ``weights``/``weight_errors`` per segment, ``heatmap`` the
        weights painted on ``segments``, ``params["samples_used"]`` the samples actually drawn,
        ``params["stopping"]`` the rule, ``stopped_by`` ("rule" or "cap") and the last margin
        (None for a fixed run).

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain.models import as_predictor
    >>> image = np.ones((1, 16, 16, 3), dtype=np.float32)
    >>> model = as_predictor(lambda x: x[:, :8].mean(axis=(1, 2, 3))[:, None])
    >>> [e] = run_lime(model, image, num_samples=200, segmentation={"method": "grid", "n_segments": 4},
    ...                hide_color=0, alpha=0, random_state=0, verbose=0)
    >>> np.abs(e.weights.round(6)).tolist()
    [0.5, 0.5, 0.0, 0.0]
    """
    num_samples = check_num_samples(num_samples)
    check_common(2, batch_size, score)
    max_samples = check_int(max_samples, "max_samples", 2)
    # a score function as target (superexplain.targets): its view of the model, class 0
    predictor, targets, finish = use_score_target(predictor, targets, top_labels)
    kernel_width = check_float(kernel_width, "kernel_width", 0.0, strict=True)
    alpha = check_float(alpha, "alpha", 0.0)
    check_choice(feature_selection, "feature_selection", FEATURE_SELECTIONS)
    check_choice(sampler, "sampler", SAMPLERS)
    if num_features is not None:
        check_int(num_features, "num_features", 1)
    settings = check_rule(convergence)
    automatic = num_samples == "auto" or convergence not in (None, False)
    cap = max_samples if isinstance(num_samples, str) else num_samples  # "auto": max_samples
    generators, seeds = image_random_states(random_state, len(images))
    output, score_kind = predictor.output_for(score)
    size = batch_size or predictor.batch_size
    target_lists: list[list[int]] = []
    if automatic:  # the first round's fit needs the targets
        _, target_lists = unperturbed_targets(predictor, images, targets, top_labels, output, batch_size)

    # 1. per image: superpixels, hide image and masks, each image from its own generator (or in order)
    prepared = []
    for index, image in enumerate(images):
        labels, segmentation_record = resolve_segments(image, segmentation,
                                                       per_image_segments(segments, len(images), index))
        n_segments = int(labels.max()) + 1
        if num_features is not None and num_features > n_segments:
            raise ValueError(f"num_features={num_features} is more than the {n_segments} segments of image {index}")
        masker = SegmentMasker(image, labels, hide_image(image, labels, hide_color))
        prepared.append((labels, segmentation_record, masker, draw_masks(sampler, generators[index], cap, n_segments)))

    def fit(index, sample, scores, done):
        with one_blas_thread():
            return _fit_targets(sample.masks[:done], scores, sample.clusters[:done], target_lists[index],
                                kernel_width, alpha, feature_selection, num_features)

    # 2. the model: every image's samples in shared full batches, unless an automatic run scores in rounds
    results: list[tuple[np.ndarray, int, list, dict | None]] = []
    if not automatic:
        all_scores = score_perturbations(predictor, [masked_copies(p[2], p[3].masks) for p in prepared],
                                         batch_size, output, verbose, desc="lime")
        # every image's first sample is the image itself: its scores choose the targets (no extra model call)
        target_lists = first_sample_targets(predictor, all_scores, targets, top_labels)
        for index, (_, _, _, sample) in enumerate(prepared):
            results.append((all_scores[index], cap, fit(index, sample, all_scores[index], cap), None))
    else:
        batch_offset = [0]
        for index, (labels, _, masker, sample) in enumerate(prepared):
            def score_rows(start, stop, masker=masker, sample=sample):
                new = score_masks(predictor, masker, sample.masks[start:stop], batch_size, output, 0,
                                  first_batch_index=batch_offset[0])
                batch_offset[0] += -(-(stop - start) // size)
                return new

            def refit(scores, done, index=index, sample=sample):
                return fit(index, sample, scores, done)

            results.append(sample_in_rounds(score_rows, refit, sample.clusters,
                                            2 * int(labels.max()) + 4, size, settings, f"lime image {index}", verbose))

    # 3. one Explanation per image and target
    explanations = []
    for index, ((labels, segmentation_record, _, _), (scores, done, fits, stopping)) in enumerate(
            zip(prepared, results)):
        params = {
            "num_samples": num_samples, "samples_used": done, "batch_size": size,
            "kernel_width": kernel_width, "alpha": alpha, "hide_color": describe_hide(hide_color),
            "segmentation": segmentation_record, "num_segments": int(labels.max()) + 1,
            "feature_selection": feature_selection, "num_features": num_features, "seed": seeds[index],
            "score_kind": score_kind, "sampler": sampler, "stopping": stopping,
            "max_samples": cap if automatic else None,
        }
        for target, (weights, errors, fit_) in zip(target_lists[index], fits):
            warn_if_constant("lime", scores, target, index, score_kind)
            explanations.append(Explanation(
                image=images[index], method="lime", target=target, heatmap=paint(weights, labels),
                target_name=predictor.class_name(target), score=float(scores[0, target]), segments=labels,
                weights=weights, weight_errors=errors, intercept=fit_.intercept,
                local_prediction=fit_.local_prediction, local_fit=fit_.r2, params=params))
    return finish(explanations)


class LimeImage:
    """LIME for image classifiers, configured once and applied to many images (scikit-learn style).

    The settings are stored unchanged and checked when :meth:`explain` runs; see :func:`run_lime`
    for each one. ``LimeImage(**settings).explain(model, image)`` equals
    ``superexplain.explain(model, image, method="lime", **settings)``.

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain import LimeImage
    >>> image = np.random.default_rng(0).random((16, 16, 3)).astype(np.float32)
    >>> explainer = LimeImage(num_samples=200, random_state=0, hide_color=0,
    ...                       segmentation={"method": "grid", "n_segments": 4})
    >>> explanation = explainer.explain(lambda x: x[:, :8].mean(axis=(1, 2, 3))[:, None], image, verbose=0)
    >>> int(explanation.weights.argmax()) in (0, 1)
    True
    """

    def __init__(self, num_samples: int | str = "auto", *, batch_size: int | None = None, segmentation: Any = "slic",
                 hide_color: Any = "mean", kernel_width: float = 0.25, alpha: float = 1.0,
                 feature_selection: str = "auto", num_features: int | None = None, score: str = "probability",
                 sampler: str = "orthogonal", convergence: Any = None, max_samples: int = MAX_SAMPLES,
                 random_state: Any = None) -> None:
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.segmentation = segmentation
        self.hide_color = hide_color
        self.kernel_width = kernel_width
        self.alpha = alpha
        self.feature_selection = feature_selection
        self.num_features = num_features
        self.score = score
        self.sampler = sampler
        self.convergence = convergence
        self.max_samples = max_samples
        self.random_state = random_state

    def get_params(self) -> dict:
        """The settings, as given."""
        return {name: getattr(self, name) for name in (
            "num_samples", "batch_size", "segmentation", "hide_color", "kernel_width", "alpha",
            "feature_selection", "num_features", "score", "sampler", "convergence", "max_samples",
            "random_state")}

    def explain(self, model: Any, image: Any, target: Any = None, *, top_labels: int | None = None,
                segments: Any = None, class_names: Any = None,
                verbose: int | bool = 1) -> Explanation | list[Explanation]:
        """Explain ``image`` (one or a batch) for ``target``; returns an Explanation or a list.

        Parameters
        ----------
        model : keras.Model, path or callable
        image : array_like, (H, W[, C]) or (N, H, W, C)
        target : int, str or list, optional
        top_labels : int, optional
        segments : ndarray, optional
            Precomputed superpixels for this image (overrides ``segmentation``).
        class_names : list or dict, optional
        verbose : int or bool
        """
        from ..explain import explain

        settings = self.get_params()
        random_state = settings.pop("random_state")
        return explain(model, image, method="lime", target=target, top_labels=top_labels, class_names=class_names,
                       random_state=random_state, verbose=verbose, segments=segments, **settings)

    def __repr__(self) -> str:
        changed = {k: v for k, v in self.get_params().items() if v != LimeImage().get_params()[k]}
        return "LimeImage(" + ", ".join(f"{k}={v!r}" for k, v in changed.items()) + ")"
