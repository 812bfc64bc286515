"""power-check for MLPerf Training: the published v4.0 fixture, Olympic scoring, damaged logs."""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from rules.errors import InputError
from rules.kinds import registered_kinds
from rules.training.kind import TrainingKind, check_training
from rules.training.mllog import read_power_log
from rules.training.synthetic import (
    SyntheticRunSpec,
    marker_line,
    reading_lines,
    write_benchmark,
    write_node_log,
)

FIXTURE = Path(__file__).parent / "data" / "training" / "v4.0-smc-dc-1x-h100-llama2_70b_lora"


def test_fixture_reproduces_the_published_score() -> None:
    result = TrainingKind().check(FIXTURE, None)
    assert result.valid
    assert round(result.value or 0, 2) == 11769.96
    assert result.unit == "kJ"
    assert result.scenario == "llama2_70b_lora"
    assert result.nodes == 1
    dropped = sorted(r.name for r in result.runs if r.dropped)
    # The fastest (1685.183 s) and the slowest (1694.520 s) runs.
    assert dropped == ["result_4951-240509201759121728742_1", "result_5027-240510020224961918558_3"]
    kept = [r.energy_j for r in result.runs if not r.dropped]
    assert math.fsum(e for e in kept if e is not None) / len(kept) / 1000 == pytest.approx(
        11374.997, abs=5e-4
    )
    data = result.to_json()
    assert data["kind"] == "training" and data["energy_kj"] == result.value == data["value"]
    assert len(data["runs"]) == 10 and set(data["runs"][0]) == {
        "name",
        "ttt_s",
        "energy_kj",
        "converged",
        "dropped",
    }
    json.dumps(data)


def test_fixture_uncertainty_is_unknown_without_a_meter_accuracy() -> None:
    result = check_training(FIXTURE)
    assert result.uncertainty is None
    assert any("uncertainty unknown" in note for note in result.notes)
    with_meter = check_training(FIXTURE, meter_accuracy=0.01)
    assert with_meter.value == result.value
    # ±1 % rectangular on 11,770 kJ is 68 kJ; the timing/sampling part is far smaller.
    assert with_meter.uncertainty == pytest.approx(11769.96 * 0.01 / math.sqrt(3), rel=1e-3)


def test_fast_parser_agrees_with_json_on_every_fixture_reading() -> None:
    for path in sorted((FIXTURE / "power").glob("*/node_*.txt")):
        log = read_power_log(path)
        expected = [
            json.loads(line.split(":::MLLOG", 1)[1])
            for line in path.read_text().splitlines()
            if '"power_reading"' in line
        ]
        assert log.reading_time_ns.tolist() == [r["time_ms"] * 1_000_000 for r in expected]
        assert log.reading_watts.tolist() == [float(r["value"]) for r in expected]
        others = [
            line for line in path.read_text().splitlines() if "MLLOG" in line and "power_reading" not in line
        ]
        assert [e.key for e in log.events] == [
            json.loads(line.split(":::MLLOG", 1)[1])["key"] for line in others
        ]
        assert {e.key for e in log.events} == {"power_measurement_start", "power_measurement_stop"}


def test_node_energy_is_backward_rectangles_scaled_to_the_run(tmp_path: Path) -> None:
    times, watts = np.array([1_000, 3_000, 4_000, 8_000]), np.array([100.0, 200.0, 50.0, 10.0])
    lines = [marker_line("power_measurement_start", 0), reading_lines(times, watts).rstrip("\n")]
    lines += ["0: " + reading_lines(np.array([9_000]), np.array([7.0])).rstrip("\n")]  # rank prefix
    lines += [':::MLLOG {"namespace":"","time_ms":0,"key":"conversion_eff","value":0.9,"metadata":""}']
    (tmp_path / "node_0.txt").write_text("\n".join(lines) + "\n")
    from rules.training.energy import node_energy

    result = node_energy(read_power_log(tmp_path / "node_0.txt"), ttt_ns=4_500_000_000)
    area = 100 * 1 + 200 * 2 + 50 * 1 + 10 * 4 + 7 * 1  # W·s, backward rectangles from t0 = 0
    assert result.energy_j == pytest.approx(0.9 * area * 4.5 / 9.0)
    assert result.samples == 5


def test_a_real_stop_marker_closes_the_window(tmp_path: Path) -> None:
    lines = [
        marker_line("power_measurement_start", 0),
        reading_lines(np.array([1_000, 2_000, 3_000]), np.array([10.0, 20.0, 999.0])).rstrip("\n"),
        marker_line("power_measurement_stop", 2_000),
    ]
    (tmp_path / "node_0.txt").write_text("\n".join(lines) + "\n")
    from rules.training.energy import node_energy

    result = node_energy(read_power_log(tmp_path / "node_0.txt"), ttt_ns=2_000_000_000)
    assert result.energy_j == pytest.approx(10 + 20)
    assert result.window_s == 2.0


def _energies(result_runs: list) -> dict[str, float]:
    return {r.name: r.energy_j for r in result_runs}


def test_unet3d_drops_four_at_each_end(tmp_path: Path) -> None:
    specs = [SyntheticRunSpec(ttt_s=100 + 10 * i, node_watts=1000 + 100 * i) for i in range(10)]
    folder = write_benchmark(tmp_path / "unet3d", "unet3d", specs, nodes=2)
    result = check_training(folder)
    assert result.valid
    kept = [r for r in result.runs if not r.dropped]
    assert [r.name for r in kept] == ["result_5", "result_6"]
    expected = (kept[0].energy_j + kept[1].energy_j) / 2 / 1000  # type: ignore[operator]
    assert result.value == pytest.approx(expected)
    assert any("no scaling.json" in note for note in result.notes)


