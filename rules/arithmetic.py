"""Sums whose last digit does not depend on the machine.

`np.dot` and `@` on vectors hand the sum to whichever BLAS numpy bundles, and its kernels add in an
order that changes with the CPU and the release: numpy 2.4's changed the last digit of a published
training run. Results that are compared digit for digit (goldens, published values, two labs'
reports) are summed here, left to right, as a plain loop would.
"""

from __future__ import annotations

import numpy as np


def sequential_sum(terms: np.ndarray) -> float:
    return float(np.cumsum(terms, dtype=np.float64)[-1]) if len(terms) else 0.0


def sequential_dot(a: np.ndarray, b: np.ndarray) -> float:
    return sequential_sum(np.multiply(a, b, dtype=np.float64))
