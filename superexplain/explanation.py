"""The common `Explanation` record that every method returns, with a lossless .npz round trip."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from .explanation_file import (ARRAY_FIELDS, SCALAR_FIELDS, FORMAT_VERSION, ExplanationFileError, jsonable,
                               read_archive, write_archive)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["Explanation", "ExplanationFileError", "set_renderer"]

@dataclass(eq=False)
class Explanation:
    """What one method said about one image and one target class.

    Every method in superexplain returns this record, so plotting, metrics, the command line
    and saving work the same whichever method produced it.

    Parameters
    ----------
    image : ndarray, shape (H, W, C)
        The explained image, as given to the method (a private copy).
    method : str
        ``"gradcam"``, ``"gradcam++"``, ``"lime"``, ``"kernelshap"``, ...
    target : int
        Index of the explained class; 0 for a score target (:mod:`superexplain.targets`, e.g. a
        segmentation Region), whose name is then ``target_name`` and whose description is
        ``params["score_target"]``.
    heatmap : ndarray, shape (H, W), float32
        Attribution at the input's resolution, in the method's own units.
    target_name : str or None
        The class name, when the model adapter knows class names.
    score : float or None
        The model's output for ``target`` on the unperturbed image, in the units the method
        explained (``params["score_kind"]`` says ``"logit"`` or ``"probability"``).
    feature_map : ndarray, shape (h, w), optional
        Gradient methods: the map at the explained layer's resolution, before upsampling.
    segments : ndarray, shape (H, W), int32, optional
        Perturbation methods: superpixel labels ``0..K-1``.
    weights : ndarray, shape (K,), optional
        One weight per segment (0 where feature selection left a segment out).
    weight_errors : ndarray, shape (K,), optional
        Standard error of each weight, where the method can estimate it.
    intercept, local_prediction, local_fit : float, optional
        The surrogate's intercept, its prediction for the unperturbed image, and its weighted
        R^2. None for gradient methods.
    attribution : ndarray, shape (H, W, C), optional
        Per-channel attribution for pixel-gradient methods.
    params : dict
        Every setting that produced the explanation (JSON-like values only).

    Examples
    --------
    >>> import numpy as np
    >>> from superexplain import Explanation
    >>> e = Explanation(image=np.zeros((4, 4, 3)), method="demo", target=1,
    ...                 heatmap=np.ones((4, 4)), params={"note": "hand-made"})
    >>> e.heatmap.dtype
    dtype('float32')
    """

    image: np.ndarray
    method: str
    target: int
    heatmap: np.ndarray
    target_name: str | None = None
    score: float | None = None
    feature_map: np.ndarray | None = None
    segments: np.ndarray | None = None
    weights: np.ndarray | None = None
    weight_errors: np.ndarray | None = None
    intercept: float | None = None
    local_prediction: float | None = None
    local_fit: float | None = None
    attribution: np.ndarray | None = None
    params: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        image = np.array(self.image, copy=True)  # a private copy: the caller's array stays theirs
        if image.ndim == 2:
            image = image[:, :, None]
        if image.ndim != 3:
            raise ValueError(f"image must have shape (H, W) or (H, W, C); got shape {image.shape}")
        self.image = image
        height, width = image.shape[:2]
        if not isinstance(self.method, str) or not self.method:
            raise TypeError(f"method must be a non-empty str; got {self.method!r}")
        if isinstance(self.target, (bool, np.bool_)) or not isinstance(self.target, (int, np.integer)):
            raise TypeError(f"target must be an int class index; got {self.target!r}")
        self.target = int(self.target)
        if self.target_name is not None:
            self.target_name = str(self.target_name)
        for name in ("score", "intercept", "local_prediction", "local_fit"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, float(value))
        for name, dtype in ARRAY_FIELDS.items():
            if name == "image":
                continue
            value = getattr(self, name)
            if value is not None:
                value = np.array(value, dtype=dtype, copy=True)
                setattr(self, name, value)
        if self.heatmap.shape != (height, width):
            raise ValueError(f"heatmap must have shape {(height, width)} (the image's); got {self.heatmap.shape}")
        if self.segments is not None and self.segments.shape != (height, width):
            raise ValueError(f"segments must have shape {(height, width)} (the image's); got {self.segments.shape}")
        if self.feature_map is not None and self.feature_map.ndim != 2:
            raise ValueError(f"feature_map must be 2-D (h, w); got shape {self.feature_map.shape}")
        if self.attribution is not None and self.attribution.shape[:2] != (height, width):
            raise ValueError(f"attribution must have shape (H, W, C) = {image.shape}; got {self.attribution.shape}")
        if self.weights is not None:
            if self.weights.ndim != 1:
                raise ValueError(f"weights must be 1-D (one per segment); got shape {self.weights.shape}")
            if self.segments is not None and self.segments.size and self.weights.size < int(self.segments.max()) + 1:
                raise ValueError(
                    f"weights has {self.weights.size} entries but segments has labels up to {int(self.segments.max())}"
                )
        if self.weight_errors is not None and (self.weights is None or self.weight_errors.shape != self.weights.shape):
            raise ValueError("weight_errors must have the same shape as weights")
        if not isinstance(self.params, dict):
            raise TypeError(f"params must be a dict; got {type(self.params).__name__}")
        self.params = jsonable(self.params, "params")

    # ------------------------------------------------------------------ conveniences
    @property
    def kind(self) -> str:
        """``"perturbation"`` when the explanation has segment weights, else ``"gradient"``."""
        return "perturbation" if self.weights is not None else "gradient"

    def top_segments(self, num_features: int = 5, positive_only: bool = True) -> np.ndarray:
        """Indices of the segments with the largest weights, strongest first.

        Parameters
        ----------
        num_features : int
            How many segments to return at most.
        positive_only : bool
            Keep only segments with a positive weight (evidence *for* the target).
        """
        if self.weights is None:
            raise ValueError("top_segments needs a perturbation explanation (one with segments and weights)")
        order = np.argsort(-(self.weights if positive_only else np.abs(self.weights)), kind="stable")
        if positive_only:
            order = order[self.weights[order] > 0]
        return order[:num_features]

    def __eq__(self, other: object) -> bool:
        """Bit-for-bit equality of every field (NaNs compare equal)."""
        if not isinstance(other, Explanation):
            return NotImplemented
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
                if a is None or b is None or a.dtype != b.dtype or a.shape != b.shape:
                    return False
                if not np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"):
                    return False
            elif isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
                continue
            elif a != b:
                return False
        return True

    __hash__ = None  # type: ignore[assignment]  # a mutable record: unhashable (mypy wants a method here)

    def __repr__(self) -> str:
        name = f" ({self.target_name})" if self.target_name else ""
        score = "None" if self.score is None else f"{self.score:.4g}"
        extra = f", segments={int(self.weights.size)}" if self.weights is not None else ""
        return (
            f"Explanation(method={self.method!r}, target={self.target}{name}, score={score}, "
            f"image={self.image.shape}{extra})"
        )

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> str:
        """Write the explanation to one ``.npz`` file (no pickle); returns the path written.

        Examples
        --------
        >>> import numpy as np, tempfile, os
        >>> from superexplain import Explanation
        >>> e = Explanation(image=np.zeros((2, 2, 1)), method="demo", target=0, heatmap=np.eye(2))
        >>> path = e.save(os.path.join(tempfile.mkdtemp(), "e.npz"))
        >>> Explanation.load(path) == e
        True
        """
        path = os.fspath(path)
        if not path.endswith(".npz"):
            path += ".npz"
        arrays = {name: getattr(self, name) for name in ARRAY_FIELDS if getattr(self, name) is not None}
        meta = {name: getattr(self, name) for name in SCALAR_FIELDS}
        write_archive(path, arrays, {"format_version": FORMAT_VERSION, "fields": meta, "params": self.params})
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Explanation":
        """Read an explanation written by :meth:`save`.

        Parameters
        ----------
        path : str or path
            An ``.npz`` file written by :meth:`save`.

        Returns
        -------
        Explanation

        Raises
        ------
        FileNotFoundError
            ``path`` does not exist.
        ValueError
            The file is not a readable Explanation (an :class:`ExplanationFileError`): empty, cut
            short, not an ``.npz`` archive (e.g. a text file), damaged inside, an ``.npz`` of other
            arrays, or written by a newer superexplain. The message names the file and says which.

        Examples
        --------
        >>> import numpy as np, tempfile, os
        >>> from superexplain import Explanation
        >>> e = Explanation(image=np.zeros((2, 2, 1)), method="demo", target=0, heatmap=np.eye(2))
        >>> Explanation.load(e.save(os.path.join(tempfile.mkdtemp(), "e.npz"))).method
        'demo'
        """
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a file path (str or os.PathLike); got {type(path).__name__}")
        path = os.fspath(path)
        header, arrays = read_archive(path)
        fields = header["fields"]
        unknown = sorted(set(fields) - set(SCALAR_FIELDS))
        if unknown:
            raise ExplanationFileError(path, f"its metadata has fields no Explanation has ({', '.join(unknown)})")
        try:
            return cls(**arrays, **fields, params=header.get("params", {}))
        except (TypeError, ValueError) as exc:  # arrays or fields that do not make an Explanation
            raise ExplanationFileError(path, f"its contents do not make a valid Explanation ({exc})") from None

    # ------------------------------------------------------------------ display
    def plot(self, kind: str | None = None, ax: Axes | None = None, **options: Any) -> Axes:
        """Draw the explanation with :func:`superexplain.plot`; returns the matplotlib Axes."""
        return _RENDERER["plot"](self, kind=kind, ax=ax, **options)

    def _repr_png_(self) -> bytes:
        """PNG bytes for notebooks (rendered off-screen)."""
        return _RENDERER["png"](self)


#: What draws an Explanation: ``plot(explanation, **options) -> Axes`` and ``png(explanation) -> bytes``.
#: ``superexplain/__init__.py`` sets them to :mod:`superexplain.plotting`'s, imported on first use:
#: plotting imports this module, and this module imports nothing of ours but its file format.
_RENDERER: dict[str, Callable] = {}


def set_renderer(plot: Callable, png: Callable) -> None:
    """Set what :meth:`Explanation.plot` and :meth:`Explanation._repr_png_` call (done once, by the package)."""
    _RENDERER.update(plot=plot, png=png)
