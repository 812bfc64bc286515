"""The PTD sequence of each era of the reference director: the tables, and sessions that follow them.

The `current` table is compared with the commands the current MLCommons director
(power-dev `ptd_client_server/lib/server.py`) sends one single-channel analyzer, written out here
by hand from reading it; the `2021` table with the `ptd_messages` of the published 2021-22 folders
in `tests/data/inference`. Then whole sessions against our PTD daemon over loopback record exactly
their era's rendering.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_director_session import read_spl, run_session, sequence_values
from test_director_support import director_config, running_director
from test_ptd_daemon_support import running_daemon

from power_director.config import parse_config
from power_director.config_table import ConfigError
from power_director.ptd_sequence import SEQUENCES

DATA = Path(__file__).resolve().parent / "data" / "inference"
ONE_CHANNEL_READ = ("RL,*,*", "RL")


def test_the_current_table_is_the_current_reference_directors_sequence() -> None:
    values = {
        "session": "S",
        "interval_ms": "1000",
        "ranging_amps": "Auto",
        "volts": "230.000000",
        "amps": "0.550000",
        "initial_volts": "Auto",
        "initial_amps": "Auto",
    }
    assert SEQUENCES["current"].render(values, ONE_CHANNEL_READ) == [
        "Hello",
        "Identify",
        "RR",
        "SR,V,Auto",
        "SR,A,Auto",
        "SR,A,Auto",
        "Go,1000,0,S_ranging",
        "Stop",
        "RL,*,*",
        "RL",
        "Uncertainty",
        "Watts",
        "SR,V,230.000000",
        "SR,A,0.550000",
        "Go,1000,0,S_testing",
        "Watts",
        "Uncertainty",
        "Stop",
        "RL,*,*",
        "RL",
        "Uncertainty",
        "Watts",
        "SR,V,Auto",
        "SR,A,Auto",
    ]
    # What the current checker looks up: the fourth SR,A is the restore, the third reply is RR's.
    commands = SEQUENCES["current"].render(values, ONE_CHANNEL_READ)
    assert [c for c in commands if c.startswith("SR,A")][3] == "SR,A,Auto" and commands[2] == "RR"


@pytest.mark.parametrize("folder", sorted(p.name for p in DATA.iterdir() if (p / "power").is_dir()))
def test_the_2021_table_is_what_the_published_folders_recorded(folder: str) -> None:
    server = json.loads((DATA / folder / "power" / "server.json").read_text())
    recorded = [m["cmd"] for m in server["ptd_messages"]]
    testing_ranges = [c for c in recorded if c.startswith("SR,")][2:4]
    restored = [c for c in recorded if c.startswith("SR,")][-2:]
    values = {
        "session": server["session_name"],
        "interval_ms": "1000",
        "ranging_amps": "Auto",
        "volts": testing_ranges[0].split(",")[2],
        "amps": testing_ranges[1].split(",")[2],
        "initial_volts": restored[0].split(",")[2],
        "initial_amps": restored[1].split(",")[2],
    }
    assert SEQUENCES["2021"].render(values, ()) == recorded
    stops = [m["reply"] for m in server["ptd_messages"] if m["cmd"] == "Stop"]
    assert stops[-1] == "Error: no measurement to stop"


def test_a_2021_session_records_the_2021_sequence_and_keeps_its_reads_apart(tmp_path: Path) -> None:
    with running_daemon(tmp_path, channels=1, virtual=False, noise=True) as daemon:
        url = f"ptd://127.0.0.1:{daemon.port}"
        config = director_config(tmp_path / "data", {"name": "wt", "ptd": url, "device_type": 49}, era="2021")
        with running_director(config) as running:
            replies = run_session(running, "era")
    session_id = replies["session_id"]
    folder = tmp_path / "data" / "sessions" / session_id
    server = json.loads((folder / "power" / "server.json").read_text())
    ranging, ranging_lines = read_spl(folder / "ranging" / "spl.txt")
    _testing, testing_lines = read_spl(folder / "run_1" / "spl.txt")
    values = sequence_values(session_id, ranging, amps_factor=1.0)  # 2021-22: exactly the ranging maximum
    assert [m["cmd"] for m in server["ptd_messages"]] == SEQUENCES["2021"].render(values, ())
    assert server["ptd_messages"][-3] == {"cmd": "Stop", "reply": "Error: no measurement to stop"}
    # The samples and the figures were read all the same, apart from the record, and are kept.
    assert len(ranging_lines) >= 8 and len(testing_lines) >= 8
    unlisted = [m["cmd"] for m in server["joulebench"]["analyzers_ptd"][0]["unlisted_messages"]]
    assert unlisted == ["Watts", "Uncertainty"] * 2
    assert server["joulebench"]["era"] == "2021" and server["joulebench"]["amps_range_factor"] == 1.0
    summary = replies["testing_stop"]["analyzers"][0]
    assert summary["samples"] == len(testing_lines) and summary["uncertainty_max"] is not None


def test_max_ranging_keeps_its_fixed_current_in_the_current_era(tmp_path: Path) -> None:
    """The reference's second `SR,A,Auto` undoes its own MAX mode; ours sends Auto first."""
    with running_daemon(tmp_path, channels=1, virtual=False) as daemon:
        url = f"ptd://127.0.0.1:{daemon.port}"
        analyzer = {"name": "wt", "ptd": url, "device_type": 49}
        config = director_config(tmp_path / "data", analyzer, ranging_mode="max", max_amps_range=20.0)
        with running_director(config) as running:
            replies = run_session(running, "max")
    server_json = tmp_path / "data" / "sessions" / replies["session_id"] / "power" / "server.json"
    commands = [m["cmd"] for m in json.loads(server_json.read_text())["ptd_messages"]]
    assert commands[3:6] == ["SR,V,Auto", "SR,A,Auto", "SR,A,20.000000"]


def test_an_unknown_era_is_one_sentence_naming_the_key() -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(
            {"session": {"era": "2019"}, "analyzers": [{"name": "a", "driver": "simulated"}]}, "x.toml"
        )
    assert str(error.value) == "x.toml: key 'session.era' must be 'current' or '2021', got '2019'."
