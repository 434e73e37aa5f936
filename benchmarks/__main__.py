"""Run benchmark modules and (re)write their sections of benchmarks/RESULTS.md.

Usage: ``python -m benchmarks`` (all) or ``python -m benchmarks gradcam lime`` (some), with
``--quick`` for a smoke run. Each module ``benchmarks/bench_<name>.py`` defines
``run(quick: bool) -> str`` returning a markdown section. Sections of benchmarks not run this
time are kept from the existing file, so one benchmark can be refreshed alone.
"""
from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import re
import sys

from ._common import machine, now

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "RESULTS.md")
_SECTION = re.compile(r"<!-- bench:(?P<name>[\w-]+) -->\n(?P<body>.*?)<!-- /bench:(?P=name) -->", re.S)


def available() -> list[str]:
    return sorted(m.name[len("bench_"):] for m in pkgutil.iter_modules([HERE]) if m.name.startswith("bench_"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default all: {', '.join(available())})")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run (not written)")
    args = parser.parse_args(argv)
    names = args.names or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; available: {available()}")
    sections = {}
    if os.path.exists(RESULTS):
        with open(RESULTS) as handle:
            sections = {m["name"]: m["body"] for m in _SECTION.finditer(handle.read())}
    for name in names:
        sys.stderr.write(f"== benchmark {name}\n")
        body = importlib.import_module(f"benchmarks.bench_{name}").run(quick=args.quick)
        sections[name] = f"_Run {now()} on {machine()}._\n\n{body.strip()}\n"
        sys.stdout.write(sections[name] + "\n")
    if args.quick:
        return 0
    with open(RESULTS, "w") as handle:
        handle.write("# Benchmark results\n\nWritten by `python -m benchmarks`; every figure is a ratio or a time "
                     "measured in the same run as its baseline. Re-run to refresh.\n\n")
        for name in sorted(sections):
            handle.write(f"<!-- bench:{name} -->\n{sections[name].rstrip()}\n<!-- /bench:{name} -->\n\n")
    sys.stderr.write(f"wrote {RESULTS}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
