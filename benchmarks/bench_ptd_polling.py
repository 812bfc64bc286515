"""Polling a 1 kHz, 4-channel simulated meter through the PTD protocol: every sample, once, and the CPU cost.

A daemon (`power-analyzer serve --driver simulated --channels 4`) runs in its own process on a free
loopback port; this process drives it with `PtdAnalyzer`: `Go,1,0,...`, an `RL,*,*` every `--poll`
seconds for `--seconds` of wall time, `Stop`, a last `RL,*,*`. Checks: the samples received equal
the daemon's own `Watts` count, consecutive timestamps are exactly 1 ms apart (none lost, none
duplicated), no sentinel, and the channel watts add up to the sum block. Reports CPU time per 1,000
samples on each side (daemon: /proc/<pid>/stat between Go and the last read; client: process time).

    .venv/bin/python benchmarks/bench_ptd_polling.py [--seconds 60] [--poll 0.1]
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from analyzers.ptd.client.analyzer import PtdAnalyzer
from analyzers.trace import Trace

CHANNELS = 4
INTERVAL_S = 0.001
INTERVAL_NS = 1_000_000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process `pid` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks / os.sysconf("SC_CLK_TCK")


def poll(analyzer: PtdAnalyzer, seconds: float, poll_s: float) -> list[Trace]:
    chunks = []
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        time.sleep(min(poll_s, remaining))
        chunks.append(analyzer.fetch())
    return chunks


def check(trace: Trace, daemon_samples: int) -> list[str]:
    """Problems found; empty when every sample arrived exactly once."""
    problems = []
    if len(trace) != daemon_samples:
        problems.append(f"received {len(trace)} samples, the daemon counted {daemon_samples}")
    steps = np.diff(trace.time_ns)
    if len(steps) and not (steps == INTERVAL_NS).all():
        bad = np.flatnonzero(steps != INTERVAL_NS)
        problems.append(
            f"{len(bad)} steps are not 1 ms (first: {int(steps[bad[0]])} ns at sample {int(bad[0]) + 1})"
        )
    sentinels = trace.sentinel_counts()
    if sentinels["error"] or sentinels["missed"]:
        problems.append(f"sentinels: {sentinels}")
    if trace.channel_count != CHANNELS:
        problems.append(f"{trace.channel_count} channel blocks, expected {CHANNELS}")
    else:
        channel_sum = np.sum([block.watts for block in trace.channels], axis=0)
        worst = float(np.max(np.abs(channel_sum - trace.watts), initial=0.0))
        if worst > CHANNELS * 1e-6:
            problems.append(f"channel watts differ from the sum block by up to {worst} W")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="wall time of polling (default 60)")
    parser.add_argument("--poll", type=float, default=0.1, help="seconds between RL requests (default 0.1)")
    args = parser.parse_args()

    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        console = Path(folder) / "console.txt"
        command = [
            sys.executable,
            "-m",
            "analyzers.cli",
            "serve",
            "--driver",
            "simulated",
            "--channels",
            str(CHANNELS),
            "--port",
            str(port),
        ]
        analyzer = PtdAnalyzer(f"ptd://127.0.0.1:{port}", launch=command, console_log=console)
        assert analyzer.daemon is not None
        with analyzer:
            daemon_pid = analyzer.daemon.pid
            daemon_cpu_0 = process_cpu_s(daemon_pid)
            client_cpu_0 = time.process_time()
            began = time.monotonic()
            analyzer.start(INTERVAL_S, "bench")
            chunks = poll(analyzer, args.seconds, args.poll)
            analyzer.stop()
            chunks.append(analyzer.fetch())
            wall_s = time.monotonic() - began
            client_cpu_s = time.process_time() - client_cpu_0
            daemon_cpu_s = process_cpu_s(daemon_pid) - daemon_cpu_0
            stats = analyzer.stats()
            requests = len(analyzer.messages_json())
        trace = Trace.concat([chunk for chunk in chunks if len(chunk)])

    problems = check(trace, stats.samples)
    thousands = max(len(trace), 1) / 1000
    print(
        f"PTD polling: {len(trace)} samples x {CHANNELS} channels at 1 kHz in {wall_s:.1f} s wall, {requests} requests"
    )
    print(
        f"  daemon counted {stats.samples} samples ({stats.errors} errors); lost in transit: {stats.extra['lost_samples']:.0f}"
    )
    print(f"  client CPU: {client_cpu_s:.2f} s = {client_cpu_s / thousands * 1000:.2f} ms per 1,000 samples")
    print(f"  daemon CPU: {daemon_cpu_s:.2f} s = {daemon_cpu_s / thousands * 1000:.2f} ms per 1,000 samples")
    if problems:
        for problem in problems:
            print(f"  FAIL: {problem}")
        return 1
    print("  OK: every sample exactly once, 1 ms apart, no sentinel, channels add up to the sum")
    return 0


if __name__ == "__main__":
    sys.exit(main())
