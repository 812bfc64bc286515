"""Benchmark: the response fit of a calibration (lag x averaging search, then gain and offset).

A reference and a candidate at 1 Hz for `--hours` (default 1 h): the candidate is the reference
averaged over 60 s, 30 s late, x 0.93 + 12 W, plus noise. Baseline, in the same process on the same
traces: one least-squares line at the known lag and averaging (what the fit costs when nothing is
searched). Prints the full fit's time against it, and what it recovered.

    python benchmarks/bench_calibration.py [--hours H] [--max-lag S] [--max-averaging S]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from analyzers.trace import Trace
from rules.calibration.response import averaged_reference, cumulative_energy, fit_response

START_NS = 1_700_000_000_000_000_000


def traces(seconds: int) -> tuple[Trace, Trace]:
    rng = np.random.default_rng(3)
    level = 100.0 + 500.0 * (np.arange(seconds) // 120 % 3 == 1) + 250.0 * (np.arange(seconds) // 45 % 2)
    energy = np.concatenate(([0.0], np.cumsum(level)))
    t = np.arange(1, seconds + 1)
    reference = level + rng.normal(0, 1.0, seconds)
    end = np.clip(t - 30, 0, seconds)
    start = np.clip(t - 90, 0, seconds)
    candidate = 0.93 * (energy[end] - energy[start]) / 60.0 + 12.0 + rng.normal(0, 2.0, seconds)
    stamps = START_NS + t * 1_000_000_000
    return Trace.from_columns(stamps, reference), Trace.from_columns(stamps, candidate)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--max-lag", type=float, default=120.0)
    parser.add_argument("--max-averaging", type=float, default=180.0)
    options = parser.parse_args()
    reference, candidate = traces(round(options.hours * 3600))

    began = time.perf_counter()
    times, energy, origin = cumulative_energy(reference)
    at = (candidate.time_ns - origin) / 1e9
    keep = at - 90 >= 0
    x = averaged_reference(times, energy, at[keep], 30.0, np.array([60.0]))[0]
    np.linalg.lstsq(np.column_stack([x, np.ones_like(x)]), candidate.watts[keep], rcond=None)
    baseline_s = time.perf_counter() - began

    began = time.perf_counter()
    response = fit_response(reference, candidate, options.max_lag, options.max_averaging)
    fit_s = time.perf_counter() - began
    print(
        f"{len(candidate):,} samples per source, search lag 0-{options.max_lag:g} s x averaging 0-{options.max_averaging:g} s"
    )
    print(f"baseline (one line at the known pair): {baseline_s * 1000:.1f} ms")
    print(f"full fit: {fit_s:.2f} s = {fit_s / baseline_s:.0f}x baseline")
    print(
        f"recovered: gain {response.gain:.4f} (0.93), offset {response.offset_w:.2f} W (12), "
        f"lag {response.lag_s:.2f} s (30), averaging {response.averaging_s:.2f} s (60)"
    )


if __name__ == "__main__":
    main()
