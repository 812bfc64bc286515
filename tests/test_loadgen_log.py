"""LoadGen detail logs: first occurrence wins, damaged lines are tolerated, both log forms are read."""

from pathlib import Path

import pytest

from analyzers.formats.ptd_time import parse_ptd_time
from rules.errors import InputError
from rules.inference.loadgen_log import read_loadgen_log
from rules.inference.synthetic import mllog_line


def test_first_occurrence_of_a_key_wins(tmp_path: Path) -> None:
    path = tmp_path / "mlperf_log_detail.txt"
    path.write_text(
        "\n".join(
            [
                mllog_line("power_begin", "03-03-2021 00:54:05.983", 1.0),
                mllog_line("power_begin", "03-03-2021 00:59:00.000", 2.0),
                mllog_line("result_query_count", 10, 3.0),
            ]
        )
    )
    log = read_loadgen_log(path)
    assert log.time_ns("power_begin") == parse_ptd_time("03-03-2021 00:54:05.983")
    assert log.line("power_begin") == 1


def test_truncated_record_is_noted_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "mlperf_log_detail.txt"
    good = mllog_line("effective_scenario", "Offline", 1.0)
    path.write_text(good + "\n" + mllog_line("power_end", "x", 2.0)[:50] + "\n")
    log = read_loadgen_log(path)
    assert log.get("effective_scenario") == "Offline"
    assert log.problems == [f"{path}:2: not a complete MLLOG record, ignored"]
    with pytest.raises(InputError, match="no power_end entry"):
        log.time_ns("power_end")


def test_legacy_text_form(tmp_path: Path) -> None:
    path = tmp_path / "mlperf_log_detail.txt"
    path.write_text(
        '"pid": 1, "tid": 2, "ts": 604863853589ns : POWER_BEGIN: "03-03-2021 00:54:05.983"\n'
        '"pid": 1, "tid": 2, "ts": 604863853589ns : POWER_END: "03-03-2021 01:04:10.368"\n'
    )
    log = read_loadgen_log(path)
    assert log.time_ns("power_end") - log.time_ns("power_begin") == 604_385_000_000


def test_bad_power_time_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "mlperf_log_detail.txt"
    path.write_text(
        mllog_line("effective_scenario", "Offline", 0) + "\n" + mllog_line("power_begin", "soon", 1) + "\n"
    )
    with pytest.raises(InputError) as caught:
        read_loadgen_log(path).time_ns("power_begin")
    assert str(caught.value).startswith(f"{path}:2: power_begin")


def test_only_the_keys_asked_for_are_decoded_and_each_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    import rules.inference.loadgen_log as module

    path = tmp_path / "mlperf_log_detail.txt"
    path.write_text("\n".join(mllog_line(f"key_{i}", i, float(i)) for i in range(200)) + "\n")
    decoded: list[str] = []
    real_loads = json.loads
    monkeypatch.setattr(module.json, "loads", lambda text: decoded.append(text) or real_loads(text))
    log = read_loadgen_log(path)
    assert log.get("key_7") == 7 and log.get("key_7") == 7 and log.get("key_150") == 150
    assert log.get("absent") is None and log.line("key_150") == 151
    assert len(decoded) == 2 and log.problems == []


def test_a_well_shaped_record_that_is_not_json_gives_way_to_the_next(tmp_path: Path) -> None:
    path = tmp_path / "mlperf_log_detail.txt"
    broken = ':::MLLOG {"key": "power_begin", "value": "03-03-2021 00:54:05.983", "time_ms": 1.0,, }'
    path.write_text(broken + "\n" + mllog_line("power_begin", "03-03-2021 00:59:00.000", 2.0) + "\n")
    log = read_loadgen_log(path)
    assert log.time_ns("power_begin") == parse_ptd_time("03-03-2021 00:59:00.000")
    assert log.line("power_begin") == 2
    assert log.problems == [f"{path}:1: not a complete MLLOG record, ignored"]


def test_a_record_whose_key_is_not_first_and_the_legacy_form_keep_file_order(tmp_path: Path) -> None:
    path = tmp_path / "mlperf_log_detail.txt"
    path.write_text(
        '"pid": 1 : POWER_BEGIN: "03-03-2021 00:50:00.000"\r\n'
        + mllog_line("power_begin", "03-03-2021 00:54:05.983", 1.0)
        + '\r\n:::MLLOG {"value": "Offline", "key": "effective_scenario"}\r\n'
    )
    log = read_loadgen_log(path)
    assert log.time_ns("power_begin") == parse_ptd_time("03-03-2021 00:50:00.000")  # line 1 is first
    assert log.line("power_begin") == 1
    assert log.get("effective_scenario") == "Offline" and log.line("effective_scenario") == 3
