"""The one-template path of power logs gives what decoding every line as JSON gives, whatever the values
look like, and takes every line of a log one writer made."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules.errors import InputError
from rules.training.mllog import PowerLog, parse_power_log
from rules.training.mllog_template import template_readings

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=bool(os.environ.get("CI")),
)
START = 1_715_294_597_696
NODE_LOGS = Path(__file__).parent / "data" / "training" / "v4.0-smc-dc-1x-h100-llama2_70b_lora" / "power"
HEAD = ':::MLLOG {{"namespace": "", "time_ms": {t}, "event_type": "POINT_IN_TIME", "key": "power_reading", '
VALUES = st.one_of(
    st.integers(min_value=0, max_value=10**6).map(str),
    st.floats(min_value=0, max_value=1e5, allow_nan=False).map(repr),
    st.decimals(min_value=0, max_value=99999, places=3).map(str),
    st.sampled_from(
        ["0", "0.5", "-3", "-0.25", "1e3", "1234567890123456", "0.1234567890123456", "NaN", '"7"']
    ),
)
NOT_JSON_NUMBERS = ["007", "2.", ".5", "-", "1.2.3", "+5", "0x10", "1_000"]
TAILS = st.sampled_from(
    ['"metadata": ""}', '"metadata": {"file": "power.py", "lineno": 41}}', '"metadata": null}']
)


def _reading(time_ms: int | str, value: str, tail: str) -> str:
    return HEAD.format(t=time_ms) + f'"value": {value}, {tail}'


def _reference(data: bytes) -> tuple[list[int], list[float], list[int]] | str:
    """Every line through json.loads: (time ns, watts, line) of the readings, or 'error'."""
    times, watts, lines = [], [], []
    for number, raw in enumerate(data.splitlines(), start=1):
        if b":::MLLOG" not in raw:
            continue
        try:
            record = json.loads(raw[raw.find(b":::MLLOG") + len(b":::MLLOG") :])
            key, _time = record["key"], record["time_ms"]
        except (ValueError, KeyError, TypeError):
            return "error"
        if key != "power_reading":
            continue
        value = record["value"]
        if isinstance(value, dict):  # the MLLOG helper may wrap a value as {"value": x}
            value = value.get("value")
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "error"
        if 0 <= value <= 1e6:
            times.append(record["time_ms"] * 1_000_000)
            watts.append(float(value))
            lines.append(number)
    return times, watts, lines


def _read_as_json_does(data: bytes, writable: bool = False) -> PowerLog | None:
    """The log parsed, asserted equal to json.loads of every line (None: both refuse it)."""
    expected = _reference(data)
    try:
        log = parse_power_log(bytearray(data) if writable else data, Path("node_0.txt"))
    except InputError:
        assert expected == "error"
        return None
    assert expected != "error"
    times, watts, numbers = expected
    assert log.reading_time_ns.tolist() == times
    assert log.reading_watts.tolist() == watts
    assert log.reading_line.tolist() == numbers
    return log


@SETTINGS
@given(
    values=st.lists(VALUES, min_size=1, max_size=40),
    tail=TAILS,
    other_tail=TAILS,
    odd=st.lists(st.integers(min_value=0, max_value=39), max_size=3),
    crlf=st.booleans(),
)
def test_the_template_path_reads_what_json_reads(
    values: list[str], tail: str, other_tail: str, odd: list[int], crlf: bool
) -> None:
    lines = [
        ':::MLLOG {"namespace": "", "time_ms": 1715294597000, "key": "power_measurement_start", "value": null}'
    ]
    for index, value in enumerate(values):
        lines.append(_reading(START + 1000 * index, value, other_tail if index in odd else tail))
    lines.append(
        ':::MLLOG {"namespace": "", "time_ms": 1715294699000, "key": "power_measurement_stop", "value": null}'
    )
    data = (("\r\n" if crlf else "\n").join(lines) + "\n").encode()
    log = _read_as_json_does(data)
    assert log is None or [e.key for e in log.events] == ["power_measurement_start", "power_measurement_stop"]


def test_a_log_of_one_writer_is_read_whole_by_the_template() -> None:
    watts = np.random.default_rng(1).integers(2000, 3000, 3600)
    lines = [_reading(START + 1000 * i, str(w), '"metadata": ""}') for i, w in enumerate(watts)]
    data = ("\n".join(lines) + "\n").encode()
    buf = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buf == 10)
    starts = np.concatenate(([0], ends[:-1] + 1))
    taken = template_readings(data, buf, starts, ends)
    assert taken is not None
    rows, times_ms, values = taken
    # All but the last line, whose windows would run past the buffer (JSON reads that one).
    assert rows.tolist() == list(range(3599))
    assert times_ms.tolist() == [START + 1000 * i for i in range(3599)]
    assert values.tolist() == watts[:3599].astype(float).tolist()
    log = parse_power_log(data, Path("node_0.txt"))
    assert log.reading_watts.tolist() == watts.astype(float).tolist()


@pytest.mark.parametrize(
    "first", ['"value": "2644"', '"value": 2644, "extra": 1', '"value": {"value": 2644}']
)
def test_a_first_reading_of_another_shape_leaves_the_log_to_the_general_path(first: str) -> None:
    lines = [HEAD.format(t=START) + first + ', "metadata": ""}']
    lines += [_reading(START + 1000 * i, str(2600 + i), '"metadata": ""}') for i in range(1, 200)]
    data = ("\n".join(lines) + "\n").encode()
    expected = _reference(data)
    try:
        log = parse_power_log(data, Path("node_0.txt"))
    except InputError as error:
        assert expected == "error" and str(error).startswith("node_0.txt:1:")
        return
    assert expected != "error"
    assert log.reading_watts.tolist() == expected[1]


@pytest.mark.parametrize("value", NOT_JSON_NUMBERS)
def test_a_value_json_would_refuse_is_never_taken_by_the_template(value: str) -> None:
    lines = [_reading(START + 1000 * i, "2600" if i != 3 else value, '"metadata": ""}') for i in range(8)]
    data = ("\n".join(lines) + "\n").encode()
    buf = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buf == 10)
    taken = template_readings(data, buf, np.concatenate(([0], ends[:-1] + 1)), ends)
    assert taken is not None and 3 not in taken[0].tolist() and 2 in taken[0].tolist()


@SETTINGS
@given(
    rows=st.integers(min_value=64, max_value=300),
    digits=st.integers(min_value=1, max_value=6),
    damage=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=299), st.sampled_from(["byte", "digit", "record", "longer"])
        ),
        max_size=4,
    ),
    crlf=st.booleans(),
    trailing_newline=st.booleans(),
    seed=st.integers(min_value=0, max_value=2**16),
    tenths=st.booleans(),
    writable=st.booleans(),
)
def test_equal_length_readings_read_in_place_equal_json(
    rows: int,
    digits: int,
    damage: list[tuple[int, str]],
    crlf: bool,
    trailing_newline: bool,
    seed: int,
    tenths: bool,
    writable: bool,
) -> None:
    """A run of readings of one length (a real log's shape) is read as a byte matrix; whatever is
    damaged in it, the result is what json.loads of every line gives: whole watts or tenths, from
    bytes or from the reused buffer `read_power_log` reads into."""
    rng = np.random.default_rng(seed)
    low, high = 10 ** (digits - 1) if digits > 1 else 0, 10**digits
    lines = [
        ':::MLLOG {"namespace": "", "time_ms": 1715294597000, "key": "power_measurement_start", "value": null}'
    ]
    for index, watts in enumerate(rng.integers(low, high, rows).tolist()):
        value = f"{watts / 10:.1f}" if tenths else str(watts)
        lines.append(_reading(START + 1000 * index, value, '"metadata": ""}'))
    # Line 1 is the first reading, the template: damage goes to the ones after it (a damaged first
    # reading leaves the log to the general scan, tested in test_parser_properties).
    for row, kind in damage:
        at = 2 + row % (rows - 1)
        line = lines[at]
        if kind == "byte":  # one byte of the template changed, the length kept
            position = int(rng.integers(0, 40))
            lines[at] = line[:position] + ("X" if line[position] != "X" else "Y") + line[position + 1 :]
        elif kind == "digit" and '"time_ms": ' in line:  # a letter where a digit of the time stands
            position = line.index('"time_ms": ') + 11 + int(rng.integers(0, 13))
            lines[at] = line[:position] + "x" + line[position + 1 :]
        elif kind == "record":  # another record of the same length
            other = ':::MLLOG {"key": "note", "time_ms": 1715294597001, "value": "'
            lines[at] = other + "z" * (len(line) - len(other) - 2) + '"}'
        elif kind == "longer":  # one reading a digit longer: the run of one length ends here
            lines[at] = line.replace('"value": ', '"value": 1', 1)
    lines.append(
        ':::MLLOG {"namespace": "", "time_ms": 1715294999000, "key": "power_measurement_stop", "value": null}'
    )
    end = "\r\n" if crlf else "\n"
    data = (end.join(lines) + (end if trailing_newline else "")).encode()
    _read_as_json_does(data, writable)


def test_a_real_node_log_is_read_in_place() -> None:
    """The v4.0 fixture's node log: its readings are one run of one length, read by the block path."""
    from rules.training.mllog_block import reading_block

    data = (NODE_LOGS / "result_5027-240510020224961918558_1" / "node_0.txt").read_bytes()
    block = reading_block(data, np.frombuffer(data, dtype=np.uint8))
    assert block is not None and len(block.rows) >= 0.95 * data.count(b'"power_reading"')
    log = parse_power_log(data, Path("node_0.txt"))
    expected = _reference(data)
    assert not isinstance(expected, str) and log.reading_watts.tolist() == expected[1]
