"""SmoothGrad (Smilkov et al. 2017) and VarGrad (Adebayo et al. 2018): a base method's attribution over noisy inputs."""
from __future__ import annotations

from typing import Any

from .._validation import check_choice, check_float, check_int
from ..explanation import Explanation
from ..registry import method_info, method_names
from .attribution_engine import COMMON_PARAMETERS_DOC, run_attribution

__all__ = ["run_smoothgrad", "run_vargrad", "BASE_METHODS"]


#: The methods SmoothGrad/VarGrad average: the registry's pixel-gradient methods that draw no random numbers.
BASE_METHODS = tuple(name for name in method_names("gradient") if method_info(name).deterministic)


def _noise_options(noise_level: Any, num_samples: Any, base_method: Any) -> tuple[float, int, str]:
    check_choice(base_method, "base_method", BASE_METHODS)
    return (check_float(noise_level, "noise_level", 0.0), check_int(num_samples, "num_samples", 1), base_method)


def _noisy(method: str, variance: bool, predictor, images, targets, top_labels, random_state, verbose, score,
           noise_level, num_samples, base_method, absolute, reduce, batch_size, options) -> list[Explanation]:
    noise_level, num_samples, base_method = _noise_options(noise_level, num_samples, base_method)
    allowed = {"integrated_gradients": {"steps", "rule", "baseline", "blur_sigma"},
               "gradient_input": {"baseline", "blur_sigma"}}.get(base_method, set())
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise TypeError(f"{method} with base_method={base_method!r} does not take option(s) {unknown}; "
                        f"it takes {sorted(allowed) or 'none'} besides its own")
    if absolute is None:
        absolute = base_method == "saliency"
    if reduce is None:
        reduce = "max" if base_method == "saliency" else "sum"
    return run_attribution(method, predictor, images, targets=targets, top_labels=top_labels,
                           random_state=random_state, verbose=verbose, score=score, batch_size=batch_size,
                           absolute=absolute, reduce=reduce, base=base_method, noise_level=noise_level,
                           num_samples=num_samples, variance=variance, **options)


def run_smoothgrad(predictor, images, *, targets=None, top_labels=None, random_state=None, verbose=1,
                   score: str = "logit", noise_level: float = 0.15, num_samples: int = 50,
                   base_method: str = "saliency", absolute: bool | None = None, reduce: str | None = None,
                   batch_size: int | None = None, **base_options: Any) -> list[Explanation]:
    """SmoothGrad (Smilkov et al. 2017): the base method's attribution averaged over noisy copies of the input.

    Gaussian noise with standard deviation ``noise_level * (max - min)`` of each image is drawn
    from a seedable numpy Generator (the same seed gives a bit-identical result); each image's
    noise is shared by its targets. With one int seed per image (``random_state=[s0, s1, ...]``)
    image ``i`` draws from ``s_i`` and its result equals the one it gets alone with that seed, while
    the noisy copies of all images share the compiled gradient calls (``batch_size`` rows at a
    time): to float32 rounding, since TensorFlow may pick other kernels for other batch sizes (bit
    for bit on some machines, not on others). The same seeds and ``batch_size`` repeat a run bit for bit.

    Parameters
    ----------%s    noise_level : float
        Noise standard deviation as a fraction of the image's value range (default 0.15).
    num_samples : int
        Noisy copies per image (default 50).
    base_method : {"saliency", "gradient_input", "integrated_gradients", "guided_backprop"}
        The attribution averaged (signed per-channel values, then the heatmap).
    absolute, reduce
        Heatmap options; default to the base method's (saliency: absolute max, others: signed sum).
    **base_options
        The base method's options (``steps``, ``rule``, ``baseline``, ``blur_sigma``).

    Examples
    --------
    >>> import numpy as np, superexplain
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> model, image = load_demo_model(), make_shapes(1, seed=0).images[0]
    >>> a = superexplain.explain(model, image, method="smoothgrad", num_samples=8, random_state=1, verbose=0)
    >>> a == superexplain.explain(model, image, method="smoothgrad", num_samples=8, random_state=1, verbose=0)
    True
    >>> images = make_shapes(3, seed=0).images                             # one seed per image:
    >>> both = superexplain.explain(model, images[1:], method="smoothgrad", num_samples=8,
    ...                             random_state=[1, 2], verbose=0)        # each as alone
    >>> alone = superexplain.explain(model, images[2], method="smoothgrad", num_samples=8, random_state=2,
    ...                              verbose=0)
    >>> bool(np.allclose(both[1].attribution, alone.attribution, rtol=1e-4, atol=0)), both[1].params["seed"]
    (True, 2)
    """
    return _noisy("smoothgrad", False, predictor, images, targets, top_labels, random_state, verbose, score,
                  noise_level, num_samples, base_method, absolute, reduce, batch_size, base_options)


def run_vargrad(predictor, images, *, targets=None, top_labels=None, random_state=None, verbose=1,
                score: str = "logit", noise_level: float = 0.15, num_samples: int = 50,
                base_method: str = "saliency", absolute: bool | None = None, reduce: str | None = None,
                batch_size: int | None = None, **base_options: Any) -> list[Explanation]:
    """VarGrad (Adebayo et al. 2018): the variance of the base method's attribution over noisy inputs.

    Same noise as :func:`run_smoothgrad`; ``attribution`` is the per-channel population variance
    over the ``num_samples`` noisy copies (>= 2), the heatmap its channel reduction.

    Parameters
    ----------%s    noise_level, num_samples, base_method, absolute, reduce, **base_options
        As for :func:`run_smoothgrad`.

    Examples
    --------
    >>> import numpy as np, superexplain
    >>> from superexplain.datasets import load_demo_model, make_shapes
    >>> e = superexplain.explain(load_demo_model(), make_shapes(1, seed=0).images[0], method="vargrad",
    ...                          num_samples=8, random_state=0, verbose=0)
    >>> bool((e.attribution >= 0).all())
    True
    """
    return _noisy("vargrad", True, predictor, images, targets, top_labels, random_state, verbose, score,
                  noise_level, num_samples, base_method, absolute, reduce, batch_size, base_options)


if run_smoothgrad.__doc__:  # None under python -OO, which strips docstrings
    run_smoothgrad.__doc__ %= COMMON_PARAMETERS_DOC
if run_vargrad.__doc__:
    run_vargrad.__doc__ %= COMMON_PARAMETERS_DOC
