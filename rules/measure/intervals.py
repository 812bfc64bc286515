"""Time ranges against power samples, vectorised: which samples each range overlaps and by how much.

A sample stamped t stands for the interval (t - interval, t], as the meters report averages.
"""

from __future__ import annotations

import numpy as np


def sample_overlaps(
    t: np.ndarray, interval_ns: int, begin: np.ndarray, end: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(range index, sample index, overlap ns) for every range [begin, end] and sample (t - interval, t]."""
    first = np.searchsorted(t, begin, side="right")
    last = np.searchsorted(t, end + interval_ns, side="left") - 1
    counts = np.maximum(last - first + 1, 0)
    ranges = np.repeat(np.arange(len(begin)), counts)
    offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    sample = np.repeat(first, counts) + offsets
    overlap = np.minimum(t[sample], end[ranges]) - np.maximum(t[sample] - interval_ns, begin[ranges])
    return ranges, sample, np.maximum(overlap, 0)


def union_of(begin: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The union of ranges [begin, end] as disjoint ranges (concurrent ones merged)."""
    if not len(begin):
        return begin, end
    order = np.argsort(begin, kind="stable")
    b, e = begin[order], end[order]
    reach = np.maximum.accumulate(e)
    starts_new = np.concatenate(([True], b[1:] > reach[:-1]))
    return b[starts_new], np.maximum.reduceat(reach, np.flatnonzero(starts_new))
