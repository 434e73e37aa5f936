"""Evaluation metrics for explanations: Sensitivity-n, deletion/insertion, ROAD, localisation, agreement, controls."""
from __future__ import annotations

from .map_results import AgreementResult, LocalisationResult
from .results import CurveResult, RoadResult, SensitivityResult
from .score_results import ScoreResult
from .agreement import SIMILARITIES, agreement, similarity
from .controls import edge_map, random_map
from .curves import deletion, insertion
from .localisation import pointing_game, relevance_mass
from .road import noisy_linear_impute, road
from .sensitivity import default_ns, sensitivity_n
from .complexity import complexity, sparseness
from .faithfulness import faithfulness_correlation, monotonicity, monotonicity_correlation

__all__ = [
    "sensitivity_n",
    "default_ns",
    "faithfulness_correlation",
    "monotonicity",
    "monotonicity_correlation",
    "sparseness",
    "complexity",
    "deletion",
    "insertion",
    "road",
    "noisy_linear_impute",
    "pointing_game",
    "relevance_mass",
    "agreement",
    "similarity",
    "SIMILARITIES",
    "random_map",
    "edge_map",
    "SensitivityResult",
    "CurveResult",
    "RoadResult",
    "LocalisationResult",
    "AgreementResult",
    "ScoreResult",
]
