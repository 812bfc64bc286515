"""The training power score: an Olympic mean of run energies, times the review committee's scaling factor.

Runs are sorted by time to train; the fastest and slowest `k` are dropped (per benchmark, from the
rule set's `[metric] olympic_drop`: 1, or 4 for unet3d, whose rules ask for 40 runs) and the rest averaged. A run that did not converge has no valid time to train:
it sorts as the slowest, so it is among the first dropped, and more non-converged runs than `k` make
the score invalid (the reference summarizer's "too many non-converging runs").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass
class RunEnergy:
    """One run (one `result_*.txt`) and its energy; `energy_j` is None when it cannot be computed."""

    name: str
    ttt_s: float | None
    energy_j: float | None
    converged: bool
    nodes: int = 0
    switches: int = 0
    samples: int = 0
    uncertainty_j: float | None = None
    dropped: bool = False
    node_energy_j: tuple[float, ...] = ()
    """Each node's share (J), in the order of `node_logs`; switches are in `energy_j` only."""
    node_logs: tuple[str, ...] = ()
    """The file names of the run's node power logs."""
    stated_meter_j: float | None = None
    """Σ node energy × the accuracy its log states (a bound, J); None unless every node log states one."""

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "ttt_s": self.ttt_s,
            "energy_kj": None if self.energy_j is None else self.energy_j / 1000,
            "converged": self.converged,
            "dropped": self.dropped,
        }


@dataclass(frozen=True)
class Score:
    """The Olympic mean (J, before scaling) over the kept runs; `error` says why there is none."""

    mean_energy_j: float | None
    kept: int
    error: str = ""


def per_benchmark(table: Mapping[str, int], benchmark: str) -> int:
    """A rule-set table keyed by benchmark name, with `default` for the others."""
    return int(table.get(benchmark, table["default"]))


def olympic_score(runs: list[RunEnergy], benchmark: str, k: int) -> Score:
    """Mark dropped runs (in place, `dropped=True`) and return the mean energy of the others, `k`
    runs dropped at each end."""
    converged = sorted(
        (r for r in runs if r.converged and r.ttt_s is not None and r.energy_j is not None),
        key=lambda r: r.ttt_s if r.ttt_s is not None else math.inf,
    )
    converged_ids = {id(r) for r in converged}
    failed = [r for r in runs if id(r) not in converged_ids]
    for run in runs:
        run.dropped = False
    # Failed runs are the slowest, so they use up the slow-end drops first.
    slow_end_left = k - len(failed)
    for run in failed:
        run.dropped = True
    for run in converged[:k]:
        run.dropped = True
    if slow_end_left > 0:
        for run in converged[max(0, len(converged) - slow_end_left) :]:
            run.dropped = True
    kept = [r for r in runs if not r.dropped]
    if len(failed) > k:
        return Score(
            None, 0, f"{len(failed)} runs did not converge; at most {k} may be dropped for {benchmark}"
        )
    if not kept:
        return Score(None, 0, f"{len(runs)} run(s) leave none after dropping {k} at each end")
    total = math.fsum(r.energy_j for r in kept if r.energy_j is not None)
    return Score(total / len(kept), len(kept))
