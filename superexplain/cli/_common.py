"""What every subcommand shares: the parser class and help format, the common options, small parsing and file helpers."""
from __future__ import annotations

import argparse
import os
import re
from typing import Any

__all__ = ["PROG", "UsageError", "Parser", "HelpFormatter", "wrap", "one_line", "cli_message", "common_options",
           "positive_int", "whole_number", "parse_list", "safe_name", "save_figure"]

PROG = "superexplain"


def wrap(text: str, width: int = 88) -> str:
    """A help description wrapped to the terminal-friendly width (the help keeps line breaks).

    Examples
    --------
    >>> wrap("one   two\\nthree", width=9)
    'one two\\nthree'
    """
    import textwrap

    return textwrap.fill(" ".join(text.split()), width)


def one_line(text: Any, limit: int = 600) -> str:
    """Collapse a message to one line (error messages from Keras can span many).

    Examples
    --------
    >>> one_line("a\\n  b"), one_line("x" * 10, limit=8)
    ('a b', 'xxxxx...')
    """
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


class UsageError(ValueError):
    """A bad command line found after parsing (a flag that does not apply, a bad list, ...): exit status 2,
    as for argparse's own errors; other failures exit 1."""


#: Library messages about a flag's value, in the words of the command line.
_LIBRARY_WORDS = (
    (re.compile(r"class_names has (\d+) names but the model outputs (\d+) classes"),
     r"--labels has \1 names but the model has \2 outputs"),
    (re.compile(r"\btargets?(?:\[\d+\])*=(-?\d+) is out of range"), r"--target \1 is out of range"),
    (re.compile(r"\btargets?(?:\[\d+\])*=('[^']*') is not a known class name"), r"--target \1 is not a known class name"),
)


def cli_message(text: Any) -> str:
    """A library error message with its argument names replaced by the command line's flags.

    Examples
    --------
    >>> cli_message("class_names has 3 names but the model outputs 4 classes")
    '--labels has 3 names but the model has 4 outputs'
    >>> cli_message("targets[0]=7 is out of range: the model has 4 classes (0..3)")
    '--target 7 is out of range: the model has 4 classes (0..3)'
    """
    line = one_line(text)
    for pattern, words in _LIBRARY_WORDS:
        line = pattern.sub(words, line)
    return line


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit with status 2."""

    def error(self, message: str):  # noqa: D401 - argparse's signature
        self.exit(2, f"{PROG}: error: {one_line(message)} (see '{self.prog} --help')\n")


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keep the examples' line breaks and show defaults (but not an absent one: None or a switch's False)."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def common_options() -> argparse.ArgumentParser:
    """Options every subcommand takes: --json, --quiet, --debug.

    Examples
    --------
    >>> common_options().parse_args(["--json"]).json
    True
    """
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("output and diagnostics")
    group.add_argument("--json", action="store_true",
                       help="print a JSON summary on stdout (files written, targets, scores, timings)")
    group.add_argument("-q", "--quiet", action="store_true", help="no progress bars and no report of the files written")
    group.add_argument("--debug", action="store_true", help="show full tracebacks and TensorFlow's own log lines")
    return parent


def whole_number(text: str, minimum: int = 1, also: str = "") -> int:
    """An integer >= ``minimum`` (0 or 1) read from the command line, or an argparse error saying what was expected.

    ``also`` names the other accepted words for the message (e.g. ``" or 'auto'"``).

    Examples
    --------
    >>> whole_number("0", minimum=0)
    0
    """
    expected = ("a non-negative integer" if minimum == 0 else "a positive integer") + also
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}; got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {expected}; got {value}")
    return value


def positive_int(text: str) -> int:
    """An argparse type: a positive integer (argparse names the flag in its error).

    Examples
    --------
    >>> positive_int("40")
    40
    """
    return whole_number(text, 1)


def parse_list(text: str, kind: type, name: str) -> list:
    """``"25,50,100"`` -> ``[25, 50, 100]`` with a clear error naming the option.

    Examples
    --------
    >>> parse_list("25, 50,100", int, "--n-superpixels")
    [25, 50, 100]
    """
    items = [item.strip() for item in str(text).split(",") if item.strip()]
    if not items:
        raise UsageError(f"{name} must be a comma-separated list; got {text!r}")
    try:
        return [kind(item) for item in items]
    except ValueError:
        raise UsageError(f"{name} must be a comma-separated list of {kind.__name__}s; got {text!r}") from None


def safe_name(text: Any) -> str:
    """A file-name-safe version of a class name or image stem.

    Examples
    --------
    >>> safe_name("tabby cat/1")
    'tabby_cat_1'
    """
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", str(text)).strip("_") or "x"


def save_figure(figure, path: str, dpi: int = 110) -> str:
    """Write a matplotlib figure to a PNG (creating its folder) and free it.

    Examples
    --------
    >>> import os, tempfile, matplotlib.pyplot as plt
    >>> path = save_figure(plt.figure(figsize=(1, 1)), os.path.join(tempfile.mkdtemp(), "a", "f.png"))
    >>> os.path.isfile(path)
    True
    """
    import matplotlib.pyplot as plt

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    try:
        figure.savefig(path, dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(figure)
    return path
