"""The energy of each step of a small training loop, with the window API (CPU, simulated source).

    .venv/bin/python examples/measure_training_step.py [--steps 5] [--source simulated]

A least-squares model trained by gradient descent in numpy stands in for your training step. Each
step is a window; the whole run is another, with the steps nested inside it. With a real source
(`--source rapl`, `--source nvml:0`, `--source ptd://host:8888`) the same code measures real
energy. The simulated meter's load is driven from here, so its numbers follow the work: it draws
more while a step runs than between steps.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from analyzers.simulated import SimulatedAnalyzer
from analyzers.source_spec import parse_source
from power_client import Monitor
from rules.measure.table import format_table

IDLE_W, BUSY_W = 60.0, 140.0


def training_step(weights: np.ndarray, features: np.ndarray, targets: np.ndarray) -> float:
    for _ in range(200):
        error = features @ weights - targets
        weights -= 1e-3 * features.T @ error / len(targets)
    return float((error**2).mean())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--source", default="simulated")
    args = parser.parse_args()
    spec = parse_source(args.source)
    meter = SimulatedAnalyzer(seed=11, control_path="", truth_path="") if spec.driver == "simulated" else None
    rng = np.random.default_rng(0)
    features = rng.normal(size=(4000, 64))
    targets = features @ rng.normal(size=64) + rng.normal(scale=0.1, size=4000)
    weights = np.zeros(64)
    with Monitor([meter if meter is not None else spec], interval_ms=20) as monitor:
        monitor.begin_window("training")
        for step in range(args.steps):
            if meter is not None:
                meter.set_load(BUSY_W)
            with monitor.window(f"step {step}"):
                loss = training_step(weights, features, targets)
            if meter is not None:
                meter.set_load(IDLE_W)
            time.sleep(0.1)  # between steps: data loading, logging
            print(f"step {step}: loss {loss:.4f}")
        monitor.end_window("training", wait=True)
        names = ["training"] + [f"step {k}" for k in range(args.steps)]
        results = [monitor.measurement(name) for name in names]
    print("\n".join(format_table(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
