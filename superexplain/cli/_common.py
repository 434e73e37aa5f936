"""What every subcommand shares: the parser class, common options, the run summary, model and image input."""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import time
from typing import Any, Iterator, Sequence

import numpy as np

from .. import image_files as _io

__all__ = [
    "Parser",
    "common_options",
    "model_input_options",
    "batch_size_arg",
    "model_batch_size",
    "tune_batch_size",
    "Summary",
    "quiet_native_stderr",
    "import_keras",
    "load_model",
    "ModelInputs",
    "read_inputs",
    "check_inputs",
    "check_target_names",
    "read_all_inputs",
    "input_size",
    "save_figure",
    "write_json",
    "parse_targets",
    "targets_for",
    "parse_list",
    "one_line",
    "safe_name",
]

PROG = "superexplain"
#: Images read and explained together when --batch-size is not given (the adapter's model batch).
DEFAULT_IMAGES_PER_BATCH = 64
GRADIENT_METHODS = ("gradcam", "gradcam++", "scorecam", "layercam")
PERTURBATION_METHODS = ("lime", "kernelshap", "occlusion", "rise")
METHOD_CHOICES = GRADIENT_METHODS + PERTURBATION_METHODS


def wrap(text: str, width: int = 88) -> str:
    """A help description wrapped to the terminal-friendly width (the help keeps line breaks)."""
    import textwrap

    return textwrap.fill(" ".join(text.split()), width)


def one_line(text: Any, limit: int = 600) -> str:
    """Collapse a message to one line (error messages from Keras can span many)."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit with status 2."""

    def error(self, message: str):  # noqa: D401 - argparse's signature
        self.exit(2, f"{PROG}: error: {one_line(message)} (see '{self.prog} --help')\n")


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keep the examples' line breaks and show defaults."""


def common_options() -> argparse.ArgumentParser:
    """Options every subcommand takes: --json, --quiet, --debug."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("output and diagnostics")
    group.add_argument("--json", action="store_true",
                       help="print a JSON summary on stdout (files written, targets, scores, timings)")
    group.add_argument("-q", "--quiet", action="store_true", help="no progress bars and no report of the files written")
    group.add_argument("--debug", action="store_true", help="show full tracebacks and TensorFlow's own log lines")
    return parent


def model_input_options() -> argparse.ArgumentParser:
    """Options for reading images into a model: --size, --preprocess, --labels, --output, --batch-size."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("model input")
    group.add_argument("--size", metavar="HxW", help="resize images to HxW (default: the model's input size)")
    group.add_argument("--preprocess", default="unit", metavar="MODE",
                       help="none | unit (x/255) | tf (x/127.5-1) | caffe (BGR minus ImageNet means) | "
                            "torch (x/255, ImageNet mean/std) | module:function, applied to 0..255 RGB pixels")
    group.add_argument("--labels", metavar="FILE", help="class names: one name a line, or a JSON list or dict index -> name")
    group.add_argument("--output", type=output_arg, metavar="NAME|INDEX",
                       help="for a model with several outputs: the one holding the class scores, by name or index")
    group.add_argument("--batch-size", type=batch_size_arg, metavar="B",
                       help="images per model call and per explained batch (default: the library's, 64); "
                            "'auto' times the model on the first image at 8 to 256 per call and uses the fastest "
                            "(the choice is reported; pass it as a number to repeat a run bit for bit)")
    return parent


def output_arg(text: str) -> int | str:
    """``--output``: an output index (digits) or an output name."""
    return int(text) if text.isdigit() else text


#: ``--batch-size auto``: measure the fastest model batch size instead of giving one.
AUTO_BATCH = "auto"


def batch_size_arg(text: str) -> int | str:
    """``--batch-size``: a positive integer, or ``auto``."""
    if text == AUTO_BATCH:
        return AUTO_BATCH
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'auto'; got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'auto'; got {value}")
    return value


def model_batch_size(batch_size: int | str | None) -> int | None:
    """The batch size to build a predictor with: ``auto`` starts from the library's default."""
    return None if batch_size == AUTO_BATCH else batch_size


def tune_batch_size(predictor, batch_size: int | str | None, image: np.ndarray, summary: "Summary"):
    """The predictor to explain with: for ``--batch-size auto``, one at the size
    :meth:`~superexplain.models.Predictor.fastest_batch_size` measures on ``image``, recorded in the summary."""
    if batch_size != AUTO_BATCH:
        return predictor
    from ..models import as_predictor

    with summary.timed("batch_size"):
        size = predictor.fastest_batch_size(image)
    summary.data["batch_size"] = size
    summary.note(f"--batch-size auto: {size} images per model call, the fastest measured "
                 f"(--batch-size {size} repeats this run bit for bit)")
    return as_predictor(predictor, batch_size=size)


