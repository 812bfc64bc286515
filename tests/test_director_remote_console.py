"""`ptd://` analyzers: the daemon's own console in `ptd_logs.txt` when it is ours, a sentence when not.

`power-analyzer serve` runs as its own process (as on another host) and hands its console over with
joulebench's `JB-Console` extension; the director writes its preamble and the session's span into
`power/ptd_logs.txt`, which the reference checker reads for the ranging marks and the uncertainty
line. A daemon that answers `JB-Console` with `Unknown command` (as SPEC PTDaemon does) gets the
director's record instead, and the session's start says so in one sentence.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

from test_director_session import run_session
from test_director_support import director_config, free_port, running_director
from test_ptd_daemon_support import running_daemon

_STAMPED = re.compile(r"^\d\d-\d\d-\d{4} \d\d:\d\d:\d\d\.\d{3}: ")


def _serve(port: int, output: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "analyzers.cli", "serve", "--port", str(port)]
    with output.open("wb") as stdout:
        process = subprocess.Popen(argv, stdout=stdout, stderr=subprocess.STDOUT, env={"TZ": "UTC"})
    deadline = time.monotonic() + 20
    while "Waiting for a connection" not in output.read_text():
        assert process.poll() is None and time.monotonic() < deadline, output.read_text()
        time.sleep(0.05)
    return process


def test_the_console_of_our_daemon_on_another_host_reaches_ptd_logs(tmp_path: Path) -> None:
    port = free_port()
    daemon_output = tmp_path / "daemon_console.txt"
    process = _serve(port, daemon_output)
    try:
        config = director_config(tmp_path / "data", {"name": "wt", "ptd": f"ptd://127.0.0.1:{port}"})
        with running_director(config) as running:
            replies = run_session(running, "remote")
    finally:
        process.terminate()
        process.wait(timeout=10)
    session_id = replies["session_id"]
    folder = tmp_path / "data" / "sessions" / session_id
    console = (folder / "power" / "ptd_logs.txt").read_text()
    lines = console.splitlines()
    assert lines[0] == "Selected power meter 'SimulatedWT310' from joulebench driver 'simulated'"
    assert "record of its exchange" not in console
    activated = lines.index(
        next(line for line in lines if "Uncertainty checking for SimulatedWT310 is activated" in line)
    )
    ranging = lines.index(
        next(line for line in lines if line.endswith(f"Go with mark '{session_id}_ranging'"))
    )
    assert activated < ranging
    assert any(line.endswith(f"Go with mark '{session_id}_testing'") for line in lines)
    assert sum(line.endswith(": Completed test") for line in lines) == 2
    assert not any("Console," in line for line in lines)  # our extension is not PTD's exchange
    # Word for word the daemon's own lines, in its order.
    daemon_lines = daemon_output.read_text().splitlines()
    stamped = [line for line in lines if _STAMPED.match(line)]
    start = daemon_lines.index(stamped[0])
    assert daemon_lines[start : start + len(stamped)] == stamped
    server = json.loads((folder / "power" / "server.json").read_text())
    assert not any(m["cmd"].startswith("JB-") for m in server["ptd_messages"])
    assert replies["created"]["notes"] == []


def test_a_daemon_without_the_console_extension_gets_the_record_and_a_sentence(tmp_path: Path) -> None:
    with running_daemon(tmp_path, channels=1, virtual=False) as daemon:  # keeps no console record
        url = f"ptd://127.0.0.1:{daemon.port}"
        with running_director(director_config(tmp_path / "data", {"name": "wt", "ptd": url})) as running:
            replies = run_session(running, "spec")
    assert replies["created"]["notes"] == [
        f"Analyzer wt: the PTD daemon at {url} does not hand over its console log (SPEC PTDaemon does "
        "not), so power/ptd_logs.txt will hold the director's record of the exchange; to have PTDaemon's "
        "own console there, let the director launch it ([analyzers.launch]) on the host its meter is wired to"
    ]
    folder = tmp_path / "data" / "sessions" / replies["session_id"]
    console = (folder / "power" / "ptd_logs.txt").read_text()
    assert console.startswith(
        f"joulebench power-director: record of its exchange with the PTD daemon at {url}."
    )
    assert replies["created"]["notes"][0] in (folder / "power" / "server.log").read_text()
