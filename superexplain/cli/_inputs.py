"""Images and classes on the command line: the model-input options, reading image files for a model, ``--target``."""
from __future__ import annotations

import argparse
import re
from typing import Any, Iterator, Sequence, cast

import numpy as np

from superexplain import image_files as _io

from ._common import UsageError, cli_message
from ._model import batch_size_arg

__all__ = ["DEFAULT_IMAGES_PER_BATCH", "model_input_options", "output_arg", "ModelInputs", "input_size",
           "check_inputs", "check_target_names", "check_labels", "parse_size", "read_inputs", "read_all_inputs", "first_model_input",
           "parse_targets", "targets_for"]

#: Images read and explained together by compare and sanity's reading (the adapter's model batch).
DEFAULT_IMAGES_PER_BATCH = 64
_INT = re.compile(r"^-?\d+$")


def model_input_options() -> argparse.ArgumentParser:
    """Options for reading images into a model: --size, --preprocess, --labels, --output, --batch-size.

    Examples
    --------
    >>> model_input_options().parse_args(["--size", "32x32", "--batch-size", "auto"]).batch_size
    'auto'
    """
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("model input")
    group.add_argument("--size", metavar="HxW", help="resize images to HxW (default: the model's input size)")
    group.add_argument("--preprocess", default="unit", metavar="MODE",
                       help="none | unit (x/255) | tf (x/127.5-1) | caffe (BGR minus ImageNet means) | "
                            "torch (x/255, ImageNet mean/std) | module:function, applied to 0..255 RGB pixels")
    group.add_argument("--labels", metavar="FILE",
                       help="class names: one name a line, or a JSON list or dict index -> name")
    group.add_argument("--output", type=output_arg, metavar="NAME|INDEX",
                       help="for a model with several outputs: the one holding the class scores, by name or index")
    group.add_argument("--batch-size", type=batch_size_arg, metavar="B",
                       help="images per model call (default: the library's, 64); 'auto' times the model on the "
                            "first image at 8 to 256 per call and uses the fastest (the choice is reported; pass it "
                            "as a number to repeat a run bit for bit)")
    return parent


def output_arg(text: str) -> int | str:
    """``--output``: an output index (digits) or an output name.

    Examples
    --------
    >>> output_arg("1"), output_arg("classes")
    (1, 'classes')
    """
    return int(text) if text.isdigit() else text


class ModelInputs:
    """Images read for a model: paths, display pixels in [0, 1] and the preprocessed model inputs."""

    def __init__(self, paths: list[str], display: np.ndarray, inputs: np.ndarray) -> None:
        self.paths = paths
        self.display = display
        self.inputs = inputs

    def __len__(self) -> int:
        return len(self.paths)


def input_size(input_shape: tuple, size: str | None) -> tuple[int, int] | None:
    """The (H, W) images are resized to: --size, else the model's fixed input size, else None (keep).

    Examples
    --------
    >>> input_size((32, 32, 3), None), input_size((None, None, 3), "24x20")
    ((32, 32), (24, 20))
    """
    height, width = (tuple(input_shape) + (None, None))[:2]
    if size is not None:
        target_size = parse_size(size)
        if None not in (height, width) and target_size != (height, width):
            raise UsageError(f"--size {size} does not match the model's input size {height}x{width}")
        return target_size
    if None not in (height, width):
        return int(height), int(width)
    return None


def parse_size(size: str) -> tuple[int, int]:
    """``--size HxW`` as (H, W); a malformed one is a usage error.

    Examples
    --------
    >>> parse_size("24x20")
    (24, 20)
    """
    try:
        return _io.parse_size(size)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


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


def check_target_names(targets: list | None, class_names: Sequence[str] | None,
                       num_classes: int | None = None) -> None:
    """Class names given as --target must be known, and indices in range once the model's class count is
    known; say how to give names when the model has none.

    Examples
    --------
    >>> check_target_names([1, "dog"], ["cat", "dog"])
    >>> check_target_names(["dog"], None)
    Traceback (most recent call last):
    ...
    superexplain.cli._common.UsageError: --target 'dog' is a class name but the model has no class names; give --labels FILE or a class index
    >>> check_target_names([7], None, num_classes=4)
    Traceback (most recent call last):
    ...
    superexplain.cli._common.UsageError: --target 7 is out of range: the model has 4 classes (0..3)
    """
    from superexplain.models.targets import check_target

    names = [t for t in (targets or []) if isinstance(t, str)]
    if names and not class_names:
        raise UsageError(f"--target {names[0]!r} is a class name but the model has no class names; "
                         "give --labels FILE or a class index")
    count = num_classes if num_classes is not None else (len(class_names) if class_names else None)
    for target in targets or []:
        if isinstance(target, str) or count is not None:
            try:
                check_target(target, count or len(cast(Sequence[str], class_names)), class_names, name="target")
            except ValueError as exc:
                raise UsageError(cli_message(exc)) from None


def check_labels(class_names: Sequence[str] | None, num_classes: int | None) -> None:
    """--labels must name every output of the model.

    Examples
    --------
    >>> check_labels(["a", "b", "c"], 4)
    Traceback (most recent call last):
    ...
    superexplain.cli._common.UsageError: --labels has 3 names but the model has 4 outputs
    """
    if class_names is not None and num_classes is not None and len(class_names) != num_classes:
        raise UsageError(f"--labels has {len(class_names)} names but the model has {num_classes} outputs")


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
            raise UsageError("the model accepts any image size; give --size HxW so the images can be batched")
    batches = list(read_inputs(specs, input_shape, size, preprocess))
    return ModelInputs([path for batch in batches for path in batch.paths],
                       np.concatenate([batch.display for batch in batches]),
                       np.concatenate([batch.inputs for batch in batches]))


def first_model_input(paths: Sequence[str], input_shape: tuple, size: str | None, preprocess: str) -> np.ndarray:
    """The first readable image of ``paths`` as the model sees it (read, resized, preprocessed): to time the model."""
    channels = int((tuple(input_shape) + (None, None, None))[2] or 3)
    target_size = input_size(input_shape, size)
    for path in paths:
        try:
            pixels = _io.read_image(path, channels=channels, size=target_size)
        except _io.UnreadableImage:
            continue
        return _io.preprocess(pixels, preprocess)
    raise ValueError("no readable images among the inputs")


def parse_targets(values: str | Sequence[str] | None) -> list | None:
    """``--target`` values (indices or class names, repeatable) -> a list of classes, or None.

    Examples
    --------
    >>> parse_targets(["3", "tabby cat "]), parse_targets(None)
    ([3, 'tabby cat'], None)
    """
    if values is None or len(values) == 0:
        return None
    if isinstance(values, str):
        values = [values]
    return [int(value) if _INT.match(value.strip()) else value.strip() for value in values]


def targets_for(targets: list | None, n_images: int) -> Any:
    """The library's ``target`` argument giving every one of ``n_images`` images all of ``targets``.

    Examples
    --------
    >>> targets_for([1, "dog"], 2)
    [[1, 'dog'], [1, 'dog']]
    """
    return None if targets is None else [list(targets) for _ in range(n_images)]
