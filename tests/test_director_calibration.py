"""Calibration certificates on director analyzers, over real HTTP: the session keeps the certificate,
its summaries, corrected trace and training export are on the reference's scale, the recording and
`spl.txt` stay raw, and `power-check` takes the exported accuracy as the node's meter accuracy.

Expected values are recomputed from the raw recordings with the certificate's gain and offset.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from test_director_session import run_session
from test_director_support import director_config_many, running_director

from power_director.config import ConfigError, parse_config
from power_director.storage import RecordingReader
from rules.calibration.certificate import FORMAT
from rules.training.energy import stated_accuracy
from rules.training.kind import check_training
from rules.training.mllog import parse_power_log
from rules.training.synthetic import write_result

MS = 1_000_000
GAIN, OFFSET_W, BOUND = 0.93, 12.0, 0.0077


def write_certificate(path: Path, candidates: dict[str, tuple[float, float, float]]) -> Path:
    """A certificate as `power-calibrate` writes it, reduced to what applying one reads."""
    document = {
        "format": FORMAT,
        "reference": {"source": "simulated"},
        "candidates": [
            {"source": source, "correction": {"gain": g, "offset_w": o, "relative_bound": b}}
            for source, (g, o, b) in candidates.items()
        ],
        "verdict": "pass",
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def export_cli(folder: Path, out: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """`power-director export-training`, as a lab runs it on a session folder afterwards."""
    command = [sys.executable, "-m", "power_director.cli", "export-training", str(folder), str(out), *options]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def corrected(watts: np.ndarray, gain: float = GAIN, offset_w: float = OFFSET_W) -> np.ndarray:
    return (watts - offset_w) / gain


def analyzers(certificate: Path) -> list[dict[str, Any]]:
    return [
        {"name": "gpu", "driver": "simulated", "options": {"seed": 3}, "certificate": str(certificate)},
        {"name": "wall", "driver": "simulated", "options": {"seed": 4}},
    ]


def test_a_certified_analyzer_is_reported_exported_and_traced_corrected(tmp_path: Path) -> None:
    certificate = write_certificate(tmp_path / "cert.json", {"gpu": (GAIN, OFFSET_W, BOUND)})
    with running_director(director_config_many(tmp_path / "data", analyzers(certificate))) as running:
        replies = run_session(running, "certified")
        session_id = replies["session_id"]
        exported = running.ok("POST", f"/sessions/{session_id}/training-export", {"mode": "testing"})
        raw_export = running.ok(
            "POST",
            f"/sessions/{session_id}/training-export",
            {"mode": "testing", "raw": True, "result_index": 2},
        )
    folder = tmp_path / "data" / "sessions" / session_id
    mark = f"{session_id}_testing"
    gpu = RecordingReader(folder / "recording" / "gpu.arrows").read(mark)
    wall = RecordingReader(folder / "recording" / "wall.arrows").read(mark)
    assert len(gpu) >= 8 and len(wall) >= 8

    # The session's own copy of the certificate, byte for byte, and the correction it applies.
    assert (folder / "calibration" / "gpu.certificate.json").read_bytes() == certificate.read_bytes()
    record = json.loads((folder / "calibration" / "gpu.json").read_text())
    assert (record["gain"], record["offset_w"], record["relative_bound"]) == (GAIN, OFFSET_W, BOUND)
    assert record["source"] == "gpu" and not (folder / "calibration" / "wall.json").exists()

    # The stop reply: the certified analyzer's figures, corrected; the other one has none.
    summaries = {s["name"]: s for s in replies["testing_stop"]["analyzers"]}
    fixed = summaries["gpu"]["corrected"]
    assert fixed["avg_power_w"] == pytest.approx(
        (summaries["gpu"]["avg_power_w"] - OFFSET_W) / GAIN, rel=1e-12
    )
    assert fixed["max_power_w"] == pytest.approx(
        (summaries["gpu"]["max_power_w"] - OFFSET_W) / GAIN, rel=1e-12
    )
    assert fixed["relative_bound"] == BOUND and summaries["wall"]["corrected"] is None

    # Traces: the raw one is the recording, the corrected one beside it is the recording corrected.
    raw_trace = pd.read_parquet(folder / "trace_gpu.parquet")
    fixed_trace = pd.read_parquet(folder / "trace_gpu.corrected.parquet")
    phase = (raw_trace["mark"] == mark).to_numpy()
    np.testing.assert_array_equal(raw_trace["watts"].to_numpy()[phase], gpu.watts)
    np.testing.assert_allclose(fixed_trace["watts"].to_numpy()[phase], corrected(gpu.watts), rtol=1e-12)
    assert not (folder / "trace_wall.corrected.parquet").exists()
    # spl.txt (the PTD log a checker compares) is raw: its total is gpu's raw watts plus wall's.
    lines = (folder / "run_1" / "spl.txt").read_text().splitlines()
    totals = np.array([float(line.split(",")[3]) for line in lines])
    assert totals.sum() == pytest.approx(gpu.watts.sum() + wall.watts.sum(), rel=1e-6)

    server = json.loads((folder / "power" / "server.json").read_text())
    entry = server["joulebench"]["calibration"]["gpu"]
    assert entry["copy"] == "calibration/gpu.certificate.json" and entry["gain"] == GAIN
    assert entry["corrected_trace"]["path"] == "trace_gpu.corrected.parquet"
    assert list(server["joulebench"]["calibration"]) == ["gpu"]

    # The training export: gpu's node log corrected and stating the accuracy; wall's raw; on request all raw.
    assert exported["corrected"] == ["gpu"] and raw_export["corrected"] == []
    node_gpu = (folder / "training" / "power" / "result_1" / "node_0.txt").read_text().splitlines()
    start = json.loads(node_gpu[0].removeprefix(":::MLLOG "))
    assert start["key"] == "power_measurement_start" and start["metadata"]["accuracy"] == BOUND
    readings = np.array([json.loads(x.removeprefix(":::MLLOG "))["value"] for x in node_gpu[1:-1]])
    np.testing.assert_allclose(readings, corrected(gpu.watts), atol=1e-6)
    raw_node = (folder / "training" / "power" / "result_2" / "node_0.txt").read_text().splitlines()
    raw_readings = np.array([json.loads(x.removeprefix(":::MLLOG "))["value"] for x in raw_node[1:-1]])
    np.testing.assert_allclose(raw_readings, gpu.watts, atol=1e-6)
    assert "accuracy" not in json.loads(raw_node[0].removeprefix(":::MLLOG "))["metadata"]


def _result_logs(bench: Path, node_file: Path, runs: int) -> None:
    """Training result logs whose runs lie inside the exported node window."""
    times = [json.loads(x.removeprefix(":::MLLOG "))["time_ms"] for x in node_file.read_text().splitlines()]
    first_ms, last_ms = times[1], times[-1]
    for run in range(1, runs + 1):
        run_start_ms, run_stop_ms = first_ms + 100 + run, last_ms - 100 - 10 * run
        write_result(
            bench / f"result_{run}.txt", "llama2_70b_lora", run_start_ms, run_stop_ms - run_start_ms, True
        )


def test_the_export_cli_applies_a_certificate_afterwards_and_power_check_uses_the_stated_accuracy(
    tmp_path: Path,
) -> None:
    certificate = write_certificate(tmp_path / "cert.json", {"gpu": (GAIN, OFFSET_W, BOUND)})
    wall_certificate = write_certificate(tmp_path / "wall.json", {"ipmi": (1.02, -3.0, 0.02)})
    with running_director(director_config_many(tmp_path / "data", analyzers(certificate))) as running:
        session_id = run_session(running, "later")["session_id"]
    folder = tmp_path / "data" / "sessions" / session_id
    bench = tmp_path / "bench"
    modes = ("ranging", "testing", "testing")
    for index, mode in enumerate(modes, start=1):
        options = ("--mode", mode, "--result", str(index), "--certificate", f"wall={wall_certificate}")
        done = export_cli(folder, bench, *options)
        assert done.returncode == 0, done.stderr
        assert "gpu, wall corrected" in done.stderr
    _result_logs(bench, bench / "power" / "result_1" / "node_0.txt", len(modes))
    wall = RecordingReader(folder / "recording" / "wall.arrows").read(f"{session_id}_testing")
    node_wall = (bench / "power" / "result_2" / "node_1.txt").read_text().splitlines()
    readings = np.array([json.loads(x.removeprefix(":::MLLOG "))["value"] for x in node_wall[1:-1]])
    np.testing.assert_allclose(readings, corrected(wall.watts, 1.02, -3.0), atol=1e-6)

    stated = check_training(bench)
    assert stated.uncertainty is not None
    assert any("accuracy each node log states" in note for note in stated.notes)
    # The same as giving the energy-weighted accuracy of the node meters by hand.
    kept = [r for r in stated.runs if not r.dropped]
    weighted = sum(e * a for r in kept for e, a in zip(r.node_energy_j, (BOUND, 0.02), strict=True))
    accuracy = weighted / sum(sum(r.node_energy_j) for r in kept)
    given = check_training(bench, meter_accuracy=accuracy)
    assert stated.uncertainty == pytest.approx(given.uncertainty, rel=1e-9)
    assert stated.energy_kj == given.energy_kj

    # Uncorrected, the logs state nothing: the meter part of the uncertainty is unknown again.
    shutil.rmtree(bench / "power")
    for index, mode in enumerate(modes, start=1):
        assert export_cli(folder, bench, "--mode", mode, "--result", str(index), "--raw").returncode == 0
    assert check_training(bench).uncertainty is None


def test_export_cli_bad_certificates_are_one_sentence(tmp_path: Path) -> None:
    certificate = write_certificate(tmp_path / "cert.json", {"gpu": (GAIN, OFFSET_W, BOUND)})
    with running_director(director_config_many(tmp_path / "data", analyzers(certificate))) as running:
        session_id = run_session(running, "bad")["session_id"]
    folder = tmp_path / "data" / "sessions" / session_id
    (tmp_path / "junk.json").write_text("{not json")
    cases = {
        f"{tmp_path / 'cert.json'}": "the session has 2 analyzers (gpu, wall); say which",
        f"disk={tmp_path / 'cert.json'}": "the session has no analyzer 'disk'",
        f"wall={tmp_path / 'junk.json'}": "junk.json: not a readable certificate",
        f"wall={tmp_path / 'none.json'}": "none.json: no such certificate",
    }
    for given, expected in cases.items():
        done = export_cli(folder, tmp_path / "o", "--certificate", given)
        assert done.returncode != 0 and expected in done.stderr, (given, done.stderr)
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def _config(analyzer: dict[str, Any]) -> None:
    parse_config({"analyzers": [{"name": "gpu", "driver": "simulated", **analyzer}]}, "lab.toml")


def test_configuration_names_the_key_of_an_unusable_certificate(tmp_path: Path) -> None:
    two = write_certificate(tmp_path / "two.json", {"nvml:0": (0.9, 1, 0.01), "nvml:1": (0.95, 2, 0.01)})
    (tmp_path / "bad.json").write_text('{"format": "something else"}')
    with pytest.raises(
        ConfigError, match=r"lab.toml: key 'analyzers\[0\].certificate' is not usable: .*none.json: no such"
    ):
        _config({"certificate": str(tmp_path / "none.json")})
    with pytest.raises(
        ConfigError, match=r"'analyzers\[0\].certificate' .*not a joulebench calibration certificate"
    ):
        _config({"certificate": str(tmp_path / "bad.json")})
    with pytest.raises(ConfigError, match=r"'analyzers\[0\].certificate' .*certifies nvml:0, nvml:1"):
        _config({"certificate": str(two)})
    with pytest.raises(
        ConfigError, match=r"'analyzers\[0\].certificate_source' .*certifies nvml:0, nvml:1, not source 'x'"
    ):
        _config({"certificate": str(two), "certificate_source": "x"})
    with pytest.raises(
        ConfigError, match=r"'analyzers\[0\].certificate_source' only applies with 'certificate'"
    ):
        _config({"certificate_source": "nvml:1"})
    chosen = parse_config(
        {
            "analyzers": [
                {
                    "name": "gpu",
                    "driver": "simulated",
                    "certificate": str(two),
                    "certificate_source": "nvml:1",
                }
            ]
        },
        "lab.toml",
    ).analyzers[0]
    assert chosen.calibration is not None and chosen.calibration.correction.gain == 0.95
    assert chosen.calibration.document == two.read_bytes()
    # The analyzer's own name picks its candidate out of a certificate of several.
    named = parse_config(
        {"analyzers": [{"name": "nvml:0", "driver": "simulated", "certificate": str(two)}]}, "lab.toml"
    ).analyzers[0]
    assert named.calibration is not None and named.calibration.correction.offset_w == 1
    assert math.isclose(named.calibration.correction.relative_bound, 0.01)


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({"accuracy": 0.0077}, 0.0077),
        ({"accuracy": 0}, 0.0),
        ({"accuracy": True}, None),
        ({"accuracy": "0.01"}, None),
        ({"accuracy": -0.01}, None),
        ({"accuracy": 1.5}, None),
        ({"source": "x"}, None),
        ("", None),
    ],
)
def test_a_node_log_states_its_accuracy_only_as_a_fraction(metadata: Any, expected: float | None) -> None:
    start = {"namespace": "", "time_ms": 1000, "event_type": "INTERVAL_START"}
    text = (
        f":::MLLOG {json.dumps({**start, 'key': 'power_measurement_start', 'value': None, 'metadata': metadata})}\n"
        ':::MLLOG {"namespace": "", "time_ms": 2000, "event_type": "POINT_IN_TIME", "key": "power_reading", '
        '"value": 10.0, "metadata": ""}\n'
    )
    log = parse_power_log(text.encode(), Path("node_0.txt"))
    assert stated_accuracy(log) == expected
