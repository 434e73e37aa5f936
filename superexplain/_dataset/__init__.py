"""Helpers of :func:`superexplain.explain_dataset`: image sources, the on-disk index, the per-unit worker, the Ray backend."""
