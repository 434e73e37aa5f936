"""Release facts: one version everywhere, a changelog entry for it, floors written once and true."""
from __future__ import annotations

import importlib.metadata
import pathlib
import re
import subprocess
import sys
import tomllib

import superexplain

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_version_is_written_once_and_the_installed_metadata_reads_it():
    project = _pyproject()["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert _pyproject()["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "superexplain.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", superexplain.__version__)
    assert importlib.metadata.version("superexplain") == superexplain.__version__


def test_the_command_line_reports_the_same_version():
    completed = subprocess.run([sys.executable, "-m", "superexplain", "--version"], capture_output=True,
                               text=True, check=True, cwd=ROOT)
    assert completed.stdout.split() == ["superexplain", superexplain.__version__]


def test_the_changelog_has_an_entry_for_this_version():
    changelog = (ROOT / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## \[([^\]]+)\]", changelog, flags=re.M)
    assert headings[0] == "Unreleased"
    assert superexplain.__version__ in headings


def _requirement_floors(requirements: list[str]) -> dict[str, str]:
    floors = {}
    for requirement in requirements:
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)>=([0-9.]+)", requirement.replace(" ", ""))
        assert match, f"dependency {requirement!r} is not written as name>=floor"
        floors[match.group(1).lower()] = match.group(2)
    return floors


def test_the_floor_constraints_pin_exactly_the_floors_pyproject_declares():
    # the floor stage of .ci/run installs ci/constraints-min.txt: it must be the declared floors, no
    # more and no less (Keras's floor included), so that a raised floor cannot go untested
    floors = _requirement_floors(_pyproject()["project"]["dependencies"])
    pins = {}
    for line in (ROOT / "ci" / "constraints-min.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.strip().lower()] = version.strip()
    assert pins.keys() == floors.keys()
    for name, floor in floors.items():
        pinned = tuple(int(part) for part in pins[name].split("."))
        declared = tuple(int(part) for part in floor.split("."))
        # the pin is the floor itself, or its first patch release when the floor names a minor release only
        assert pinned[:len(declared)] == declared, (name, floor, pins[name])


def test_python_classifiers_say_only_the_tested_version():
    project = _pyproject()["project"]
    tested = f"{sys.version_info.major}.{sys.version_info.minor}"
    versions = [c.rsplit(" :: ", 1)[1] for c in project["classifiers"]
                if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)]
    assert versions == [tested]
    assert project["requires-python"] == f">={tested}"
