"""The method flags, derived from the method registry: choices, help, which flag applies where, the options made.

Nothing here names a method: :data:`superexplain.registry.METHODS` says which methods map a layer
(``--layer``), explain superpixels (``--segments``, ``--n-segments``, ``--compactness``), draw
random numbers (``--seed``) and how many (``--num-samples``), so a method added to the registry
is on the command line at once. Every other option of a method's run function is reachable with
``--option KEY=VALUE``.
"""
from __future__ import annotations

import argparse
import json
import re
from typing import Any

from superexplain.registry import FAMILIES, METHODS, method_function, method_info

from ._common import UsageError, positive_int, whole_number

__all__ = ["METHOD_CHOICES", "SEGMENT_ALGORITHMS", "methods_with", "methods_help", "seeded_methods", "add_method_flags",
           "seed_arg", "samples_arg", "auto_sampled_methods", "option_arg", "layer_option", "method_options",
           "segmentation_option", "check_option_names", "default_kind", "images_per_call"]

#: Every method of the registry, in its order.
METHOD_CHOICES = tuple(METHODS)
SEGMENT_ALGORITHMS = ("slic", "quickshift", "felzenszwalb", "watershed", "grid")
_FAMILY_WORDS = {"cam": "class activation maps", "gradient": "pixel gradients", "perturbation": "perturbation"}
#: Options the command line sets itself, and the flag that sets each.
_RESERVED = {"target": "--target", "top_labels": "--top-labels", "random_state": "--seed", "class_names": "--labels",
             "output": "--output", "verbose": "--quiet", "batch": None}


def methods_with(trait: str) -> list[str]:
    """Names of the methods whose registry trait ``trait`` is true (or, for ``samples_option``, set).

    Examples
    --------
    >>> methods_with("takes_segments")
    ['lime', 'kernelshap', 'occlusion']
    """
    return [name for name, info in METHODS.items() if getattr(info, trait)]


def seeded_methods() -> list[str]:
    """The methods that draw random numbers, so that ``--seed`` matters.

    Examples
    --------
    >>> seeded_methods()
    ['smoothgrad', 'vargrad', 'lime', 'kernelshap', 'rise']
    """
    return methods_with("seeded")


def methods_help() -> str:
    """The methods by family, for ``--method`` help.

    Examples
    --------
    >>> methods_help().split("; ")[0].split(", ")[:2]
    ['class activation maps (Keras models): gradcam', 'gradcam++']
    """
    parts = []
    for family in FAMILIES:
        names = [name for name, info in METHODS.items() if info.family == family]
        if names:
            model = "Keras models" if all(METHODS[n].needs_keras for n in names) else "any model"
            parts.append(f"{_FAMILY_WORDS.get(family, family)} ({model}): {', '.join(names)}")
    return "; ".join(parts)


def _samples_help() -> str:
    by_option: dict[str, list[str]] = {}
    for name, info in METHODS.items():
        if info.samples_option:
            by_option.setdefault(info.samples_option, []).append(name)
    return "; ".join(f"{option} of {', '.join(names)}" for option, names in by_option.items())


def samples_arg(text: str) -> int | str:
    """``--num-samples``: a positive integer, or ``auto`` (``samples_arg("auto") == "auto"``)."""
    return "auto" if text.strip().lower() == "auto" else positive_int(text)


def auto_sampled_methods() -> list[str]:
    """The methods whose samples option defaults to ``"auto"`` (they stop when their answer is stable)."""
    import inspect

    return [name for name, info in METHODS.items() if info.samples_option and getattr(inspect.signature(
        method_function(name)).parameters.get(info.samples_option), "default", None) == "auto"]


def seed_arg(text: str) -> int:
    """``--seed``: a non-negative integer.

    Examples
    --------
    >>> seed_arg("7")
    7
    """
    return whole_number(text, 0)


