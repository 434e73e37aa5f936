"""Sanity checks for explanations: model-parameter and data randomisation (Adebayo et al., arXiv 1810.03292),
max/average sensitivity (Yeh et al., arXiv 1901.09392) and the random-logit test (Sixt et al., arXiv 1912.09818)."""
from __future__ import annotations

from ._result import RandomizationResult
from .data_randomization import DataRandomizationResult, data_randomization
from .randomization import CONTROLS, model_randomization
from .random_logit import random_logit
from .robustness import avg_sensitivity, max_sensitivity

__all__ = ["model_randomization", "RandomizationResult", "CONTROLS", "max_sensitivity", "avg_sensitivity",
           "random_logit", "data_randomization", "DataRandomizationResult"]
