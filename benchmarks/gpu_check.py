"""NVML on a real GPU: energy from the energy counter against integrated power readings, over a
known load (idle, busy, idle), through the `nvml` driver's own code.

    .venv/bin/python benchmarks/gpu_check.py [--gpu 0] [--seconds 10] [--interval 0.02] [--json out.json]

The load is a CUDA matrix-multiply loop from torch, else cupy, else numba; with none of them the
check measures idle only (and says so). Per phase it prints the counter's energy, the trapezoid
of the instant field, of the average field and of `nvmlDeviceGetPowerUsage`, and their
differences from the counter. Exits 2 with one sentence when there is no GPU or driver.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analyzers.errors import AnalyzerError
from analyzers.nvml import NvmlAnalyzer

Load = Callable[[threading.Event], None]


def _torch_load(gpu: int) -> Load:
    import torch

    device = torch.device(f"cuda:{gpu}")
    a = torch.randn(8192, 8192, device=device)
    b = torch.randn(8192, 8192, device=device)

    def run(stop: threading.Event) -> None:
        while not stop.is_set():
            for _ in range(8):
                torch.matmul(a, b)
            torch.cuda.synchronize(device)

    return run


def _cupy_load(gpu: int) -> Load:
    import cupy

    with cupy.cuda.Device(gpu):
        a = cupy.random.standard_normal((8192, 8192), dtype=cupy.float32)
        b = cupy.random.standard_normal((8192, 8192), dtype=cupy.float32)

    def run(stop: threading.Event) -> None:
        with cupy.cuda.Device(gpu):
            while not stop.is_set():
                for _ in range(8):
                    cupy.matmul(a, b)
                cupy.cuda.Device(gpu).synchronize()

    return run


def _numba_load(gpu: int) -> Load:
    import numpy as np
    from numba import cuda

    cuda.select_device(gpu)

    @cuda.jit  # type: ignore[misc]
    def spin(values: np.ndarray, rounds: int) -> None:
        i = cuda.grid(1)
        if i < values.size:
            x = values[i]
            for _ in range(rounds):
                x = x * 1.0000001 + 0.0000001
            values[i] = x

    values = cuda.to_device(np.ones(1 << 22, dtype=np.float32))

    def run(stop: threading.Event) -> None:
        while not stop.is_set():
            spin[(values.size + 255) // 256, 256](values, 20000)
            cuda.synchronize()

    return run


def find_load(gpu: int) -> tuple[str, Load | None]:
    for name, make in (("torch", _torch_load), ("cupy", _cupy_load), ("numba", _numba_load)):
        if importlib.util.find_spec(name) is None:
            continue
        try:
            return name, make(gpu)
        except Exception as error:  # a package without CUDA support: try the next one
            print(f"gpu_check: {name} cannot run a CUDA load ({error}); trying the next", file=sys.stderr)
    return "none (idle only)", None


def measure(analyzer: NvmlAnalyzer, seconds: float, interval_s: float, load: Load | None) -> dict[str, float]:
    stop = threading.Event()
    worker = threading.Thread(target=load, args=(stop,), daemon=True) if load else None
    analyzer.start(interval_s)
    began = time.monotonic()
    if worker:
        worker.start()
    time.sleep(seconds)
    stop.set()
    if worker:
        worker.join()
    analyzer.stop()
    elapsed = time.monotonic() - began
    trace = analyzer.fetch()
    stats = analyzer.stats()
    gpu = analyzer.gpus[0].index
    result: dict[str, float] = {"seconds": round(elapsed, 3), "samples": len(trace), "flagged": stats.errors}
    counter = stats.extra.get(f"gpu{gpu}_counter_j", float("nan"))
    result["counter_j"] = round(counter, 3)
    result["counter_mean_w"] = round(counter / elapsed, 2)
    for method in ("instant", "average", "usage"):
        joules = stats.extra.get(f"gpu{gpu}_{method}_j")
        if joules is not None:
            result[f"{method}_j"] = round(joules, 3)
            result[f"{method}_vs_counter_pct"] = (
                round(100 * (joules - counter) / counter, 2) if counter else float("nan")
            )
    result["resets"] = stats.extra.get(f"gpu{gpu}_resets", 0.0)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpu", default="0", help="GPU index or UUID (default 0)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the loaded phase (default 10)")
    parser.add_argument("--idle", type=float, default=3.0, help="length of each idle phase (default 3)")
    parser.add_argument("--interval", type=float, default=0.02, help="sampling interval in s (default 0.02)")
    parser.add_argument("--json", default=None, help="also write the result here")
    args = parser.parse_args()
    try:
        analyzer = NvmlAnalyzer(args.gpu)
    except AnalyzerError as error:
        print(f"gpu_check: {error}", file=sys.stderr)
        return 2
    with analyzer:
        load_name, load = find_load(analyzer.gpus[0].index)
        result: dict[str, object] = {
            "gpu": analyzer.device_names[0],
            "driver": analyzer.driver_version,
            "power_fields": sorted(analyzer.gpus[0].fields),
            "load": load_name,
            "interval_s": args.interval,
            "idle_before": measure(analyzer, args.idle, args.interval, None),
            "loaded": measure(analyzer, args.seconds, args.interval, load),
            "idle_after": measure(analyzer, args.idle, args.interval, None),
        }
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
