"""Results that must not depend on their batch mates: equal to float32 rounding.

Whether TensorFlow computes a row's gradient bit for bit whatever the batch size depends on the
oneDNN kernels it picks for that batch size, TensorFlow version and CPU: these tests were exact on
the machine they were written on, and 5.8e-11 off (1.4e-5 relative at worst, the demo CNN's
SmoothGrad) on a later 2-core machine, with TF 2.21 and with TF 2.16 alike. A seed given to the wrong image would
change the result by orders of magnitude more, so the tolerance still catches what these tests guard.
"""
from __future__ import annotations

import dataclasses

import numpy as np


def assert_same_arrays(actual, expected) -> None:
    scale = float(np.max(np.abs(expected))) if np.size(expected) else 0.0
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-6 * scale)


def assert_same_explanation(actual, expected) -> None:
    for field in dataclasses.fields(actual):
        a, b = getattr(actual, field.name), getattr(expected, field.name)
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            assert a.shape == b.shape and a.dtype == b.dtype, field.name
            assert_same_arrays(a, b)
        elif isinstance(a, float) and field.name == "score":
            assert np.isclose(a, b, rtol=1e-5), (field.name, a, b)
        elif isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b)
        else:
            assert a == b, (field.name, a, b)
