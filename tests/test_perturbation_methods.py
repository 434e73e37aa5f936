"""KernelSHAP, occlusion and RISE on the perturbation engine, and the engine's batch loop."""
from __future__ import annotations

from itertools import combinations
from math import factorial

import numpy as np
import pytest

import superexplain
from superexplain.models import as_predictor
from superexplain.perturbation import predict_in_batches
from superexplain.perturbation.rise import RiseMasks

from _perturbation_helpers import grid_segments as _grid_segments, presence as _presence

