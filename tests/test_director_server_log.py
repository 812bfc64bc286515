"""`server.log` of a normal session is worded exactly as before: compared with a recorded log.

`tests/data/director/server_log_normal_session.txt` was recorded from a whole session (ranging,
testing, done) against our PTD daemon over loopback, before the session code was split up, and
recorded again when sessions took the current reference director's PTD sequence. What
varies between runs is masked on both sides: times, the session id, UUIDs, the daemon's port, its
identity string (version, OS) and the sample counts (how many 100 ms samples fit into ~1 s).
"""

from __future__ import annotations

import re
from pathlib import Path

from test_director_session import run_session
from test_director_support import director_config, running_director
from test_ptd_daemon_support import running_daemon

RECORDED = Path(__file__).resolve().parent / "data" / "director" / "server_log_normal_session.txt"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def masked(text: str, session_id: str) -> str:
    lines = []
    for line in text.replace(session_id, "<session>").splitlines():
        line = re.sub(
            r"^power-director \d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ", "power-director <time> ", line
        )
        line = _UUID.sub("<uuid>", line)
        line = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:<port>", line)
        line = re.sub(r"'SimulatedWT310,.*'$", "'<identity>'", line)
        line = re.sub(r"\b(Last|Wrote|over) \d+ (samples|sample lines)", r"\1 <count> \2", line)
        line = re.sub(
            r"'(Watts|Uncertainty),([^,]+,[^,]+,[^,]+),\d+,\d+,\d+", r"'\1,\2,<count>,<count>,<count>", line
        )
        lines.append(line)
    return "\n".join(lines) + "\n"


def test_a_normal_session_writes_the_recorded_server_log(tmp_path: Path) -> None:
    with running_daemon(tmp_path, channels=1, virtual=False) as daemon:
        url = f"ptd://127.0.0.1:{daemon.port}"
        config = director_config(tmp_path / "data", {"name": "wt", "ptd": url, "device_type": 49})
        with running_director(config) as running:
            replies = run_session(running, "loop")
    session_id = replies["session_id"]
    written = (tmp_path / "data" / "sessions" / session_id / "power" / "server.log").read_text()
    assert masked(written, session_id) == RECORDED.read_text()
