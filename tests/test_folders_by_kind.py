"""What the current MLCommons checker reads, for a folder made with each kind of analyzer.

In-process driver, launched `power-analyzer-ptd`, `ptd://` to a `power-analyzer serve` process, and
`driver = "ptd"` re-serving an upstream daemon: each session's `ptd_messages` is the current
reference director's sequence, `ptd_config` a list, every `Uncertainty` reply a real figure (not
`-1`), and `ptd_logs.txt` the daemon's console with the session's marks, the uncertainty line before
ranging, and a `Completed test` per run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from test_director_kinds import launched_analyzer
from test_director_remote_console import _serve
from test_director_session import read_spl, run_session, sequence_values
from test_director_support import director_config, free_port, running_director

from power_director.ptd_sequence import SEQUENCES

KINDS = ["driver", "launch", "ptd-serve", "driver-ptd"]


@contextmanager
def analyzer_of_kind(kind: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    if kind == "driver":
        yield {"name": "sim", "driver": "simulated"}
    elif kind == "launch":
        yield launched_analyzer(free_port())
    else:
        port = free_port()
        process = _serve(port, tmp_path / "serve_console.txt")
        try:
            url = f"ptd://127.0.0.1:{port}"
            if kind == "ptd-serve":
                yield {"name": "wt", "ptd": url, "device_type": 49}
            else:
                yield {"name": "up", "driver": "ptd", "device": url, "device_type": 49}
        finally:
            process.terminate()
            process.wait(timeout=10)


@pytest.mark.parametrize("kind", KINDS)
def test_a_folder_of_each_kind_holds_what_the_current_checker_reads(tmp_path: Path, kind: str) -> None:
    with (
        analyzer_of_kind(kind, tmp_path) as analyzer,
        running_director(director_config(tmp_path / "data", analyzer)) as running,
    ):
        replies = run_session(running, kind)
    session_id = replies["session_id"]
    folder = tmp_path / "data" / "sessions" / session_id
    server = json.loads((folder / "power" / "server.json").read_text())
    ranging, _lines = read_spl(folder / "ranging" / "spl.txt")
    values = sequence_values(session_id, ranging)
    assert [m["cmd"] for m in server["ptd_messages"]] == SEQUENCES["current"].render(values, ("RL,*,*", "RL"))
    assert isinstance(server["ptd_config"], list) and len(server["ptd_config"]) == 1
    uncertainty = [m["reply"] for m in server["ptd_messages"] if m["cmd"] == "Uncertainty"]
    assert len(uncertainty) == 3 and all(not r.startswith("Uncertainty,-1") for r in uncertainty)

    lines = (folder / "power" / "ptd_logs.txt").read_text().splitlines()

    def first(text: str) -> int:
        return next(i for i, line in enumerate(lines) if line.endswith(text))

    activated = next(
        i for i, line in enumerate(lines) if "Uncertainty checking for" in line and "activated" in line
    )
    assert (
        activated
        < first(f"Go with mark '{session_id}_ranging'")
        < first(f"Go with mark '{session_id}_testing'")
    )
    assert sum(line.endswith(": Completed test") for line in lines) == 2
    assert any(" from SimulatedWT310: Watts," in line for line in lines)  # the daemon's meter traffic
    assert not any("record of its exchange" in line for line in lines)
