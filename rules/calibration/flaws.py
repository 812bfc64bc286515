"""The ways software power sources are known to fail, looked for in a calibration recording.

- partial-time sampling: NVML's power fields sample part of the runtime on A100/H100 (arXiv
  2312.02741), so the polled power integrates to a different energy than the energy counter
  (zeus#181). The NVML driver integrates every power field next to the counter
  (`stats().extra`: `gpuN_counter_j`, `gpuN_instant_j`, ...); a field more than
  `PARTIAL_LIMIT` away from the counter is reported.
- counter resets and wraps: a counter that went back (`gpuN_resets`), and samples the source
  flagged as errors.
- stale readings: the same value read again and again while the reference moved (a BMC that
  refreshes its sensor slower than it is polled, a cached IPMI reading).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import numpy as np

from analyzers.formats.units import NS_PER_S
from analyzers.trace import SAMPLE_OK, Trace

PARTIAL_LIMIT = 0.02
"""2 %: beyond the counter's own resolution over a calibration's minutes, a real disagreement."""
STALE_RUN = 3
"""Repeats of one reading that count as stale: three in a row while the reference moved."""
_INTEGRAL = re.compile(r"(gpu\d+)_(instant|average|usage)_j")


@dataclass(frozen=True)
class Flaw:
    kind: str  # "partial-time sampling", "counter reset", "flagged samples", "stale readings"
    detail: str  # one sentence with the figures

    def to_json(self) -> dict[str, str]:
        return asdict(self)


def from_driver_stats(extra: dict[str, float]) -> list[Flaw]:
    flaws = []
    for key, polled_j in sorted(extra.items()):
        match = _INTEGRAL.fullmatch(key)
        counter_j = extra.get(f"{match.group(1)}_counter_j") if match else None
        if match is None or counter_j is None or not counter_j > 0 or not np.isfinite(polled_j):
            continue
        difference = (polled_j - counter_j) / counter_j
        if abs(difference) > PARTIAL_LIMIT:
            flaws.append(
                Flaw(
                    "partial-time sampling",
                    f"{match.group(1)}: polling {match.group(2)} power integrates to {polled_j:.1f} J, "
                    f"the energy counter to {counter_j:.1f} J ({difference * 100:+.1f} %)",
                )
            )
    for key, count in sorted(extra.items()):
        if key.endswith("_resets") and count > 0:
            flaws.append(
                Flaw(
                    "counter reset",
                    f"{key.removesuffix('_resets')}: the energy counter went back {int(count)} time(s)",
                )
            )
    return flaws


def flagged_samples(candidate: Trace) -> list[Flaw]:
    bad = int(np.count_nonzero(candidate.flags != SAMPLE_OK))
    if not bad:
        return []
    return [
        Flaw(
            "flagged samples",
            f"{bad} of {len(candidate)} samples were flagged by the source (error or missed)",
        )
    ]


def stale_readings(candidate: Trace, reference: Trace) -> list[Flaw]:
    """Runs of `STALE_RUN` or more identical readings during which the reference changed by more
    than 1 % of its mean."""
    keep = (candidate.flags == SAMPLE_OK) & np.isfinite(candidate.watts)
    t, w = candidate.time_ns[keep], candidate.watts[keep]
    if len(w) < STALE_RUN + 1:
        return []
    changed = np.concatenate(([True], w[1:] != w[:-1]))
    starts = np.flatnonzero(changed)
    lengths = np.diff(np.append(starts, len(w)))
    long_runs = np.flatnonzero(lengths >= STALE_RUN)
    if not len(long_runs):
        return []
    rt, rw = reference.time_ns, reference.watts
    spread = np.nanmean(np.abs(rw)) * 0.01
    stale = []
    for run in long_runs:
        first, last = t[starts[run]], t[starts[run] + lengths[run] - 1]
        inside = rw[(rt > first) & (rt <= last)]
        if len(inside) > 1 and np.nanmax(inside) - np.nanmin(inside) > spread:
            stale.append(run)
    if not stale:
        return []
    repeated = int(sum(lengths[r] - 1 for r in stale))
    longest = max(stale, key=lambda r: lengths[r])
    longest_s = (t[starts[longest] + lengths[longest] - 1] - t[starts[longest]]) / NS_PER_S
    return [
        Flaw(
            "stale readings",
            f"{repeated} of {len(w)} readings repeated the one before while the reference moved; "
            f"the longest run held {w[starts[longest]]:.1f} W for {longest_s:.0f} s",
        )
    ]
