"""The keras.applications conformance run: the slow-marked zoo tests, one row per family, flat and nested."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree

from ._common import table

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
_CASE = re.compile(r"test_whole_zoo\[(?P<family>[^-\]]+)-(?P<shape>flat|nested)\]")


def _outcome(case: ElementTree.Element) -> str:
    for kind in ("failure", "error"):
        found = case.find(kind)
        if found is not None:
            message = (found.get("message") or kind).splitlines()[0]
            return f"FAILED: {message[:120]}"
    if case.find("skipped") is not None:
        return "skipped"
    return "passed"


def run(quick: bool = False) -> str:
    """Run ``pytest -m slow tests/test_model_zoo.py`` and tabulate each case's outcome and time."""
    report = os.path.join(tempfile.mkdtemp(prefix="superexplain-zoo-"), "zoo.xml")
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "slow",
               os.path.join(REPO, "tests", "test_model_zoo.py"), f"--junitxml={report}"]
    if quick:
        command += ["-k", "MobileNetV3Small or MobileNet-flat"]
    start = time.perf_counter()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", MPLBACKEND="Agg")
    completed = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    minutes = (time.perf_counter() - start) / 60
    if not os.path.exists(report):
        raise RuntimeError(f"pytest wrote no report (exit {completed.returncode}): {completed.stderr[-2000:]}")
    return section(report, minutes, completed.returncode)


def outcomes_from_junit(report: str) -> list[tuple[str, str, str]]:
    """``(family, shape, outcome with time)`` for each zoo case in a JUnit report (``pytest --junitxml``)."""
    found = []
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        match = _CASE.search(case.get("name", ""))
        if match:
            found.append((match["family"], match["shape"], f"{_outcome(case)} ({float(case.get('time', 0)):.0f} s)"))
    return found


def section(report: str, minutes: float, status: int) -> str:
    """The markdown section for a JUnit report of the slow zoo tests."""
    return section_from_outcomes(outcomes_from_junit(report), f"in {minutes:.0f} min (pytest exit status {status})")


def section_from_outcomes(outcomes: list[tuple[str, str, str]], how: str) -> str:
    """The markdown section for ``(family, shape, outcome)`` triples; ``how`` ends the count line."""
    rows: dict[str, dict[str, str]] = {}
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for family, shape, outcome in outcomes:
        kind = "failed" if outcome.startswith("FAILED") else outcome.split(" ")[0]
        counts[kind] = counts.get(kind, 0) + 1
        rows.setdefault(family, {})[shape] = outcome
    body = [[family, shapes.get("flat", "not run"), shapes.get("nested", "not run")] for family, shapes in rows.items()]
    return "\n".join([
        "## keras.applications conformance (`python -m pytest -m slow tests/test_model_zoo.py`)",
        "",
        "Every family built with `weights=None`, seed 0, 5 classes, at 64x64 (Inception 107, Xception 96), "
        "flat (`classes=5`) and nested (the backbone with `include_top=False` inside a Functional model with "
        "pooling and a Dense softmax head). Each case: the automatic layer equals the documented rule "
        "written against the public layer list; Grad-CAM at it and at a layer inside the backbone (by path "
        "and by object) equals a GradientTape reference on sub-models split at the layer to 1e-5 relative "
        "(logit); Grad-CAM++ and LayerCAM at both layers give finite non-negative maps. On the flat model "
        "also: Score-CAM, saliency, integrated gradients (completeness gap recorded), SmoothGrad, LIME, "
        "KernelSHAP, occlusion and RISE give finite maps, and guided backprop runs on ReLU families and "
        "refuses EfficientNet, MobileNetV3 and ConvNeXt with its error. Times include building the model.",
        "",
        table(["family", "flat", "nested"], body),
        "",
        f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped {how}.",
        "",
    ])
