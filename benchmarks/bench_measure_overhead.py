"""What the window API costs the measured program: a window's begin+end, and background sampling.

1. `begin_window` + `end_window` over 10,000 windows on the simulated source, after the monitor has
   already stored a long history (a 1 ms interval for a few seconds), so the cost shown is the
   one a long run pays. Baseline in the same process: the same loop around two `time.time_ns()`
   calls (what any timing costs). Budget: median <= 100 µs per window.
2. Background sampling at 10 Hz, one source at a time (simulated, RAPL over a powercap tree like
   sysfs, NVML over the fake library): process CPU time over a few seconds of wall time while the
   main thread sleeps, minus an idle baseline of the same length. Budget: <= 1 % of one core per source.

    .venv/bin/python benchmarks/bench_measure_overhead.py [--windows 10000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fakes_system.fake_nvml import FakeGpu, FakeNvml
from fakes_system.fake_powercap import FakePowercap

from analyzers.nvml import NvmlAnalyzer
from analyzers.rapl import RaplAnalyzer
from analyzers.simulated import SimulatedAnalyzer
from power_client import Monitor

WINDOW_BUDGET_US = 100.0
CPU_BUDGET = 0.01


def window_costs(windows: int) -> tuple[float, float]:
    """Median µs per begin+end window, and per baseline pair of clock reads."""
    with Monitor([SimulatedAnalyzer(seed=1)], interval_ms=1) as monitor:
        time.sleep(3.0)  # a history of ~3,000 samples before the windows
        costs = []
        for k in range(windows):
            began = time.perf_counter_ns()
            monitor.begin_window(f"w{k}")
            monitor.end_window(f"w{k}")
            costs.append(time.perf_counter_ns() - began)
    baseline = []
    for _ in range(windows):
        began = time.perf_counter_ns()
        time.time_ns()
        time.time_ns()
        baseline.append(time.perf_counter_ns() - began)
    return statistics.median(costs) / 1000, statistics.median(baseline) / 1000


def cpu_share(make: object, seconds: float) -> float:
    """Share of one core the monitor's sampling of one source takes at 10 Hz (idle baseline removed)."""
    began_cpu, began = time.process_time(), time.monotonic()
    time.sleep(seconds)
    idle = (time.process_time() - began_cpu) / (time.monotonic() - began)
    analyzer = make()  # type: ignore[operator]
    with Monitor([analyzer], interval_ms=100):
        began_cpu, began = time.process_time(), time.monotonic()
        time.sleep(seconds)
        busy = (time.process_time() - began_cpu) / (time.monotonic() - began)
    return max(busy - idle, 0.0)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--windows", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()

    window_us, baseline_us = window_costs(args.windows)
    print(
        f"window begin+end: median {window_us:.1f} µs over {args.windows} windows "
        f"({window_us / baseline_us:.0f}x two clock reads at {baseline_us:.2f} µs; budget {WINDOW_BUDGET_US:g} µs)"
    )
    ok = window_us <= WINDOW_BUDGET_US

    with tempfile.TemporaryDirectory() as folder:
        tree = FakePowercap(Path(folder) / "powercap").server()
        sources: dict[str, object] = {
            "simulated": lambda: SimulatedAnalyzer(seed=2),
            "rapl (powercap tree)": lambda: RaplAnalyzer(sysfs_root=tree.root),
            "nvml (fake library)": lambda: NvmlAnalyzer(
                "",
                nvml_module=FakeNvml(
                    [FakeGpu("NVIDIA H100 80GB HBM3", "GPU-aaaa", watts=300.0)], now_ns=time.time_ns
                ),
            ),
        }
        for name, make in sources.items():
            share = cpu_share(make, args.seconds)
            print(f"sampling {name} at 10 Hz: {share:.3%} of one core (budget {CPU_BUDGET:.0%})")
            ok = ok and share <= CPU_BUDGET
    print("within budget" if ok else "OVER BUDGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