def test_benchmark_name_falls_back_to_the_folder_name(tmp_path: Path) -> None:
    specs = [SyntheticRunSpec(ttt_s=100 + i) for i in range(10)]
    folder = write_benchmark(tmp_path / "unet3d", "", specs)
    for result_file in folder.glob("result_*.txt"):
        text = result_file.read_text().splitlines()
        result_file.write_text("\n".join(line for line in text if "submission_benchmark" not in line) + "\n")
    result = check_training(folder)
    assert result.scenario == "unet3d"
    assert sum(r.dropped for r in result.runs) == 8


def test_non_converged_runs_are_dropped_first_as_the_slowest(tmp_path: Path) -> None:
    specs = [SyntheticRunSpec(ttt_s=100 + i, node_watts=1000 + 10 * i) for i in range(10)]
    specs[0] = SyntheticRunSpec(ttt_s=50, converged=False)  # fastest, but failed
    folder = write_benchmark(tmp_path / "bert", "bert", specs, scaling=2.0)
    result = check_training(folder)
    assert result.valid
    by_name = {r.name: r for r in result.runs}
    assert not by_name["result_1"].converged and by_name["result_1"].dropped
    assert by_name["result_2"].dropped  # fastest converged run
    assert not by_name["result_10"].dropped  # the slowest converged survives: the failed run took its slot
    kept = [r.energy_j for r in result.runs if not r.dropped]
    assert len(kept) == 8
    assert result.value == pytest.approx(2.0 * math.fsum(kept) / 8 / 1000)  # type: ignore[arg-type]


def test_too_many_non_converged_runs_make_the_score_invalid(tmp_path: Path) -> None:
    specs = [SyntheticRunSpec(ttt_s=100 + i, converged=i >= 2) for i in range(10)]
    result = check_training(write_benchmark(tmp_path / "bert", "bert", specs))
    assert not result.valid and result.value is None
    assert "2 runs did not converge" in result.errors[0]


def test_switches_add_estimate_times_ttt_and_strays_are_noted(tmp_path: Path) -> None:
    specs = [SyntheticRunSpec(ttt_s=100.0) for _ in range(3)]
    folder = write_benchmark(tmp_path / "gpt3", "gpt3", specs, nodes=1, switches=2)
    (folder / "power" / "total_power.txt").write_text("1234\n")
    (folder / "power" / "result_1" / "plot.png").write_bytes(b"\x89PNG")
    with_switches = check_training(folder)
    for sw in (folder / "power").glob("*/sw_*.txt"):
        sw.unlink()
    without = check_training(folder)
    assert with_switches.value - without.value == pytest.approx(2 * 400 * 100 / 1000)  # type: ignore[operator]
    assert any("total_power.txt" in n for n in with_switches.notes)
    assert any("plot.png" in n for n in with_switches.notes)


def test_truncated_last_line_is_skipped_with_a_note(tmp_path: Path) -> None:
    folder = write_benchmark(tmp_path / "bert", "bert", [SyntheticRunSpec(100.0)] * 3)
    node = folder / "power" / "result_2" / "node_0.txt"
    lines = node.read_text().splitlines()
    node.write_text("\n".join(lines[:-1]) + "\n" + lines[-2][:40])  # killed mid-write, no newline
    result = check_training(folder)
    assert result.valid
    assert any(f"truncated last line {len(lines)}" in n for n in result.notes)


@pytest.mark.parametrize(
    "damage",
    [
        lambda line: line[:60],  # cut in the middle of the file
        lambda line: line.replace('"value": ', '"value": "twelve"').replace(', "metadata"', '", "metadata"'),
        lambda line: line + line,  # two records on one line
    ],
)
def test_garbage_inside_a_power_log_names_file_and_line(tmp_path: Path, damage: Callable[[str], str]) -> None:
    folder = write_benchmark(tmp_path / "bert", "bert", [SyntheticRunSpec(100.0)] * 3)
    node = folder / "power" / "result_2" / "node_0.txt"
    lines = node.read_text().splitlines()
    lines[10] = damage(lines[10])
    node.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as error:
        check_training(folder)
    assert error.value.line == 11 and error.value.path == str(node)


def test_empty_window_is_an_input_error_not_a_division_by_zero(tmp_path: Path) -> None:
    folder = write_benchmark(tmp_path / "bert", "bert", [SyntheticRunSpec(100.0)] * 3)
    node = folder / "power" / "result_1" / "node_0.txt"
    node.write_text(
        marker_line("power_measurement_start", 5_000)
        + "\n"
        + reading_lines(np.array([5_000]), np.array([1.0]))
    )
    with pytest.raises(InputError, match="window is empty"):
        check_training(folder)


def test_missing_node_logs_name_the_run_folder(tmp_path: Path) -> None:
    folder = write_benchmark(tmp_path / "bert", "bert", [SyntheticRunSpec(100.0)] * 3)
    shutil.rmtree(folder / "power" / "result_3")
    (folder / "power" / "result_3").mkdir()
    with pytest.raises(InputError, match="result_3"):
        check_training(folder)


def test_kinds_registry_and_claims(tmp_path: Path) -> None:
    names = [kind.name for kind in registered_kinds()]
    assert "training" in names and "tiny" in names
    assert TrainingKind().claims(FIXTURE)
    assert not TrainingKind().claims(FIXTURE / "power")
    write_node_log(tmp_path / "node_0.txt", 0, 10, 1, 100.0)
    assert not TrainingKind().claims(tmp_path)
