"""Options every CAM method shares, as one wrapper: test-time augmentation (``aug_smooth``) and layer fusion (``layer=[...]``).

:func:`run_with_cam_options` takes a method's plain run (one layer, no augmentation) and

* with ``aug_smooth``: runs it on augmented copies of the images (horizontal flip x pixel
  multipliers), maps each copy's maps back to the original geometry and averages them;
* with a list of layers: runs it (smoothed or not) once per layer, normalises each layer's map
  by its own maximum and fuses the layers by the element-wise maximum.

Targets are resolved once, on the original images and the first layer: a "top class" target
cannot change class on an augmented copy or another layer.
"""
from __future__ import annotations

import numbers
from typing import Any, Callable

import numpy as np

from .._validation import describe
from ..explanation import Explanation

__all__ = ["DEFAULT_AUGMENTATIONS", "FUSION_RULE", "check_aug_smooth", "run_with_cam_options", "fuse_maps"]

#: ``aug_smooth=True``: {identity, horizontal flip} x pixel multipliers {0.9, 1.0, 1.1}, as
#: (horizontal flip, multiplier) pairs (pytorch-grad-cam's ttach set-up).
DEFAULT_AUGMENTATIONS = tuple((flip, multiplier) for flip in (False, True) for multiplier in (0.9, 1.0, 1.1))
#: What ``params["fusion"]`` says of a layer list.
FUSION_RULE = "element-wise maximum of the layers' maps, each divided by its own maximum |value| (an all-zero map stays 0)"
#: ``params["aug_smooth_rule"]`` of a smoothed explanation.
AUG_RULE = "mean of the copies' final maps (after the method's ReLU, if any), each flipped back; no per-copy scaling"


def check_aug_smooth(aug_smooth: Any) -> tuple[tuple[bool, float], ...]:
    """The augmentations ``aug_smooth`` asks for: () for False, :data:`DEFAULT_AUGMENTATIONS` for True, or
    a non-empty sequence of ``(horizontal_flip, multiplier)`` pairs (multiplier > 0).

    Examples
    --------
    >>> check_aug_smooth(False), len(check_aug_smooth(True))
    ((), 6)
    >>> check_aug_smooth([(True, 1.0)])
    ((True, 1.0),)
    """
    if isinstance(aug_smooth, (bool, np.bool_)):
        return DEFAULT_AUGMENTATIONS if aug_smooth else ()
    expected = "True, False or a non-empty list of (horizontal_flip: bool, multiplier > 0) pairs"
    if isinstance(aug_smooth, (str, bytes)) or not hasattr(aug_smooth, "__len__") or len(aug_smooth) == 0:
        raise TypeError(f"aug_smooth must be {expected}; got {describe(aug_smooth)}")
    pairs = []
    for entry in aug_smooth:
        if (not isinstance(entry, (tuple, list)) or len(entry) != 2 or not isinstance(entry[0], (bool, np.bool_))
                or isinstance(entry[1], (bool, np.bool_)) or not isinstance(entry[1], numbers.Real)
                or not float(entry[1]) > 0.0):
            raise TypeError(f"aug_smooth must be {expected}; got the entry {entry!r}")
        pairs.append((bool(entry[0]), float(entry[1])))
    return tuple(pairs)


def _normalised(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, np.float64)
    top = np.abs(values).max() if values.size else 0.0
    return values / top if top > 0 else np.zeros_like(values)


def fuse_maps(maps: list) -> np.ndarray:
    """Fuse maps of one shape (each 2-D): each divided by its own maximum |value|, then the element-wise maximum.

    Examples
    --------
    >>> fuse_maps([np.array([[0.0, 2.0]]), np.array([[1.0, 0.0]]), np.zeros((1, 2))]).tolist()
    [[1.0, 1.0]]
    """
    return np.max(np.stack([_normalised(m) for m in maps]), axis=0)


def _flip_back(explanation: Explanation, flip: bool) -> tuple[np.ndarray, np.ndarray | None]:
    heatmap, feature_map = explanation.heatmap.astype(np.float64), explanation.feature_map
    feature_map = None if feature_map is None else feature_map.astype(np.float64)
    if flip:
        heatmap = heatmap[:, ::-1]
        feature_map = None if feature_map is None else feature_map[:, ::-1]
    return heatmap, feature_map


def _fixed_targets(first: list[Explanation], n_images: int, targets: Any, top_labels: Any) -> tuple[Any, Any]:
    """The targets the other runs get: the explicit ones unchanged, else the classes the first run resolved."""
    if targets is not None:
        return targets, top_labels
    per_image = len(first) // max(n_images, 1)
    return [[e.target for e in first[i * per_image:(i + 1) * per_image]] for i in range(n_images)], None


def _smoothed(run: Callable, images: np.ndarray, augmentations: tuple, first: list[Explanation],
              fixed: tuple) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """(heatmap, feature_map) of every explanation of ``first``, averaged over the augmented copies."""
    sums: list[list[Any]] = [
        [np.zeros_like(e.heatmap, np.float64), None if e.feature_map is None else np.zeros(e.feature_map.shape)]
        for e in first]
    floats = np.asarray(images, np.float32)
    for flip, multiplier in augmentations:
        if not flip and multiplier == 1.0:
            copies = first
        else:
            augmented = (floats[:, :, ::-1] if flip else floats) * np.float32(multiplier)
            copies = run(np.ascontiguousarray(augmented, np.float32), fixed)
        for total, copy in zip(sums, copies):
            heatmap, feature_map = _flip_back(copy, flip)
            total[0] += heatmap
            if total[1] is not None and feature_map is not None and feature_map.shape == total[1].shape:
                total[1] += feature_map
    count = float(len(augmentations))
    return [(heatmap / count, None if feature_map is None else feature_map / count) for heatmap, feature_map in sums]


