"""What the CAM modules share: option checks (``relu``, ``batch_size``), target encoding, and the layer's params."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import numpy as np

from .._validation import check_int, describe
from ..models.targets import check_class_output, resolve_targets, unwrap_named
from ..registry import METHODS, method_names
from .layers import ResolvedLayer
from .tokens import token_grid

if TYPE_CHECKING:
    from .subclassed import SubclassedLayer

__all__ = ["CAM_METHODS", "DEFAULT_BATCH_SIZE", "check_relu", "check_batch_size", "encode_targets", "decode_target",
           "layer_params"]

#: Images per compiled gradient call unless ``batch_size`` says otherwise.
DEFAULT_BATCH_SIZE = 32
#: The class activation maps of a layer, from the registry (the ones `GradCAM(method=...)` takes).
CAM_METHODS = tuple(name for name in method_names("cam") if METHODS[name].takes_layer)


def check_relu(relu: Any) -> bool:
    """``relu`` must be a bool (a truthy string is more likely a mistake than a choice).

    Examples
    --------
    >>> check_relu(False)
    False
    """
    if not isinstance(relu, (bool, np.bool_)):
        raise TypeError(f"relu must be True or False; got {describe(relu)}")
    return bool(relu)


def check_batch_size(batch_size: Any) -> int:
    """Images per compiled gradient call: :data:`DEFAULT_BATCH_SIZE` for None, else an int >= 1.

    Examples
    --------
    >>> check_batch_size(None), check_batch_size(8)
    (32, 8)
    """
    return DEFAULT_BATCH_SIZE if batch_size is None else check_int(batch_size, "batch_size", 1)


def encode_targets(predictor, n_images: int, targets: Any, top_labels: Any) -> tuple[np.ndarray, list[int]]:
    """Targets as an int32 (N, K) array, ``-r`` standing for "the image's r-th best class", and the
    number of real targets per image.

    Explicit targets are validated here (indices, class names, one entry per image); an image
    given fewer targets than others is padded with its first one (the extra rows are dropped).

    Examples
    --------
    >>> from superexplain.datasets import load_demo_model
    >>> from superexplain.models import as_predictor
    >>> encoded, counts = encode_targets(as_predictor(load_demo_model()), 2, [0, [1, 2]], None)
    >>> encoded.tolist(), counts
    ([[0, 0], [1, 2]], [1, 2])
    """
    if predictor.score_target is None:  # a segmentation map needs a score target (superexplain.targets)
        check_class_output(predictor.output_shape, unwrap_named(targets, "target")[1], targets)
    num_classes = predictor.num_classes
    if num_classes is None:
        raise ValueError("the model's number of classes is unknown (its output shape is not defined)")
    rows = resolve_targets(targets, num_classes, predictor.class_names, n_images=n_images, top_labels=top_labels)
    width = max(len(row) for row in rows)
    encoded = np.array([row + [row[0]] * (width - len(row)) for row in rows], dtype=np.int32)
    return encoded, [len(row) for row in rows]


def decode_target(scores: np.ndarray, code: int) -> int:
    """One entry of :func:`encode_targets` back to a class index, given the image's scores (classes,): ``-r`` is
    the r-th best class (ties: lower index first, as the compiled graphs' ``top_k``), else the index itself.

    Examples
    --------
    >>> decode_target(np.array([0.1, 0.7, 0.2]), -2), decode_target(np.array([0.1, 0.7, 0.2]), 0)
    (2, 0)
    """
    if code >= 0:
        return int(code)
    return int(np.argsort(-np.asarray(scores), kind="stable")[-int(code) - 1])


def layer_params(resolved: ResolvedLayer | SubclassedLayer, reshape: Any = None) -> dict:
    """What an Explanation records of its layer: the path, whether and why it was chosen automatically, token handling.

    Examples
    --------
    >>> from superexplain.datasets import load_demo_model
    >>> from superexplain.gradcam import resolve_layer
    >>> layer_params(resolve_layer(load_demo_model()))["layer"]
    'last_conv'
    """
    params = {"layer": resolved.name, "layer_automatic": resolved.automatic, "layer_reason": resolved.reason}
    if resolved.is_tokens:
        tokens = resolved.output_shape[1]
        if reshape is not None:
            params["tokens"] = f"{tokens} tokens, reshape= callable"
        else:
            side, leading = cast("tuple[int, int]", token_grid(tokens))  # a square grid: resolve_layer checked
            params["tokens"] = f"{tokens} tokens as a {side}x{side} grid" + (", class token dropped" if leading else "")
    return params
