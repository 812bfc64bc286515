"""How `tiny_mlp_cpu.pt.trace.json` and `tiny_mlp_cpu_power/` were recorded (needs torch; tests do not run it).

    JOULEBENCH_SIM_CONTROL=$PWD/load.txt power-measure --source simulated --interval-ms 1 \
        --output tests/data/profiles/tiny_mlp_cpu_power -- python tests/data/profiles/record_tiny_mlp.py

A two-layer MLP trained on random data on the CPU for 13 steps (one warm-up, 12 recorded) under `torch.profiler`, each step's
phases named with `record_function`. The power source is the simulated meter; this script drives its
load through the control file (`JOULEBENCH_SIM_CONTROL`) so the power follows the phases: 60 W while
loading data, 140 W forward, 180 W backward, 100 W in the optimizer. A mark `profile start` is sent
when the profiler starts, for alignment by mark.
"""

from __future__ import annotations

import os
import time

import torch
from torch.profiler import ProfilerActivity, profile, record_function, schedule

from power_client import marks

LEVELS = {"data loading": 60.0, "forward": 140.0, "backward": 180.0, "optimizer": 100.0}
CONTROL = os.environ.get("JOULEBENCH_SIM_CONTROL")


def load(phase: str) -> None:
    if CONTROL:
        with open(CONTROL, "a", encoding="ascii") as stream:
            stream.write(f"{time.time_ns()} {LEVELS[phase]}\n")


def main() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(256, 512), torch.nn.ReLU(), torch.nn.Linear(512, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = torch.nn.CrossEntropyLoss()
    out = os.path.join(os.path.dirname(__file__), "tiny_mlp_cpu.pt.trace.json")
    # One warm-up step, then 12 recorded ones (ProfilerStep#1..#12), written when the cycle ends.
    plan = schedule(wait=0, warmup=1, active=12, repeat=1)
    with profile(
        activities=[ProfilerActivity.CPU], schedule=plan, on_trace_ready=lambda p: p.export_chrome_trace(out)
    ) as prof:
        marks.mark("profile start")
        for _ in range(13):
            with record_function("data loading"):
                load("data loading")
                inputs, targets = torch.randn(512, 256), torch.randint(0, 10, (512,))
                time.sleep(0.01)
            with record_function("forward"):
                load("forward")
                loss = loss_fn(model(inputs), targets)
            with record_function("backward"):
                load("backward")
                optimizer.zero_grad()
                loss.backward()
            with record_function("optimizer"):
                load("optimizer")
                optimizer.step()
            prof.step()


if __name__ == "__main__":
    main()
