"""Check the built sdist and wheel hold what a release needs (run by .ci/run after `python -m build`).

Usage: python ci/check_dist.py DIST_DIR. Exits non-zero listing every missing piece.
"""
from __future__ import annotations

import pathlib
import sys
import tarfile
import zipfile

# in the wheel: the package's data files beside its code
WHEEL_MUST_HOLD = ["superexplain/py.typed", "superexplain/datasets/demo_model_weights.npz",
                   "superexplain/cli/__init__.py"]
# in the sdist: enough to run the tests and build the docs from it alone
SDIST_MUST_HOLD = ["pyproject.toml", "README.md", "CHANGELOG.md", "LICENSE", "MANIFEST.in", "mkdocs.yml",
                   "tests/conftest.py", "tests/test_release.py", "docs/index.md", "docs/sanity.md",
                   "examples", "ci/constraints-min.txt", "superexplain/datasets/demo_model_weights.npz"]


def main(dist_dir: str) -> int:
    dist = pathlib.Path(dist_dir)
    wheels, sdists = sorted(dist.glob("*.whl")), sorted(dist.glob("*.tar.gz"))
    problems = []
    if len(wheels) != 1 or len(sdists) != 1:
        problems.append(f"expected one wheel and one sdist in {dist}, found {[p.name for p in dist.iterdir()]}")
    else:
        wheel_names = set(zipfile.ZipFile(wheels[0]).namelist())
        problems += [f"wheel lacks {name}" for name in WHEEL_MUST_HOLD if name not in wheel_names]
        problems += [f"wheel holds test or docs file {name}" for name in wheel_names
                     if name.startswith(("tests/", "docs/", "examples/", "benchmarks/"))]
        with tarfile.open(sdists[0]) as archive:
            # every member is under "<name>-<version>/"; directories may be implicit, so match prefixes
            sdist_names = {member.split("/", 1)[1] for member in archive.getnames() if "/" in member}
        for name in SDIST_MUST_HOLD:
            if not any(member == name or member.startswith(name + "/") for member in sdist_names):
                problems.append(f"sdist lacks {name}")
    for problem in problems:
        print(f"check_dist: {problem}", file=sys.stderr)
    if not problems:
        print(f"check_dist: {wheels[0].name} ({len(wheel_names)} files) and {sdists[0].name} "
              f"({len(sdist_names)} files) hold what a release needs")
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