def option_arg(text: str) -> tuple[str, Any]:
    """``--option KEY=VALUE``: VALUE read as JSON when it parses (numbers, true/false/null, lists, dicts,
    quoted strings), else taken as a string.

    Examples
    --------
    >>> option_arg("steps=100"), option_arg("baseline=blur"), option_arg('window=[8, 8]')
    (('steps', 100), ('baseline', 'blur'), ('window', [8, 8]))
    """
    key, equals, value = text.partition("=")
    key = key.strip()
    if not equals or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE with KEY an option name (e.g. steps=100); got {text!r}")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def add_method_flags(parser: argparse.ArgumentParser) -> None:
    """``--method``, ``--seed``, ``--layer``, the superpixel flags, ``--num-samples`` and ``--option``."""
    parser.add_argument("--method", default="gradcam", choices=METHOD_CHOICES, metavar="NAME",
                        help=f"explanation method: {methods_help()}")
    parser.add_argument("--seed", type=seed_arg, metavar="S",
                        help=f"the run's seed, for the methods that draw random numbers "
                             f"({', '.join(seeded_methods())}): image i is explained with its own seed, "
                             "SeedSequence([S, i]), recorded in index.jsonl (default: a fresh S, recorded in "
                             "run.json and reused when the run is resumed)")
    layers = parser.add_argument_group(f"layer methods ({', '.join(methods_with('takes_layer'))})")
    layers.add_argument("--layer", metavar="L",
                        help="layer to explain: a name, an index or a nested path like backbone/conv5 "
                             "(default: the last layer with a spatial output); several, comma-separated "
                             "(relu2,last_conv), fuse their maps")
    segments = parser.add_argument_group(f"superpixel methods ({', '.join(methods_with('takes_segments'))}; "
                                         "with --kind block or outline, the plot's blocks for the others)")
    segments.add_argument("--segments", choices=SEGMENT_ALGORITHMS, metavar="ALGO",
                          help="superpixel algorithm: " + ", ".join(SEGMENT_ALGORITHMS) + " (default slic)")
    segments.add_argument("--n-segments", type=positive_int, metavar="K",
                          help="superpixels asked for (slic, grid; default 50)")
    segments.add_argument("--compactness", type=float, metavar="W", help="SLIC compactness (default 10)")
    sampling = parser.add_argument_group(f"sampling methods ({', '.join(methods_with('samples_option'))})")
    sampling.add_argument("--num-samples", type=samples_arg, metavar="N",
                          help=f"random draws per image: {_samples_help()}; 'auto' (the default of "
                               f"{', '.join(auto_sampled_methods())}): until the explanation is stable")
    other = parser.add_argument_group("any method")
    other.add_argument("--option", type=option_arg, action="append", metavar="KEY=VALUE",
                       help="another option of the method's run function (see its docstring), e.g. steps=100 or "
                            "baseline=blur (integrated_gradients), base_method=integrated_gradients noise_level=0.2 "
                            "(smoothgrad), window=8 stride=4 (occlusion), hide_color=blur kernel_width=0.5 (lime); "
                            "VALUE is read as JSON when it parses (numbers, true, null, [8, 8], {...}), else as text; "
                            "repeat for several")


def layer_option(layer: str | None):
    """``--layer 3`` is an index, ``--layer -2`` counts from the end, anything else is a name or path;
    a comma-separated list names several layers, whose maps are fused.

    Examples
    --------
    >>> layer_option("-2"), layer_option("backbone/conv5"), layer_option("relu2, 5")
    (-2, 'backbone/conv5', ['relu2', 5])
    """
    if layer is None:
        return None
    if "," in layer:
        return [layer_option(part) for part in layer.split(",") if part.strip()]
    layer = layer.strip()
    return int(layer) if re.fullmatch(r"-?\d+", layer) else layer


def segmentation_option(algorithm: str, n_segments: int | None, compactness: float | None) -> dict:
    """The superpixel methods' ``segmentation`` option for --segments/--n-segments/--compactness.

    Examples
    --------
    >>> segmentation_option("slic", 12, None)
    {'segmentation': {'method': 'slic', 'n_segments': 12}}
    """
    settings: dict = {}
    if n_segments is not None:
        if algorithm not in ("slic", "grid"):
            raise UsageError(f"--n-segments applies to --segments slic or grid, not {algorithm}")
        settings["n_segments"] = n_segments
    if compactness is not None:
        if algorithm != "slic":
            raise UsageError(f"--compactness applies to --segments slic, not {algorithm}")
        settings["compactness"] = compactness
    return {"segmentation": {"method": algorithm, **settings}}


