"""Scale check of the Redfish driver: N fake BMCs (one server process, one port each on 127.0.0.1)
polled at 1 Hz by one `RedfishAnalyzer` for S seconds. Reports samples, missed (-2) and error (-1)
samples, and the CPU time of the driver's process and of the server process.

    .venv/bin/python benchmarks/bench_redfish_scale.py [--endpoints 200] [--seconds 60] [--interval 1]

The issue's target: 200 endpoints at 1 Hz for 60 s with no missed sample.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from analyzers.errors import AnalyzerError  # noqa: E402
from analyzers.redfish import RedfishAnalyzer  # noqa: E402
from analyzers.trace import Trace  # noqa: E402


def serve(count: int) -> None:
    """The server process: print the ports as one JSON line, serve until stdin closes."""
    from fakes_system.redfish_server import FakeBmc, FakeChassis, FakeRedfishServer

    bmcs = [FakeBmc(chassis={"1": FakeChassis(watts=300.0 + i % 50)}) for i in range(count)]
    server = FakeRedfishServer(bmcs).start()
    print(json.dumps([bmc.port for bmc in bmcs]), flush=True)
    sys.stdin.read()
    server.close()


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--serve", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return 0
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(args.endpoints)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None and server.stdin is not None
        ports = json.loads(server.stdout.readline())
        device = ",".join(f"http://127.0.0.1:{port}" for port in ports)
        began = time.monotonic()
        analyzer = RedfishAnalyzer(device)
        setup_s = time.monotonic() - began
        server_cpu0, driver_cpu0 = process_cpu_s(server.pid), time.process_time()
        analyzer.start(args.interval)
        chunks: list[Trace] = []
        deadline = time.monotonic() + args.seconds
        reports: list[str] = []

        def drain() -> None:
            # A fetch raises a channel's trouble once (the samples stay); record it and fetch again.
            try:
                chunks.append(analyzer.fetch())
            except AnalyzerError as error:
                reports.append(str(error))
                chunks.append(analyzer.fetch())

        while time.monotonic() < deadline:
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
            drain()
        analyzer.stop()
        drain()
        driver_cpu = time.process_time() - driver_cpu0
        server_cpu = process_cpu_s(server.pid) - server_cpu0
        analyzer.close()
        trace = Trace.concat(chunks)
    finally:
        if server.stdin:
            server.stdin.close()
        server.wait(30)
    flags = [block.flags for block in trace.channels]
    missed = sum(int((f == -2).sum()) for f in flags)
    # Ticks where every channel missed: the whole process was late (CPU starvation), not one BMC.
    whole_ticks_missed = int((np.vstack(flags) == -2).all(axis=0).sum()) if flags else 0
    errors = sum(int((f == -1).sum()) for f in flags)
    result = {
        "endpoints": analyzer.channel_count,
        "seconds": args.seconds,
        "interval_s": args.interval,
        "samples": len(trace),
        "channel_samples": len(trace) * analyzer.channel_count,
        "missed_channel_samples": missed,
        "error_channel_samples": errors,
        "ticks_missed_on_every_channel": whole_ticks_missed,
        "discovery_s": round(setup_s, 2),
        "driver_cpu_s": round(driver_cpu, 2),
        "driver_cpu_pct_of_one_core": round(100 * driver_cpu / args.seconds, 1),
        "server_cpu_s": round(server_cpu, 2),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "first_reports": reports[:3],
    }
    print(json.dumps(result, indent=2))
    return 0 if missed == 0 and errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
