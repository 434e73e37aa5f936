"""The `superexplain` command line: demo, explain, superpixels, compare, sanity, evaluate over the public library calls."""
from __future__ import annotations

import os
import sys
import warnings
from typing import Sequence

from ._common import PROG, HelpFormatter, Parser, UsageError, cli_message, common_options, one_line
from ._inputs import model_input_options
from ._summary import Summary

__all__ = ["main", "build_parser"]

DESCRIPTION = """\
Explain what a Keras image classifier looked at: class activation maps (Grad-CAM and kin), pixel
gradients (saliency, integrated gradients, SmoothGrad, ...) and perturbations (LIME, KernelSHAP,
occlusion, RISE), with shared plots and sanity checks.

Start with `superexplain demo`; then `superexplain explain MODEL IMAGES --method gradcam`.
Every command has --help with examples.
"""


def build_parser() -> Parser:
    """The argument parser with every subcommand.

    Examples
    --------
    >>> parser = build_parser()
    >>> parser.parse_args(["superpixels", "cat.png"]).command
    'superpixels'
    """
    from .. import __version__
    from . import _compare, _demo, _evaluate, _explain, _sanity, _superpixels

    parser = Parser(prog=PROG, description=DESCRIPTION, formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    common, model_input = common_options(), model_input_options()
    for module in (_demo, _explain, _superpixels, _compare, _sanity, _evaluate):
        module.add_parser(subparsers, common=common, model_input=model_input, formatter_class=HelpFormatter)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one line on stderr, recorded for the JSON summary."""
    text = one_line(message)
    _WARNINGS.append(text)
    sys.stderr.write(f"{PROG}: warning: {text}\n")


_WARNINGS: list[str] = []


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 on success).

    Errors are one line on stderr (``superexplain: error: ...``); ``--debug`` shows the traceback
    instead. Exit status: 2 for a bad command line (argparse's errors and the commands' own usage
    errors, :class:`UsageError`), 1 for a failure while running, 130 when interrupted.

    Examples
    --------
    >>> from superexplain.cli import main
    >>> status = main(["superpixels", "cat.png", "--out", "grid.png"])  # doctest: +SKIP
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("MPLBACKEND", "Agg")  # files only: never open a window
    parser = build_parser()
    args = parser.parse_args(None if argv is None else list(argv))
    if args.command is None:
        parser.error("choose a command: demo, explain, superpixels, compare, sanity or evaluate")
    summary = Summary(args.command)
    _WARNINGS.clear()
    try:
        with warnings.catch_warnings():  # restores the warning machinery afterwards
            warnings.simplefilter("default")
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            warnings.filterwarnings("ignore", category=FutureWarning)
            warnings.showwarning = _show_warning
            args.run(args, summary)
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted\n")
        return 130
    except Exception as exc:  # noqa: BLE001 - the one place that turns errors into one line
        if args.debug:
            raise
        expected = (TypeError, ValueError, LookupError, OSError, RuntimeError, ImportError)
        if isinstance(exc, UsageError):
            sys.stderr.write(f"{PROG}: error: {one_line(exc)} (see '{PROG} {args.command} --help')\n")
            return 2
        if isinstance(exc, expected):
            sys.stderr.write(f"{PROG}: error: {cli_message(exc)}\n")
        else:
            sys.stderr.write(f"{PROG}: error: unexpected {type(exc).__name__}: {one_line(exc)} "
                             "(rerun with --debug for the traceback, and please report it)\n")
        return 1
    if _WARNINGS:
        summary.data["warnings"] = list(_WARNINGS)
    summary.finish(as_json=args.json, quiet=args.quiet)
    return 0
