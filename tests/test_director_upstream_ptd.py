"""`driver = "ptd"`: the director's own PTD daemon re-serving an upstream PTD daemon.

The upstream is our PTD daemon over a simulated meter on loopback (it answers `Uncertainty` with
real figures). `RL` lines carry no per-sample uncertainty, so the re-serving daemon must neither
invent one (`Uncertainty,-1.000000,…`) nor log an ERROR per sample: it passes the upstream's
`Watts`/`Uncertainty` lines on word for word and says once where per-sample judgement happens.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from test_director_session import run_session
from test_director_support import director_config, running_director
from test_ptd_daemon_support import running_daemon


def test_the_upstream_daemons_figures_pass_through_word_for_word(tmp_path: Path) -> None:
    with running_daemon(tmp_path, channels=1, virtual=False, noise=True) as upstream:
        url = f"ptd://127.0.0.1:{upstream.port}"
        analyzer = {"name": "up", "driver": "ptd", "device": url, "device_type": 52}
        with running_director(director_config(tmp_path / "data", analyzer)) as running:
            replies = run_session(running, "relay")
        upstream_console = upstream.console.getvalue()
    folder = tmp_path / "data" / "sessions" / replies["session_id"]
    server = json.loads((folder / "power" / "server.json").read_text())
    console = (folder / "power" / "ptd_logs.txt").read_text()

    figures = [m["reply"] for m in server["ptd_messages"] if m["cmd"] in ("Watts", "Uncertainty")]
    assert len(figures) == 6  # the current era: twice after each Stop, twice before the testing Stop
    upstream_replies = set(re.findall(r"Response to client sent: (.*)", upstream_console))
    for line in figures:
        assert line in upstream_replies
    uncertainties = [line for line in figures if line.startswith("Uncertainty,")]
    assert all(not line.startswith("Uncertainty,-1") for line in uncertainties)
    assert float(uncertainties[-1].split(",")[3]) < 0.01  # the simulated meter's max, a real figure

    assert "ERROR: Can't evaluate uncertainty of this sample!" not in console
    assert "Uncertainty unknown for the last measurement sample" not in console
    assert f"Per-sample uncertainty of SimulatedWT310 is evaluated by the daemon at {url}" in console
    assert server["ptd_config"] == [
        {"command": [], "device_type": 52, "interface_flag": "", "device_port": url, "channel": None}
    ]
    summary = replies["testing_stop"]["analyzers"][0]
    assert summary["uncertainty_max"] == float(uncertainties[-1].split(",")[3])