class Summary:
    """What a command did: files written, notes for people, and a JSON-able record for scripts."""

    def __init__(self, command: str) -> None:
        self.data: dict[str, Any] = {"command": command, "files": [], "timings": {}}
        self.lines: list[str] = []
        self._start = time.perf_counter()

    def file(self, path: str, what: str) -> str:
        self.data["files"].append(path)
        if len(self.data["files"]) <= self.MAX_LISTED:
            self.lines.append(f"{what}: {path}")
        return path

    #: Files listed one by one in the report for people; the rest are counted.
    MAX_LISTED = 20

    def note(self, text: str) -> None:
        self.lines.append(text)

    @contextlib.contextmanager
    def timed(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            timings = self.data["timings"]
            timings[name] = round(timings.get(name, 0.0) + time.perf_counter() - start, 4)

    def finish(self, as_json: bool, quiet: bool, stream=None) -> None:
        stream = stream if stream is not None else sys.stdout
        self.data["timings"]["total"] = round(time.perf_counter() - self._start, 4)
        if as_json:
            stream.write(json.dumps(_clean(self.data), indent=2, default=_json_default, allow_nan=False) + "\n")
        elif not quiet:
            hidden = len(self.data["files"]) - self.MAX_LISTED
            if hidden > 0:
                self.lines.append(f"... and {hidden} more file(s)")
            for line in self.lines:
                stream.write(line + "\n")
        stream.flush()


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def finite_or_none(value: Any) -> float | None:
    """A float for JSON, None for a missing or non-finite number (JSON has no NaN)."""
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None


@contextlib.contextmanager
def quiet_native_stderr(enabled: bool = True) -> Iterator[None]:
    """Send the process's native stderr to /dev/null for a while.

    TensorFlow's C++ runtime logs start-up lines (CUDA probing, CPU features) through absl before
    TF_CPP_MIN_LOG_LEVEL is honoured; a command line should not show them. Python-level errors are
    unaffected: they are raised after stderr is restored.
    """
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def import_keras(debug: bool = False):
    """Import TensorFlow and Keras without their start-up log lines (unless debugging)."""
    with quiet_native_stderr(not debug):
        import tensorflow
        import keras

        tensorflow.config.list_physical_devices("GPU")  # device probing logs its own lines: silence them too
    return keras


def check_model_file(path: str) -> None:
    """Reject a file that cannot be a model from its first bytes, before the slow TensorFlow import.

    A ``.keras`` file is a zip archive and an ``.h5`` file starts with the HDF5 signature.
    """
    import zipfile

    if os.path.isdir(path):
        return  # a SavedModel directory: the loader checks it
    lower = path.lower()
    if not lower.endswith((".keras", ".h5", ".hdf5")):
        raise ValueError(f"model {path!r} must be a .keras or .h5 file or a SavedModel directory")
    if lower.endswith(".keras") and not zipfile.is_zipfile(path):
        raise ValueError(f"model {path!r} is not a Keras model file (a .keras file is a zip archive)")
    if lower.endswith((".h5", ".hdf5")):
        with open(path, "rb") as handle:
            if handle.read(8) != b"\x89HDF\r\n\x1a\n":
                raise ValueError(f"model {path!r} is not a Keras model file (an .h5 file is HDF5)")


def load_model(path: str, debug: bool = False):
    """Load a .keras/.h5 file or a SavedModel directory, with a one-line error for anything else."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"model {path!r} does not exist")
    check_model_file(path)
    import_keras(debug)
    from ..models import load_model as _load

    return _load(path)


class ModelInputs:
    """Images read for a model: paths, display pixels in [0, 1] and the preprocessed model inputs."""

    def __init__(self, paths: list[str], display: np.ndarray, inputs: np.ndarray) -> None:
        self.paths = paths
        self.display = display
        self.inputs = inputs

    def __len__(self) -> int:
        return len(self.paths)


def input_size(input_shape: tuple, size: str | None) -> tuple[int, int] | None:
    """The (H, W) images are resized to: --size, else the model's fixed input size, else None (keep)."""
    height, width = (tuple(input_shape) + (None, None))[:2]
    if size is not None:
        target_size = _io.parse_size(size)
        if None not in (height, width) and target_size != (height, width):
            raise ValueError(f"--size {size} does not match the model's input size {height}x{width}")
        return target_size
    if None not in (height, width):
        return int(height), int(width)
    return None


def check_inputs(specs: Sequence[str], labels: str | None = None, targets: list | None = None) -> list[str] | None:
    """Fail fast, before the slow model load: images that do not exist or named files that are not
    images, a bad labels file, target names missing from it. Returns the class names (or None)."""
    paths, discovered = _io.find_images(specs)
    for path in paths:
        if path not in discovered:
            _io.probe_image(path)
    class_names = _io.load_labels(labels) if labels else None
    if class_names is not None:
        check_target_names(targets, class_names)
    return class_names


def check_target_names(targets: list | None, class_names: Sequence[str] | None) -> None:
    """Class names given as --target must be known; say how to give them when the model has none."""
    from superexplain.models.targets import check_target

    names = [t for t in (targets or []) if isinstance(t, str)]
    if names and not class_names:
        raise ValueError(f"--target {names[0]!r} is a class name but the model has no class names; "
                         "give --labels FILE or a class index")
    for name in names:
        check_target(name, len(class_names), class_names, name="--target")


def read_inputs(specs: Sequence[str], input_shape: tuple, size: str | None, preprocess: str,
                batch_size: int | None = None) -> Iterator[ModelInputs]:
    """Find, read, resize and preprocess images for a model with input shape (H, W, C), in batches.

    Unreadable files found in a directory or by a glob are skipped with a warning; a named file
    must be readable. Without a fixed size (neither --size nor the model's) each image is its own
    batch, so images of different sizes can be explained by a size-agnostic model.
    """
    channels = int((tuple(input_shape) + (None, None, None))[2] or 3)
    target_size = input_size(input_shape, size)
    _io.preprocess_function(preprocess)  # fail on a bad --preprocess before reading anything
    paths, discovered = _io.find_images(specs)
    step = 1 if target_size is None else max(1, int(batch_size or DEFAULT_IMAGES_PER_BATCH))
    produced = 0
    for start in range(0, len(paths), step):
        images = _io.load_images(paths[start:start + step], discovered, channels=channels, size=target_size,
                                 allow_empty=True)
        if not images:
            continue
        pixels = np.stack([image.pixels for image in images])
        inputs = _io.preprocess(pixels, preprocess)
        produced += len(images)
        yield ModelInputs([image.path for image in images], pixels.astype(np.float32) / 255.0, inputs)
    if not produced:
        raise ValueError("no readable images among the inputs")


def read_all_inputs(specs: Sequence[str], input_shape: tuple, size: str | None, preprocess: str) -> ModelInputs:
    """All images at once (for commands that need the whole set together, e.g. compare and sanity)."""
    if input_size(input_shape, size) is None:
        paths, _ = _io.find_images(specs)
        if len(paths) > 1:
            raise ValueError("the model accepts any image size; give --size HxW so the images can be batched")
    batches = list(read_inputs(specs, input_shape, size, preprocess))
    return ModelInputs([path for batch in batches for path in batch.paths],
                       np.concatenate([batch.display for batch in batches]),
                       np.concatenate([batch.inputs for batch in batches]))


_INT = re.compile(r"^-?\d+$")


def parse_targets(values: str | Sequence[str] | None) -> list | None:
    """``--target`` values (indices or class names, repeatable) -> a list of classes, or None."""
    if values is None or len(values) == 0:
        return None
    if isinstance(values, str):
        values = [values]
    return [int(value) if _INT.match(value.strip()) else value.strip() for value in values]


def targets_for(targets: list | None, n_images: int) -> Any:
    """The library's ``target`` argument giving every one of ``n_images`` images all of ``targets``."""
    return None if targets is None else [list(targets) for _ in range(n_images)]


def parse_list(text: str, kind: type, name: str) -> list:
    """``"25,50,100"`` -> ``[25, 50, 100]`` with a clear error naming the option."""
    items = [item.strip() for item in str(text).split(",") if item.strip()]
    if not items:
        raise ValueError(f"{name} must be a comma-separated list; got {text!r}")
    try:
        return [kind(item) for item in items]
    except ValueError:
        raise ValueError(f"{name} must be a comma-separated list of {kind.__name__}s; got {text!r}") from None


def safe_name(text: Any) -> str:
    """A file-name-safe version of a class name or image stem."""
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", str(text)).strip("_") or "x"


def save_figure(figure, path: str, dpi: int = 110) -> str:
    """Write a matplotlib figure to a PNG (creating its folder) and free it."""
    import matplotlib.pyplot as plt

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    try:
        figure.savefig(path, dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(figure)
    return path


def write_json(data: Any, path: str) -> str:
    """Write JSON (NaN written as null) and return the path."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(_clean(data), handle, indent=2, default=_json_default, allow_nan=False)
        handle.write("\n")
    return path


def _clean(value: Any) -> Any:
    """NaN and infinities become None so the JSON stays standard."""
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(item) for item in value]
    if isinstance(value, np.ndarray):
        return _clean(value.tolist())
    if isinstance(value, (float, np.floating)):
        return finite_or_none(value)
    if isinstance(value, np.integer):
        return int(value)
    return value
