"""What a panel says in words: titles, the units of its colour bar, wrapping, and constant-map notes."""
from __future__ import annotations

import textwrap
import warnings
from typing import Any

import numpy as np

from ..explanation import Explanation

__all__ = ["short_layer", "key_settings", "describe_explanation", "units_label", "wrap_title",
           "constant_value", "constant_note", "warn_constant"]

#: Settings worth showing in a title, in this order (the first few present are shown).
_KEY_SETTINGS = (
    "layer", "num_samples", "n_samples", "segmentation", "n_segments", "kernel_width", "steps",
    "n_steps", "noise_level", "baseline", "window", "stride", "num_masks", "score_kind",
)

#: Average glyph width as a fraction of the font size (DejaVu Sans, mixed text), used to wrap titles.
_GLYPH_WIDTH = 0.58


def short_layer(layer: Any) -> Any:
    """A layer's own name: the last part of a nested path (``"backbone/block_5/conv2"`` -> ``"conv2"``).

    Examples
    --------
    >>> short_layer("backbone/block_5/conv2"), short_layer("last_conv")
    ('conv2', 'last_conv')
    """
    if isinstance(layer, str):
        return layer.rstrip("/").rsplit("/", 1)[-1] or layer
    return layer


def key_settings(explanation: Explanation, limit: int = 3) -> str:
    """A few of the settings that produced the explanation, e.g. ``"layer=last_conv"``."""
    shown = []
    for key in _KEY_SETTINGS:
        if key in explanation.params and key != "score_kind":
            value = explanation.params[key]
            if key == "layer":
                value = short_layer(value)
            elif value == "auto" and "samples_used" in explanation.params:  # say where the automatic run stopped
                value = f"auto ({explanation.params['samples_used']})"
            if isinstance(value, float):
                value = f"{value:.3g}"
            elif isinstance(value, (list, dict)):
                continue
            shown.append(f"{key}={value}")
        if len(shown) == limit:
            break
    return ", ".join(shown)


def describe_explanation(explanation: Explanation, settings: bool = False) -> str:
    """A title: method, class name and score, and (``settings=True``) a second line of key settings.

    Examples
    --------
    >>> import numpy as np
    >>> e = Explanation(image=np.zeros((4, 4, 3)), method="gradcam", target=1, heatmap=np.ones((4, 4)),
    ...                 target_name="cat", score=2.5, params={"layer": "net/block_5/conv2", "score_kind": "logit"})
    >>> print(describe_explanation(e, settings=True))
    gradcam · cat · logit=2.5
    layer=conv2
    """
    target = explanation.target_name if explanation.target_name else f"class {explanation.target}"
    line = f"{explanation.method} \u00b7 {target}"
    if explanation.score is not None:
        kind = explanation.params.get("score_kind")
        label = {"probability": "p", "logit": "logit"}.get(kind, "score") if isinstance(kind, str) else "score"
        line += f" \u00b7 {label}={explanation.score:.3g}"
    if settings:
        extra = key_settings(explanation)
        if extra:
            line += "\n" + extra
    return line


def units_label(explanation: Explanation) -> str:
    """What the numbers of the explanation's map are, for its colour bar.

    Examples
    --------
    >>> import numpy as np
    >>> e = Explanation(image=np.zeros((4, 4, 3)), method="lime", target=0, heatmap=np.ones((4, 4)),
    ...                 params={"score_kind": "probability"})
    >>> units_label(e)
    'LIME weight (probability units)'
    """
    kind = explanation.params.get("score_kind")
    kind = kind if isinstance(kind, str) and kind else None
    method = explanation.method
    if method == "lime":
        return f"LIME weight ({kind} units)" if kind else "LIME weight"
    if method == "kernelshap":
        return f"SHAP value ({kind} units)" if kind else "SHAP value"
    if method == "occlusion":
        return f"{kind} drop when hidden" if kind else "score drop when hidden"
    if method == "rise":
        return f"RISE importance ({kind})" if kind else "RISE importance"
    return f"attribution ({kind})" if kind else "attribution"


def wrap_title(text: str, ax: Any, fontsize: float) -> str:
    """``text`` with every line wrapped to the width of ``ax`` (estimated from the font size)."""
    figure = ax.figure
    box = ax.get_position(original=True)
    width_inches = box.width * figure.get_figwidth()
    if ax.get_aspect() == 1.0:  # an image: as wide as its height allows, whatever the cell's width
        (left, right), (bottom, top) = ax.get_xlim(), ax.get_ylim()
        ratio = abs(right - left) / max(abs(top - bottom), 1e-12)
        width_inches = min(width_inches, box.height * figure.get_figheight() * ratio)
    width_inches *= 0.95
    columns = max(8, int(width_inches * 72.0 / (fontsize * _GLYPH_WIDTH)))
    lines: list[str] = []
    for line in text.split("\n"):
        for part in textwrap.wrap(line, columns, break_long_words=False, break_on_hyphens=False) or [""]:
            # a word longer than the panel (a long layer name) gets lines of its own, cut at the width
            lines.extend(part[start:start + columns] for start in range(0, max(len(part), 1), columns))
    return "\n".join(lines)


def constant_value(values: Any) -> float | None:
    """The value of a map that has one value everywhere (finite part), else None."""
    if values is None:
        return None
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0 or values.max() != values.min():
        return None
    return float(values.flat[0])


def constant_note(value: float) -> str:
    """The words a plot of a constant map adds to its title.

    Examples
    --------
    >>> constant_note(0.0)
    'map is constant (0): nothing to show'
    """
    return f"map is constant ({value:.3g}): nothing to show"


def warn_constant(explanation: Explanation, value: float, stacklevel: int = 3) -> None:
    """A UserWarning that the explanation's map is constant, with the likely reason."""
    target = explanation.target_name if explanation.target_name else f"class {explanation.target}"
    from ..registry import METHODS

    info = METHODS.get(explanation.method)
    if value == 0 and info is not None and info.family == "cam" and explanation.params.get("relu", info.takes_layer):
        reason = ("the ReLU removed all the evidence: every weighted activation was negative, usually because "
                  "the model scores this class low; try a class the model predicts, another layer, or relu=False")
    elif value == 0:
        reason = ("the score does not change with the input (an untrained or saturated model, or a class "
                  "that nothing in the image moves); try another target class or check the model")
    else:
        reason = "every region moved the score by the same amount, so no region stands out"
    warnings.warn(f"the {explanation.method} map for {target} is constant ({value:.3g}), so the plot shows "
                  f"nothing: {reason}", UserWarning, stacklevel=stacklevel)
