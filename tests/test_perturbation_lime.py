"""LIME on the perturbation engine: ground-truth models, determinism, agreement with lime, bad input."""
from __future__ import annotations

import numpy as np
import pytest

import superexplain
from superexplain.perturbation import hide_image
from superexplain.segmentation import segment

from _perturbation_helpers import grid_segments as _grid_segments, presence as _presence

