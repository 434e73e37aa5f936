"""The dataset runner: `explain_dataset` explains every image of a dataset into a resumable folder, locally or on Ray.

- ``run``: :func:`explain_dataset`, which checks its arguments and drives a run;
- ``result``: :class:`DatasetResult`, a run folder read back;
- ``sources``: images as numbered entries (arrays, iterables, tf.data, image files);
- ``model_spec``: how the model reaches the workers, and the Predictor each builds;
- ``identity``: what a resume compares (the images' identity, the model's fingerprint) and what
  changed, in words;
- ``index``: the run folder's record (``run.json``, ``index.jsonl``), its lock and atomic writes;
- ``worker``: the explaining of one unit of images, the same code on every backend;
- ``writer``: the units still to do, and writing each image's files and index lines;
- ``ray_backend``: units spread over a pool of Ray actors, each holding the model.
"""
from .result import DatasetResult
from .run import explain_dataset

__all__ = ["explain_dataset", "DatasetResult"]
