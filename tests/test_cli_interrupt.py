"""A local `superexplain explain` run stopped with Ctrl-C keeps what it finished, and the same command resumes it.

The resumed run's files equal, byte for byte, those of a run that was never interrupted.
"""
from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest


def _command(model: str, images: pathlib.Path, out: pathlib.Path) -> list[str]:
    return [sys.executable, "-m", "superexplain", "explain", model, str(images), "--method", "lime",
            "--num-samples", "600", "--seed", "4", "--out", str(out), "--format", "png,json", "-q"]


def _env() -> dict:
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", MPLBACKEND="Agg")


def _done_lines(out: pathlib.Path) -> int:
    index = out / "index.jsonl"
    return len(index.read_text().splitlines()) if index.exists() else 0


def _files(out: pathlib.Path) -> dict[str, bytes]:
    return {str(path.relative_to(out)): path.read_bytes() for path in sorted((out / "explanations").iterdir())
            if not path.name.startswith(".")}


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    from PIL import Image

    from superexplain.datasets import make_shapes

    folder = tmp_path_factory.mktemp("photos")
    for index, image in enumerate(make_shapes(24, seed=9).images):
        Image.fromarray((image * 255).round().astype(np.uint8)).save(folder / f"img{index:02d}.png")
    return folder


def test_ctrl_c_keeps_finished_images_and_the_rerun_finishes_them_identically(image_folder, tmp_path, demo_model_file):
    interrupted, whole = tmp_path / "interrupted", tmp_path / "whole"
    # SIGINT's default action restored in the child: a test run started in the background by a shell
    # without job control inherits an *ignored* SIGINT, and Python then never raises KeyboardInterrupt
    process = subprocess.Popen(_command(demo_model_file, image_folder, interrupted), env=_env(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 300
    while _done_lines(interrupted) < 2 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    if process.poll() is not None:
        pytest.fail(f"the run ended before it could be interrupted (exit {process.returncode}): "
                    f"{process.stderr.read()[-1000:]}")
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode != 0, "an interrupted run must not exit 0"
    kept = _done_lines(interrupted)
    assert 2 <= kept < 24, f"{kept} index lines after the interruption"
    assert "Traceback" not in stderr

    resumed = subprocess.run(_command(demo_model_file, image_folder, interrupted) + ["--json"], env=_env(),
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    fresh = subprocess.run(_command(demo_model_file, image_folder, whole), env=_env(), capture_output=True, text=True,
                           timeout=600)
    assert fresh.returncode == 0, fresh.stderr[-2000:]

    assert _done_lines(interrupted) == _done_lines(whole) == 24
    assert _files(interrupted) == _files(whole)  # every .npz, .png and .json, byte for byte
