"""The dataset runner: `explain_dataset` explains every image of a dataset into a resumable folder, locally or on Ray.

``run`` drives a run; ``sources`` reads images (arrays, streams, files), ``index`` keeps the run
folder's record, ``worker`` explains one unit of images (the same code on every backend) and
``ray_backend`` spreads units over Ray Data actors.
"""
from .run import DatasetResult, explain_dataset

__all__ = ["explain_dataset", "DatasetResult"]
