"""Helpers shared by the perturbation tests: exact grid segments and which segments a masked image shows."""
import numpy as np


def grid_segments(height, width, rows, cols):
    """Labels of a rows x cols grid over an image of height x width (row-major)."""
    return (np.arange(height)[:, None] * rows // height * cols + np.arange(width)[None, :] * cols // width).astype(int)


def presence(batch, image, segments):
    """(b, K) bool: segment j of each batched image shows the original image's own pixels."""
    n_segments = int(segments.max()) + 1
    same = np.all(batch == image, axis=-1).reshape(len(batch), -1).astype(float)
    onehot = np.eye(n_segments)[segments.ravel()]
    return same @ onehot == onehot.sum(axis=0)
