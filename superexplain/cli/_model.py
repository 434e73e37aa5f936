"""The model on the command line: a quiet TensorFlow import, checking and loading a model file, ``--batch-size``."""
from __future__ import annotations

import contextlib
import os
import sys
from typing import Iterator, cast

import numpy as np

from ._common import whole_number

__all__ = ["AUTO_BATCH", "batch_size_arg", "model_batch_size", "quiet_native_stderr", "native_stderr_off", "import_keras",
           "check_model_file", "load_model", "make_predictor", "measure_batch_size", "tune_batch_size"]

#: ``--batch-size auto``: measure the fastest model batch size instead of giving one.
AUTO_BATCH = "auto"


def batch_size_arg(text: str) -> int | str:
    """``--batch-size``: a positive integer, or ``auto``.

    Examples
    --------
    >>> batch_size_arg("16"), batch_size_arg("auto")
    (16, 'auto')
    """
    if text == AUTO_BATCH:
        return AUTO_BATCH
    return whole_number(text, 1, also=f" or {AUTO_BATCH!r}")


def model_batch_size(batch_size: int | str | None) -> int | None:
    """The batch size to build a predictor with: ``auto`` starts from the library's default.

    Examples
    --------
    >>> model_batch_size("auto"), model_batch_size(16)
    (None, 16)
    """
    return None if batch_size == AUTO_BATCH else cast("int | None", batch_size)


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


@contextlib.contextmanager
def native_stderr_off(enabled: bool = True) -> Iterator[None]:
    """Silence what other code writes to file descriptor 2 (Ray's C++ core worker, the processes it
    starts) while Python's own ``sys.stderr`` -- progress bars, warnings, errors -- still reaches the
    terminal through a copy of the original descriptor.

    Examples
    --------
    >>> with native_stderr_off():
    ...     _ = os.write(2, b"not shown")
    """
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved_stream = sys.stderr
    saved = os.dup(2)
    stream = os.fdopen(os.dup(saved), "w", buffering=1, encoding=getattr(saved_stream, "encoding", None) or "utf-8",
                       errors="backslashreplace")
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        sys.stderr = stream
        yield
    finally:
        stream.flush()
        sys.stderr = saved_stream
        os.dup2(saved, 2)
        os.close(saved)
        stream.close()


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

    Examples
    --------
    >>> check_model_file("weights.pt")
    Traceback (most recent call last):
    ...
    ValueError: model 'weights.pt' must be a .keras or .h5 file or a SavedModel directory
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
    """Load a .keras/.h5 file or a SavedModel directory, with a one-line error for anything else.

    Examples
    --------
    >>> import os, tempfile
    >>> from superexplain.datasets import load_demo_model
    >>> path = os.path.join(tempfile.mkdtemp(), "demo.keras")
    >>> load_demo_model().save(path)
    >>> load_model(path).input_shape
    (None, 64, 64, 3)
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"model {path!r} does not exist")
    check_model_file(path)
    import_keras(debug)
    from superexplain.models import load_model as _load

    return _load(path)


def make_predictor(model, class_names=None, output=None, batch_size: int | str | None = None):
    """The model as a Predictor with --labels, --output and --batch-size; labels that do not match the model's
    outputs and a --target out of range are usage errors in the command line's words."""
    from superexplain.models import as_predictor

    from ._common import UsageError, cli_message

    try:
        return as_predictor(model, class_names=class_names, output=output, batch_size=model_batch_size(batch_size))
    except ValueError as exc:
        if "class_names has" in str(exc):
            raise UsageError(cli_message(exc)) from None
        raise


def measure_batch_size(predictor, image: np.ndarray, summary) -> int:
    """``--batch-size auto``: the model batch size :meth:`~superexplain.models.Predictor.fastest_batch_size`
    measures on ``image`` (as the model sees it), recorded in the summary with a note."""
    with summary.timed("batch_size"):
        size = int(predictor.fastest_batch_size(image))
    summary.data["batch_size"] = size
    summary.note(f"--batch-size auto: {size} images per model call, the fastest measured "
                 f"(--batch-size {size} repeats this run bit for bit)")
    return size


def tune_batch_size(predictor, batch_size: int | str | None, image: np.ndarray, summary):
    """The predictor to explain with: for ``--batch-size auto``, one at the size :func:`measure_batch_size` finds."""
    if batch_size != AUTO_BATCH:
        return predictor
    from superexplain.models import as_predictor

    return as_predictor(predictor, batch_size=measure_batch_size(predictor, image, summary))
