"""How fast a dead or frozen meter stops the run: fault mid-testing → `power-client` exits, over N trials.

Processes (all on 127.0.0.1): `power-analyzer serve --driver simulated` (the meter behind our PTD
daemon), one `power-director` with that daemon as a `ptd://` analyzer at its default timeouts (30 s
connect, 10 s reply), and per trial one `power-client run` whose testing workload would run for a
minute. 1.5 s into testing the daemon gets `kill -9` (then is started again) or `SIGSTOP` (then
`SIGCONT`, and is replaced). Figures: seconds from the fault to the client's exit (it must be 10, the
director having failed the session), and to the answer of a new session request. The limits they are
held against: 10 s to the client's exit; the stall limit (5 s) plus a second for a frozen meter.

    .venv/bin/python benchmarks/bench_meter_faults.py [--trials 10]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent
TOKEN = "bench-token-0123456789abcdef"
WORKLOAD = """
import datetime as dt, json, os, pathlib, sys, time
logs = pathlib.Path(sys.argv[1])
if os.environ["JOULEBENCH_PHASE"] == "testing":
    time.sleep(60)
stamp = lambda t: dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%m-%d-%Y %H:%M:%S.%f")[:-3]
begin = time.time(); time.sleep(0.3); end = time.time()
logs.mkdir(parents=True, exist_ok=True)
lines = [":::MLLOG " + json.dumps({"key": k, "value": v}) for k, v in (("power_begin", stamp(begin)), ("power_end", stamp(end)))]
(logs / "mlperf_log_detail.txt").write_text("\\n".join(lines) + "\\n")
(logs / "mlperf_log_summary.txt").write_text("Result is : VALID\\n")
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"nothing listens on port {port}")


def start_daemon(port: int) -> subprocess.Popen[bytes]:
    command = [str(BIN / "power-analyzer"), "serve", "--driver", "simulated", "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port)
    return process


def wait_state(http: httpx.Client, session_count: int, state: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        listed = http.get("/sessions").json()
        if len(listed) >= session_count and listed[session_count - 1]["state"] == state:
            return str(listed[session_count - 1]["session_id"])
        time.sleep(0.02)
    raise SystemExit(f"session {session_count} never became {state}")


def trial(
    base: Path, url: str, http: httpx.Client, daemon: subprocess.Popen[bytes], fault: str, n: int
) -> tuple[float, float, str]:
    out = base / f"{fault.replace(' ', '')}-{n}"
    command = [str(BIN / "power-client"), "run", "--director", url, "--output", str(out), "--loadgen-logs"]
    command += [
        str(out) + "-logs",
        "--label",
        out.name,
        "--rounds",
        "4",
        "--",
        sys.executable,
        "-c",
        WORKLOAD,
    ]
    command.append(str(out) + "-logs")
    env = {**os.environ, "JOULEBENCH_TOKEN": TOKEN}
    count = len(http.get("/sessions").json()) + 1
    client = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    session_id = wait_state(http, count, "testing")
    time.sleep(1.5)
    faulted = time.monotonic()
    daemon.send_signal(signal.SIGKILL if fault == "kill -9" else signal.SIGSTOP)
    client.wait(timeout=120)
    to_exit = time.monotonic() - faulted
    if client.returncode != 10:
        raise SystemExit(
            f"{fault}: the client exited {client.returncode}: {client.stderr.read().decode()[-400:]}"
        )
    began = time.monotonic()
    http.post("/sessions", json={"label": "probe", "client_uuid": str(uuid.uuid4())})
    answered = time.monotonic() - began
    reason = str(http.get(f"/sessions/{session_id}").json()["failure"])
    return to_exit, answered, reason


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        meter_port, director_port = free_port(), free_port()
        (base / "director.toml").write_text(
            f'[server]\ndata_dir = "{base / "data"}"\n\n[session]\nsettle_s = 0.1\ninterval_ms = 100\n\n'
            f'[[analyzers]]\nname = "wt"\nptd = "ptd://127.0.0.1:{meter_port}"\ndevice_type = 49\n'
        )
        env = {**os.environ, "JOULEBENCH_TOKEN": TOKEN}
        director = subprocess.Popen(
            [
                str(BIN / "power-director"),
                "--config",
                str(base / "director.toml"),
                "--port",
                str(director_port),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{director_port}"
        results: dict[str, list[tuple[float, float, str]]] = {"kill -9": [], "SIGSTOP": []}
        try:
            wait_for_port(director_port)
            headers = {"Authorization": f"Bearer {TOKEN}"}
            with httpx.Client(base_url=url + "/v1", headers=headers, timeout=120) as http:
                for fault, runs in results.items():
                    for n in range(args.trials):
                        daemon = start_daemon(meter_port)
                        try:
                            runs.append(trial(base, url, http, daemon, fault, n))
                        finally:
                            if fault == "SIGSTOP":
                                daemon.send_signal(signal.SIGCONT)
                            daemon.kill()
                            daemon.wait()
                        # The probe session opened above (if the meter was back) is ended here.
                        for info in http.get("/sessions").json():
                            if info["state"] not in ("done", "failed", "closed"):
                                http.post(f"/sessions/{info['session_id']}/abort", json={"reason": "probe"})
        finally:
            director.send_signal(signal.SIGTERM)
            director.wait(timeout=60)
    summary = {}
    for fault, runs in results.items():
        exits = [r[0] for r in runs]
        answers = [r[1] for r in runs]
        summary[fault] = {
            "trials": len(runs),
            "fault_to_client_exit_s": {"median": statistics.median(exits), "max": max(exits)},
            "new_session_answer_s": {"median": statistics.median(answers), "max": max(answers)},
        }
        limit = 10.0
        print(
            f"{fault:8s}  fault → client exit: median {statistics.median(exits):5.2f} s, max {max(exits):5.2f} s "
            f"({max(exits) / limit:.2f} of the 10 s limit); new session answered in max {max(answers):.2f} s"
        )
        print(f"          reason, trial 1: {runs[0][2]}")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
