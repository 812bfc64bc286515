"""The tidy-log shortcut of `count_readings` counts exactly what merging every record counts.

Logs start tidy (a start on top, readings going forward in time, a stop at the bottom) and hypothesis
then untidies some: a reading back in time, the start after the first reading, the stop before the
last one or at the start's time, a second start or stop, efficiency records, no stop at all. Where the
shortcut takes a log, every field of its result must be the merged path's; where it declines, the
merged path is what runs anyway.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules.errors import InputError
from rules.training.integration import Counted, Integration, _merged, _tidy, count_readings
from rules.training.mllog import MllogEvent, PowerLog

SETTINGS = settings(
    max_examples=400,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=bool(os.environ.get("CI")),
)
START, STOP, EFFICIENCY = "power_measurement_start", "power_measurement_stop", "conversion_eff"
MS = 1_000_000


@st.composite
def logs(draw: st.DrawFn) -> PowerLog:
    """A node log as parsed: readings and markers with their line numbers."""
    count = draw(st.integers(min_value=1, max_value=12))
    steps = draw(st.lists(st.integers(min_value=0, max_value=3), min_size=count, max_size=count))
    if draw(st.booleans()):  # one reading back in time
        steps[draw(st.integers(0, count - 1))] = -2
    first = 10_000
    times = (first + 1000 * np.cumsum(steps)).tolist()
    start_ms = first + draw(st.sampled_from([-1000, 0, 0, 500, 2000]))
    stop_ms = max(times) + draw(st.sampled_from([0, 0, 1000, -1000])) if draw(st.booleans()) else start_ms
    # Records in file order: kind, time; readings get their places among the markers.
    records: list[tuple[str, int]] = [(START, start_ms)] + [("power_reading", t) for t in times]
    if draw(st.integers(0, 4)):  # usually a stop; sometimes none
        records.append((STOP, stop_ms))
    for _ in range(draw(st.integers(0, 2))):
        records.append((draw(st.sampled_from([START, STOP, EFFICIENCY])), draw(st.sampled_from(times))))
    if draw(st.booleans()):  # a marker moved among the readings
        moved = records.pop(draw(st.integers(0, len(records) - 1)))
        records.insert(draw(st.integers(0, len(records))), moved)
    events, reading_ms, reading_lines = [], [], []
    for line, (key, time_ms) in enumerate(records, start=3):
        if key == "power_reading":
            reading_ms.append(time_ms)
            reading_lines.append(line)
        else:
            events.append(MllogEvent(key, time_ms * MS, 0.95 if key == EFFICIENCY else None, None, line))
    return PowerLog(
        Path("node_0.txt"),
        np.array(reading_ms, dtype=np.int64) * MS,
        np.arange(len(reading_ms), dtype=np.float64) * 10 + 100,
        np.array(reading_lines, dtype=np.int64),
        events,
    )


def _fields(counted: Counted) -> tuple[object, ...]:
    return (
        counted.time_ns.tolist(),
        counted.watts.tolist(),
        counted.line.tolist(),
        counted.width_ns.tolist(),
        counted.start_ns,
        counted.stop_ns,
        counted.efficiency_line,
        counted.notes,
    )


@SETTINGS
@given(log=logs(), order=st.sampled_from(list(Integration)))
def test_the_tidy_shortcut_counts_what_the_merged_records_count(log: PowerLog, order: Integration) -> None:
    try:
        merged = _fields(_merged(log, order))
    except InputError as error:
        with pytest.raises(InputError, match=re.escape(error.reason)):
            count_readings(log, order)
        return
    assert _fields(count_readings(log, order)) == merged


def test_the_shortcut_takes_a_tidy_log_and_a_v4_0_stop_at_the_start() -> None:
    """It is there for the logs real loggers write; the property above means nothing if it never runs."""
    readings = np.array([1_000, 2_000, 3_000], dtype=np.int64) * MS
    for stop_ms, orders in ((3_000, list(Integration)), (0, [Integration.FILE_ORDER, Integration.MEASURED])):
        events = [MllogEvent(START, 0, None, None, 1), MllogEvent(STOP, stop_ms * MS, None, None, 5)]
        log = PowerLog(Path("node_0.txt"), readings, np.array([1.0, 2.0, 3.0]), np.array([2, 3, 4]), events)
        for order in orders:
            tidy = _tidy(log, order)
            assert tidy is not None and tidy.stop_ns == 3_000 * MS
        if stop_ms == 0:  # sorted-window's zero window is the merged path's to say
            assert _tidy(log, Integration.SORTED_WINDOW) is None
