"""Training energy as each round computed it: v4.0 in file order, v4.1 on sorted from start to stop.

The later order is cross-checked against the MLCommons summarizer itself (`mlperf-logging`, pinned in
the test extra: `_compute_power_node` is private) on logs hypothesis shuffles, duplicates and spreads
past the markers; the v4.0 order against values worked out by hand from the rule.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mlperf_logging.compliance_checker.mlp_parser import parse_file
from mlperf_logging.result_summarizer.result_summarizer import _compute_power_node

from rules.errors import InputError
from rules.training.energy import UndefinedEnergyError, node_energy
from rules.training.integration import Integration
from rules.training.kind import TrainingKind
from rules.training.mllog import read_power_log
from rules.training.synthetic import SyntheticRunSpec, marker_line, reading_lines, write_benchmark

FIXTURE = Path(__file__).parent / "data" / "training" / "v4.0-smc-dc-1x-h100-llama2_70b_lora"
SETTINGS = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=bool(os.environ.get("CI")),
)

Record = tuple[str, int, float]
"""(key, time_ms, value) in file order; the value matters for readings and conversion_eff."""


def write_log(path: Path, records: list[Record]) -> Path:
    lines = []
    for key, time_ms, value in records:
        if key == "power_reading":
            lines.append(reading_lines(np.array([time_ms]), np.array([value])).rstrip("\n"))
        elif key == "conversion_eff":
            record = {"namespace": "", "time_ms": time_ms, "event_type": "POINT_IN_TIME", "key": key}
            lines.append(":::MLLOG " + json.dumps(record | {"value": value, "metadata": ""}))
        else:
            lines.append(marker_line(key, time_ms))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def energy(path: Path, order: Integration, ttt_ms: int = 2_000) -> float:
    return node_energy(read_power_log(path), ttt_ms * 1_000_000, order).energy_j


START, STOP, READ = "power_measurement_start", "power_measurement_stop", "power_reading"
# One reading's time goes back half a second (line 4), as in the v4.0 multi-node logs.
BACKWARDS: list[Record] = [
    (START, 0, 0),
    (READ, 1_000, 100.0),
    (READ, 3_000, 200.0),
    (READ, 2_500, 50.0),
    (READ, 4_000, 10.0),
    (STOP, 4_000, 0),
    (READ, 5_000, 999.0),  # after the stop in file and in time: never counted
]


def test_v4_0_integrates_in_file_order_with_the_negative_width(tmp_path: Path) -> None:
    path = write_log(tmp_path / "node_0.txt", BACKWARDS)
    # File order: 100·1 + 200·2 + 50·(−0.5) + 10·1.5 = 490 W·s over the 4 s window, scaled to 2 s.
    assert energy(path, Integration.FILE_ORDER) == pytest.approx(490 * 2 / 4, rel=1e-12)
    # By time: 100·1 + 50·1.5 + 200·0.5 + 10·1 = 285 W·s.
    assert energy(path, Integration.SORTED_WINDOW) == pytest.approx(285 * 2 / 4, rel=1e-12)
    assert energy(path, Integration.MEASURED) == pytest.approx(285 * 2 / 4, rel=1e-12)


def test_v4_0_counts_what_is_above_the_stop_in_the_file_and_ends_at_the_later_of_stop_and_reading(
    tmp_path: Path,
) -> None:
    records: list[Record] = [
        (READ, 500, 1_000.0),  # above the first start: not counted
        (START, 0, 0),
        (STOP, 0, 0),  # at the start's time, as the SMC logs write it: ends nothing
        (READ, 1_000, 100.0),
        (READ, 6_000, 20.0),  # after the stop in time, above it in the file: counted in file order
        (START, 5_000, 0),  # a later start restarts the rectangle and becomes the window's start
        (READ, 5_500, 40.0),
        (STOP, 5_800, 0),  # the first stop after the start in force: integration ends here
        (READ, 5_900, 7.0),
    ]
    path = write_log(tmp_path / "node_0.txt", records)
    # 100·1 + 20·5 + 40·0.5 = 220 W·s; window from the last start (5 s) to max(stop 5.8 s, reading 6 s).
    log = read_power_log(path)
    result = node_energy(log, 2_000_000_000, Integration.FILE_ORDER)
    assert result.energy_j == pytest.approx(220 * 2 / 1.0, rel=1e-12)
    assert result.samples == 3 and result.window_s == pytest.approx(1.0)
    assert any("1 power_reading(s) above the first power_measurement_start" in note for note in result.notes)


def test_the_later_rounds_match_the_summarizer_on_the_hand_written_log(tmp_path: Path) -> None:
    path = write_log(tmp_path / "node_0.txt", BACKWARDS)
    loglines, errors = parse_file(str(path), "4.1.0")
    assert errors == []
    assert energy(path, Integration.SORTED_WINDOW) == pytest.approx(
        _compute_power_node(loglines, 2_000), rel=1e-12
    )


def test_a_stop_at_the_start_time_divides_the_later_summarizer_by_zero(tmp_path: Path) -> None:
    node = next((FIXTURE / "power").glob("*/node_0.txt"))
    loglines, _ = parse_file(str(node), "4.1.0")
    with pytest.raises(ZeroDivisionError):
        _compute_power_node(loglines, 1_690_000)
    with pytest.raises(UndefinedEnergyError, match="divides by zero"):
        node_energy(read_power_log(node), 1_690_000 * 1_000_000, Integration.SORTED_WINDOW)
    # The published v4.0 folder under a later round: one sentence instead of a number.
    result = TrainingKind().check(FIXTURE, "mlperf-training-v4.1")
    assert result.value is None and not result.valid
    assert len(result.errors) == 1
    assert result.errors[0].startswith(str(next(iter(sorted((FIXTURE / "power").glob("*/node_0.txt"))))))
    assert result.errors[0].endswith(
        "counts nothing and divides by zero: no energy (9 more power logs alike); under mlperf-training-v4.1"
    )
    assert result.compliance_ruleset == "mlperf-training-v4.1"
    checks = {c.id: c for c in result.checks or []}
    assert checks["training.readings"].verdict.value == "FAIL"
    assert checks["training.readings"].message == (
        "10 node log(s) give no energy under mlperf-training-v4.1, so their readings are not judged"
    )


def test_the_fixture_keeps_its_published_value_in_its_own_round() -> None:
    result = TrainingKind().check(FIXTURE, None)
    assert result.compliance_ruleset == "mlperf-training-v4.0"
    assert round(result.value or 0, 2) == 11769.96
    assert "runs dated 2024-05-09: round v4.0 (mlperf-training-v4.0, published 2024-06-12)" in result.notes


def _epoch_ms(day: str) -> int:
    return int(dt.datetime.fromisoformat(day).replace(tzinfo=dt.timezone.utc).timestamp() * 1000)


@pytest.mark.parametrize(
    ("day", "ruleset"),
    [
        ("2024-05-01", "mlperf-training-v4.0"),
        ("2024-06-11", "mlperf-training-v4.0"),
        ("2024-08-01", "mlperf-training-v4.1"),
        ("2025-03-01", "mlperf-training-v5.0"),
        ("2025-08-01", "mlperf-training-v5.1"),
        ("2026-03-01", "mlperf-training-v5.1"),
    ],
)
def test_the_round_is_the_next_publication_after_run_start(tmp_path: Path, day: str, ruleset: str) -> None:
    specs = [SyntheticRunSpec(ttt_s=100 + i) for i in range(10)]
    # The first run starts 10,000 s after run_start_ms (write_benchmark spaces them).
    folder = write_benchmark(
        tmp_path / "bert", "bert", specs, run_start_ms=_epoch_ms(day), stop_at_start=False
    )
    result = TrainingKind().check(folder, None)
    assert result.compliance_ruleset == ruleset
    assert result.valid and result.value is not None
    if day == "2026-03-01":
        assert any("after every known round: judged by mlperf-training-v5.1" in n for n in result.notes)
    forced = TrainingKind().check(folder, "mlperf-training-v4.0")
    assert forced.compliance_ruleset == "mlperf-training-v4.0"


def test_a_backwards_reading_is_a_warning_in_v4_0_and_information_later(tmp_path: Path) -> None:
    specs = [SyntheticRunSpec(ttt_s=100 + i) for i in range(10)]
    folder = write_benchmark(tmp_path / "bert", "bert", specs, stop_at_start=False)
    node = folder / "power" / "result_3" / "node_0.txt"
    lines = node.read_text().splitlines()
    lines[20], lines[21] = lines[21], lines[20]  # line 22 is now 2 s before line 21
    node.write_text("\n".join(lines) + "\n")
    v40 = TrainingKind().check(folder, None)
    checks = {c.id: c for c in v40.checks or []}
    assert checks["training.time_order"].verdict.value == "WARN"
    assert checks["training.time_order"].message.startswith(
        "result_3/node_0.txt line 22: power_reading time goes back 2.000 s (1 such reading(s) in 1 node log(s))"
    )
    later = TrainingKind().check(folder, "mlperf-training-v5.1")
    assert {c.id: c for c in later.checks or []}["training.time_order"].verdict.value == "INFO"
    # The swap moves the v4.0 energy of that run (negative width) and not the sorted one.
    run3 = {r.name: r.energy_j for r in v40.runs}["result_3"]
    run3_sorted = {r.name: r.energy_j for r in later.runs}["result_3"]
    assert run3 != pytest.approx(run3_sorted, rel=1e-9)


# -- the cross-check with the MLCommons summarizer ------------------------------------------------


@st.composite
def untidy_logs(draw: st.DrawFn) -> list[Record]:
    """Readings at few distinct times (duplicates), markers anywhere, the whole shuffled."""
    times = st.integers(min_value=0, max_value=40).map(lambda k: 10_000 + 250 * k)
    readings: list[Record] = [
        (READ, draw(times), float(draw(st.integers(min_value=0, max_value=3_000))))
        for _ in range(draw(st.integers(min_value=1, max_value=30)))
    ]
    readings += draw(st.lists(st.sampled_from(readings), max_size=5))  # lines written twice
    markers: list[Record] = [(START, draw(times), 0) for _ in range(draw(st.integers(1, 2)))]
    markers += [(STOP, draw(times), 0) for _ in range(draw(st.integers(0, 2)))]
    markers += [
        ("conversion_eff", draw(times), draw(st.sampled_from([0.9, 0.95, 1.0])))
        for _ in range(draw(st.integers(0, 2)))
    ]
    return draw(st.permutations(readings + markers))


@SETTINGS
@given(records=untidy_logs())
def test_sorted_window_equals_the_mlcommons_summarizer(
    tmp_path_factory: pytest.TempPathFactory, records: list[Record]
) -> None:
    path = write_log(tmp_path_factory.mktemp("log") / "node_0.txt", records)
    loglines, errors = parse_file(str(path), "5.1.0")
    assert errors == []
    try:
        reference: float | None = _compute_power_node(loglines, 7_000)
    except ZeroDivisionError:
        reference = None
    try:
        ours = energy(path, Integration.SORTED_WINDOW, ttt_ms=7_000)
    except UndefinedEnergyError as error:
        if reference is None:
            assert "divides by zero" in error.reason
        else:
            # Where the summarizer still prints a number, it is no energy: nothing counted, or a window
            # that ends before it starts.
            assert reference <= 0.0, (error.reason, reference)
        return
    except InputError as error:  # pragma: no cover - would mean a log the summarizer reads and we do not
        pytest.fail(f"{error} (the summarizer gives {reference})")
    assert reference is not None
    assert ours == pytest.approx(reference, rel=1e-9, abs=1e-9)
