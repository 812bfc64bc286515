"""The director's recorder under load: 16 simulated analyzers at 1 kHz, every sample to disk, flat memory.

Processes (all on 127.0.0.1): 16 PTD daemons, `power-analyzer serve --driver simulated` (our daemon, each
with the simulated meter, in its own process), and one `power-director` whose configuration lists
them as `ptd://` analyzers. This script is the client: it opens a session, runs testing (known ranges,
`Go,1,0`: 1 kHz) for `--seconds` of wall time, stops, ends the session, and meanwhile samples the
director's CPU time and RSS once a second from /proc.

Checks and figures:
- samples: per analyzer, the recording's testing samples; lost = the daemon's own count (its `Watts`
  reply after `Stop`, in server.json) minus what was recorded, and any gap or repeat in the 1 ms grid;
- CPU: the director's user+system seconds during the run, as a share of one core;
- RSS: the director's resident memory over the run, and its least-squares slope over the second half.

    .venv/bin/python benchmarks/bench_director_recorder.py [--seconds 60] [--analyzers 16]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import numpy as np

from analyzers.formats.mlperf_layout import SERVER_JSON, TESTING_SAMPLES
from power_director.storage import RecordingReader

BIN = Path(sys.executable).parent
TOKEN = "bench-token-0123456789abcdef"
INTERVAL_NS = 1_000_000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_listening(port: int, process: subprocess.Popen[bytes], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"a process exited with {process.returncode} before listening on {port}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port} after {timeout_s} s")


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def daemon_samples(server: dict[str, object], name: str) -> int:
    """The daemon's count of the testing samples: its `Watts` reply after `Stop`."""
    records = server["joulebench"]["analyzers_ptd"]  # type: ignore[index]
    record = next(r for r in records if r["name"] == name)  # type: ignore[attr-defined]
    replies = [m["reply"] for m in record["ptd_messages"] if m["cmd"] == "Watts"]
    return int(replies[-1].split(",")[4])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="testing run, wall seconds (default 60)")
    parser.add_argument("--analyzers", type=int, default=16, help="simulated analyzers (default 16)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-director-"))
    ports = [free_port() for _ in range(args.analyzers)]
    daemons = [
        subprocess.Popen(
            [str(BIN / "power-analyzer"), "serve", "--driver", "simulated", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    config = work / "director.toml"
    lines = [f'[server]\ndata_dir = "{work / "data"}"\n', "[session]\nsettle_s = 0\ninterval_ms = 1\n"]
    for index, port in enumerate(ports, start=1):
        lines.append(f'[[analyzers]]\nname = "a{index}"\nptd = "ptd://127.0.0.1:{port}"\ndevice_type = 49\n')
    config.write_text("\n".join(lines))
    director_port = free_port()
    director = subprocess.Popen(
        [str(BIN / "power-director"), "--config", str(config), "--port", str(director_port)],
        env={**os.environ, "JOULEBENCH_TOKEN": TOKEN},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        for port, daemon in zip(ports, daemons, strict=True):
            wait_listening(port, daemon)
        wait_listening(director_port, director)
        http = httpx.Client(
            base_url=f"http://127.0.0.1:{director_port}/v1",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=600,
        )
        created = http.post("/sessions", json={"label": "bench", "client_uuid": str(uuid.uuid4())})
        created.raise_for_status()
        session_id = created.json()["session_id"]
        start = http.post(f"/sessions/{session_id}/testing/start", json={"max_volts": 300, "max_amps": 5})
        start.raise_for_status()
        cpu_start = cpu_s(director.pid)
        began = time.monotonic()
        series: list[tuple[float, float]] = []
        while (elapsed := time.monotonic() - began) < args.seconds:
            series.append((elapsed, rss_mib(director.pid)))
            time.sleep(min(1.0, max(0.0, args.seconds - elapsed)))
        cpu_run = cpu_s(director.pid) - cpu_start
        run_s = time.monotonic() - began
        stop_began = time.monotonic()
        stop = http.post(f"/sessions/{session_id}/testing/stop")
        stop.raise_for_status()
        stop_s = time.monotonic() - stop_began
        done = http.post(f"/sessions/{session_id}/done")
        done.raise_for_status()
        peak_mib = max(rss for _t, rss in [*series, (0.0, rss_mib(director.pid))])
    finally:
        director.terminate()
        director.wait(timeout=60)
        for daemon in daemons:
            daemon.terminate()
        for daemon in daemons:
            daemon.wait(timeout=30)

    folder = work / "data" / "sessions" / session_id
    server = json.loads((folder / SERVER_JSON).read_text())
    mark = f"{session_id}_testing"
    total = lost = 0
    problems = []
    for index in range(1, args.analyzers + 1):
        name = f"a{index}"
        count = 0
        previous: int | None = None
        gaps = 0
        for chunk in RecordingReader(folder / "recording" / f"{name}.arrows").chunks():
            part = chunk.with_mark(mark)
            if not len(part):
                continue
            times = part.time_ns
            steps = np.diff(times if previous is None else np.concatenate(([previous], times)))
            gaps += int(np.count_nonzero(steps != INTERVAL_NS))
            previous = int(times[-1])
            count += len(part)
            if np.any(part.flags != 0):
                problems.append(f"{name}: sentinel samples")
        expected = daemon_samples(server, name)
        total += count
        lost += expected - count
        if gaps or expected != count:
            problems.append(f"{name}: recorded {count}, the daemon counted {expected}, {gaps} steps not 1 ms")

    times = np.array([t for t, _ in series])
    rss = np.array([r for _, r in series])
    half = times >= times[-1] / 2
    slope = float(np.polyfit(times[half], rss[half], 1)[0]) * 60 if half.sum() >= 2 else float("nan")
    spl_mb = (folder / TESTING_SAMPLES).stat().st_size / 1e6
    print(
        f"analyzers: {args.analyzers} x 1 kHz ({args.analyzers} PTD daemon processes), testing {run_s:.1f} s"
    )
    print(f"samples recorded: {total} (testing run incl. the drain at Stop), lost: {lost}")
    print(f"director CPU during the run: {cpu_run:.2f} s = {100 * cpu_run / run_s:.1f} % of one core")
    print(
        f"director RSS: start {rss[0]:.1f} MiB, end {rss[-1]:.1f} MiB, peak {peak_mib:.1f} MiB, "
        f"slope over the second half {slope:+.2f} MiB/min"
    )
    print(f"stop (drain + merged spl.txt of {spl_mb:.1f} MB + Parquet): {stop_s:.1f} s")
    step = max(1, len(series) // 12)
    print("RSS over time: " + ", ".join(f"{t:.0f} s {r:.1f}" for t, r in series[::step]) + " (MiB)")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
