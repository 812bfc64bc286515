"""Benchmark: reducing a Joulescope's full-rate stream to interval samples, against real time.

`--seconds` (default 60) of a JS220 stream at 1 Msps, in the 10 ms blocks its package delivers
(float32 current, voltage, power and the GPI0 bits, a falling edge every 100 ms), reduced by
`IntervalReducer` at `--interval-ms` (default 1). Baseline, in the same process on the same data:
one `reshape(...).mean(axis=1)` of the whole power array (the least any reduction can cost, with
no carry-over, missing samples, min/max, charge or edges). Prints both, their ratio, and how many
times faster than real time the driver keeps up.

    python benchmarks/bench_joulescope_reduce.py [--seconds S] [--interval-ms MS]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from analyzers.joulescope.reduce import IntervalReducer

FS = 1_000_000
BLOCK = 10_000


def stream(seconds: float) -> dict[str, np.ndarray]:
    count = int(seconds * FS)
    t = np.arange(count) / FS
    current = np.where((t % 0.01) < 0.002, 0.020, 0.001).astype(np.float32)
    voltage = np.full(count, 3.3, np.float32)
    return {
        "current": current,
        "voltage": voltage,
        "power": current * voltage,
        "gpi": ((t % 0.1) > 0.00002).astype(np.uint8),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--interval-ms", type=float, default=1.0)
    args = parser.parse_args()
    data = stream(args.seconds)
    per = round(args.interval_ms * FS / 1000)

    began = time.perf_counter()
    baseline = data["power"].astype(np.float64).reshape(-1, per).mean(axis=1)
    baseline_s = time.perf_counter() - began

    reducer = IntervalReducer(per, FS, "falling")
    began = time.perf_counter()
    rows = edges = 0
    for start in range(0, len(data["current"]), BLOCK):
        part = {name: data[name][start : start + BLOCK] for name in ("current", "voltage", "power")}
        reduced = reducer.add(start, part, data["gpi"][start : start + BLOCK])
        rows += len(reduced)
        edges += len(reduced.edge_sample_ids)
    reduce_s = time.perf_counter() - began

    assert rows == len(baseline), (rows, len(baseline))
    print(f"{args.seconds:g} s at 1 Msps -> {rows} samples of {args.interval_ms:g} ms, {edges} GPI edges")
    print(f"baseline (one reshape-mean of the power): {baseline_s * 1000:.1f} ms")
    print(f"IntervalReducer in {BLOCK}-sample blocks:  {reduce_s * 1000:.1f} ms")
    print(
        f"ratio reducer/baseline: {reduce_s / baseline_s:.1f}x; real time / reducer: {args.seconds / reduce_s:.0f}x"
    )


if __name__ == "__main__":
    main()
