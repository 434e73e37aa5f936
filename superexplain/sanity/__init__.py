"""Sanity checks for explanations: model-parameter randomisation (Adebayo et al., arXiv 1810.03292)."""
from __future__ import annotations

from ._result import RandomizationResult
from .randomization import CONTROLS, model_randomization

__all__ = ["model_randomization", "RandomizationResult", "CONTROLS"]
