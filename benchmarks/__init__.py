"""Runnable benchmarks: `python -m benchmarks [name ...]` writes benchmarks/RESULTS.md."""