def method_options(method: str, *, layer=None, num_samples=None, segments=None, n_segments=None,
                   compactness=None, extra: list | None = None) -> dict:
    """The library options for a method from the command-line flags; a flag the method does not take is an error.

    ``extra`` holds the ``--option`` pairs; one may not repeat what a flag set, nor set what the
    command line sets itself (the target, the seed, ...).

    Examples
    --------
    >>> method_options("rise", num_samples=500)
    {'num_masks': 500}
    >>> method_options("integrated_gradients", extra=[("steps", 100)])
    {'steps': 100}
    >>> method_options("gradcam", num_samples=500)
    Traceback (most recent call last):
    ...
    superexplain.cli._common.UsageError: --num-samples does not apply to --method gradcam
    """
    info = method_info(method)
    given = {"--layer": layer, "--num-samples": num_samples, "--segments": segments, "--n-segments": n_segments,
             "--compactness": compactness}
    allowed = {flag for flag, trait in (("--layer", info.takes_layer), ("--num-samples", info.samples_option),
                                        ("--segments", info.takes_segments), ("--n-segments", info.takes_segments),
                                        ("--compactness", info.takes_segments)) if trait}
    unused = [flag for flag, value in given.items() if value is not None and flag not in allowed]
    if unused:
        raise UsageError(f"{', '.join(unused)} does not apply to --method {method}")
    options: dict = {}
    flags: dict = {}
    if layer is not None:
        options["layer"], flags["layer"] = layer_option(layer), "--layer"
    if num_samples == "auto" and method not in auto_sampled_methods():
        raise UsageError(f"--num-samples auto applies to {', '.join(auto_sampled_methods())} only; "
                         f"give --method {method} a number")
    if num_samples is not None:
        options[info.samples_option], flags[info.samples_option] = num_samples, "--num-samples"
    if segments is not None or n_segments is not None or compactness is not None:
        options.update(segmentation_option(segments or "slic", n_segments, compactness))
        flags["segmentation"] = "--segments/--n-segments/--compactness"
    for key, value in extra or []:
        if key in _RESERVED:
            instead = f"; use {_RESERVED[key]}" if _RESERVED[key] else ""
            raise UsageError(f"--option {key}: the command line sets {key} itself{instead}")
        if key in flags:
            raise UsageError(f"--option {key} repeats {flags[key]}; give one of them")
        options[key] = value
    return options


def check_option_names(method: str, options: dict) -> None:
    """Refuse an option the method does not take (:func:`superexplain.registry.method_options` lists them).

    Imports the method's module (and so TensorFlow for the gradient methods).

    Examples
    --------
    >>> check_option_names("lime", {"kernel_width": 0.5})
    >>> check_option_names("lime", {"stepz": 5})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    superexplain.cli._common.UsageError: --option stepz: method 'lime' has no option 'stepz'; its options: alpha, ...
    """
    from superexplain.registry import check_options

    for key, value in options.items():
        try:
            check_options(method, {key: value})
        except TypeError as error:
            raise UsageError(f"--option {key}: {error}") from None


def default_kind(method: str) -> str:
    """The plot kind drawn unless --kind says otherwise: filled superpixels for the superpixel methods, else a heatmap.

    Examples
    --------
    >>> default_kind("lime"), default_kind("rise")
    ('block', 'heatmap')
    """
    return "block" if method_info(method).takes_segments else "heatmap"


def images_per_call(method: str) -> int | None:
    """Images per method call on the command line: one for the methods that draw random numbers, so that
    image i's explanation is exactly ``explain(model, image_i, random_state=its seed)``; None (the runner's
    default) for the others.

    Examples
    --------
    >>> images_per_call("lime"), images_per_call("gradcam")
    (1, None)
    """
    return 1 if method_info(method).seeded else None
