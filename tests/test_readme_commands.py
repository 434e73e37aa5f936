"""Every command-line example of the README runs as written, in a folder holding the files it names.

The folder gets the bundled demo model as ``model.keras``, the demo's class names as
``labels.txt``, and planted-shapes images wherever a command names an image or a folder
(``cat.jpg``, ``photos/``, ``images/``, ``big_folder/``) and the object masks of ``images/`` in ``masks/``;
the commands themselves are not edited.
"""
from __future__ import annotations

import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys

import numpy as np
import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def readme_commands() -> list[str]:
    """The ``superexplain ...`` lines of the README's bash blocks, continuation lines joined, comments dropped."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #")[0].strip()
            if line.startswith("superexplain "):
                commands.append(" ".join(line.split()))
    return commands


COMMANDS = readme_commands()


def test_the_readme_has_command_line_examples_to_run():
    assert len(COMMANDS) >= 5
    assert any(c.startswith("superexplain demo") for c in COMMANDS)
    assert any(" --backend ray" in c for c in COMMANDS)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, demo_model_file):
    from PIL import Image

    from superexplain.datasets import CLASS_NAMES, make_shapes

    folder = tmp_path_factory.mktemp("readme")
    shutil.copy(demo_model_file, folder / "model.keras")
    (folder / "labels.txt").write_text("\n".join(CLASS_NAMES) + "\n")
    shapes = make_shapes(4, seed=5)
    images = (shapes.images * 255).round().astype(np.uint8)
    Image.fromarray(images[0]).save(folder / "cat.jpg", quality=95)
    for name in ("photos", "images", "big_folder"):
        (folder / name).mkdir()
        for index, image in enumerate(images[1:]):
            Image.fromarray(image).save(folder / name / f"shape{index}.png")
    (folder / "masks").mkdir()  # the object masks of images/, matched by file name (superexplain evaluate --masks)
    for index, mask in enumerate(shapes.masks[1:]):
        Image.fromarray(mask.astype(np.uint8) * 255).save(folder / "masks" / f"shape{index}.png")
    return folder


@pytest.mark.parametrize("command", COMMANDS, ids=[c[:60] for c in COMMANDS])
def test_a_readme_command_runs_as_written(command, workdir):
    argv = shlex.split(command)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, "-m", "superexplain", *argv[1:]], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{command!r} exited {done.returncode}:\n{done.stderr[-2000:]}"
    assert "Traceback" not in done.stderr
