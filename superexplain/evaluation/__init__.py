"""One evaluation of several explanation methods: every check against the controls, one report (``evaluate``)."""
from __future__ import annotations

from .checks import CHECKS, CONTROLS, Check
from .evaluate import evaluate
from .report import EvaluationReport

__all__ = ["evaluate", "EvaluationReport", "CHECKS", "CONTROLS", "Check"]