def run_with_cam_options(run_once: Callable, predictor, images: np.ndarray, *, targets: Any = None,
                         top_labels: Any = None, verbose: Any = 1, layer: Any = None, aug_smooth: Any = False,
                         fusion_layers: bool = True, **options) -> list[Explanation]:
    """Run a CAM method with ``aug_smooth`` and a list of layers, on top of its plain single-layer run.

    Parameters
    ----------
    run_once : callable
        ``run_once(predictor, images, *, targets, top_labels, verbose, layer, **options)``: the
        plain method on one layer, without augmentation, returning one Explanation per image and
        target, images in order.
    predictor, images, targets, top_labels, verbose
        As the method's run function takes them.
    layer : None, layer spec, or list of layer specs
        A list (or tuple) of two or more layers fuses their maps (see Notes); one layer (or a
        one-element list) is passed on.
    aug_smooth : bool or sequence of (bool, float)
        True: test-time augmentation over :data:`DEFAULT_AUGMENTATIONS` (6 copies); or the
        ``(horizontal_flip, pixel_multiplier)`` pairs to use.
    fusion_layers : bool
        False: the method takes no layer; ``layer`` is passed through unchanged.
    **options
        The method's other options, passed to ``run_once``.

    Notes
    -----
    Targets are resolved once: explicit ``targets`` go unchanged to every run; otherwise the run
    on the original images (first layer) picks the classes, and every other run gets them as
    explicit targets. Each copy's *final* maps are averaged (after the method's ReLU when
    ``relu=True``; the signed maps with ``relu=False``): a flipped copy's heatmap and feature map
    are flipped back first; there is no per-copy scaling. The score recorded is the original
    image's. Layer fusion (as LayerCAM's paper fuses shallow and deep layers, without its tanh
    scaling): each layer's heatmap, at the image size, is divided by its own maximum |value| and
    the fused heatmap is their element-wise maximum; ``feature_map`` is the same fusion of the
    feature maps upsampled (bilinear) to the finest layer's resolution. ``params["layer"]`` is the
    list of layer names, ``params["fusion"]`` the rule.

    Examples
    --------
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> from superexplain.gradcam.cams import run_cam
    >>> from superexplain.models import as_predictor
    >>> def plain(predictor, images, **options):
    ...     return run_cam("gradcam", predictor, images, **options)
    >>> e = run_with_cam_options(plain, as_predictor(load_demo_model()), make_shapes(1, seed=0).images,
    ...                          aug_smooth=True, verbose=0)[0]
    >>> len(e.params["aug_smooth"]), e.heatmap.shape
    (6, (64, 64))
    """
    augmentations = check_aug_smooth(aug_smooth)
    if not isinstance(fusion_layers, (bool, np.bool_)):
        raise TypeError(f"fusion_layers must be True or False; got {describe(fusion_layers)}")
    layers = [layer]
    if fusion_layers and isinstance(layer, (list, tuple)):
        if len(layer) == 0:
            raise ValueError("layer must name at least one layer; got an empty list")
        layers = list(layer)

    def run(images_now: np.ndarray, fixed: tuple, layer_now: Any) -> list[Explanation]:
        return run_once(predictor, images_now, targets=fixed[0], top_labels=fixed[1], verbose=verbose,
                        layer=layer_now, **options)

    first = run(images, (targets, top_labels), layers[0])
    if not augmentations and len(layers) == 1:
        return first
    fixed = _fixed_targets(first, len(images), targets, top_labels)
    per_layer = []
    for index, layer_now in enumerate(layers):
        plain = first if index == 0 else run(images, fixed, layer_now)
        if augmentations:
            maps = _smoothed(lambda x, f: run(x, f, layer_now), images, augmentations, plain, fixed)
        else:
            maps = [(e.heatmap.astype(np.float64), e.feature_map) for e in plain]
        per_layer.append((plain, maps))
    return [_combined(first, per_layer, j, augmentations, len(layers) > 1) for j in range(len(first))]


def _combined(first: list[Explanation], per_layer: list, j: int, augmentations: tuple, fused: bool) -> Explanation:
    from .cam_maps import upsample

    original = first[j]
    params = dict(original.params)
    if augmentations:
        params["aug_smooth"] = [{"hflip": flip, "multiplier": multiplier} for flip, multiplier in augmentations]
        params["aug_smooth_rule"] = AUG_RULE
    if not fused:
        heatmap, feature_map = per_layer[0][1][j]
    else:
        heatmap = fuse_maps([maps[j][0] for _, maps in per_layer])
        feature_maps = [maps[j][1] for _, maps in per_layer]
        feature_map = None
        if all(m is not None for m in feature_maps):
            finest = max((m.shape for m in feature_maps), key=lambda shape: shape[0] * shape[1])
            feature_map = fuse_maps([upsample(m, finest).astype(np.float64) for m in feature_maps])
        for key in ("layer", "layer_automatic", "layer_reason"):
            if key in params:
                params[key] = [plain[j].params.get(key) for plain, _ in per_layer]
        params["fusion"] = FUSION_RULE
    return Explanation(image=original.image, method=original.method, target=original.target, heatmap=heatmap,
                       target_name=original.target_name, score=original.score, feature_map=feature_map,
                       params=params)
