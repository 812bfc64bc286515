"""Counter-based noise: the value for sample k depends only on (key, k).

A stateful generator would give different numbers depending on how fetches happen to chunk the
samples; hashing the sample index (splitmix64, vectorised in uint64) keeps every sample
reproducible whatever the chunking, the thread timing or the order of reads.
"""

from __future__ import annotations

import numpy as np

_MASK64 = (1 << 64) - 1
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _splitmix_int(x: int) -> int:
    z = (x + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def stream_key(*parts: int) -> int:
    """A 64-bit key for one noise stream, e.g. `stream_key(seed, measurement, channel, quantity)`."""
    key = 0
    for part in parts:
        key = _splitmix_int(key ^ (part & _MASK64))
    return key


def _mix(x: np.ndarray) -> np.ndarray:
    # Array arithmetic in uint64 wraps modulo 2**64, which is exactly what splitmix64 needs.
    z = x + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def uniform(key: int, index: np.ndarray) -> np.ndarray:
    """Uniform floats in (0, 1], one per sample index."""
    x = index.astype(np.uint64) * _GOLDEN ^ np.uint64(key)
    return ((_mix(x) >> np.uint64(11)).astype(np.float64) + 1.0) * 2.0**-53


def gaussian(key: int, index: np.ndarray) -> np.ndarray:
    """Standard normal values, one per sample index (Box–Muller on two hashed uniforms)."""
    u1 = uniform(stream_key(key, 1), index)
    u2 = uniform(stream_key(key, 2), index)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
