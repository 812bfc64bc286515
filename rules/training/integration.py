"""Which power readings of a node log count, in what order, and where the window ends: per round.

Every order integrates backward rectangles: a reading stands for the power since the record before it
(the previous counted reading, or a `power_measurement_start`), so a window's watt-seconds are
`A = Σ P_k (t_k − t_prev(k))` and the node's share of a run is `η A TTT / (t_stop − t_start)`. The three
orders differ where logs are untidy (records out of time order, stop markers at the start's time):

- `file-order`, MLPerf Training v4.0 (the MLCommons summarizer its table was made with): records in the
  order the file holds them, from the first `power_measurement_start` up to the first
  `power_measurement_stop` later than the start; a later start restarts the rectangle; a reading whose
  time goes back gets a negative width. The window ends at max(stop marker, last counted reading). A
  stop at or before the start (real v4.0 logs write one at the start's time) ends nothing, or the
  published v4.0 results could not come out of those logs.
- `sorted-window`, v4.1 on (mlcommons/logging "Compute power only in start - stop window", September
  2024): every record sorted by time, ties in file order; readings count after the first start and
  before the first stop; the window runs from the last start to the last stop (to the last counted
  reading when there is no stop). A stop at the start's time counts nothing and leaves a zero window:
  that summarizer divides by zero, and so there is no energy under this order.
- `measured`, joulebench's own: readings by time, from the earliest start to the latest stop that is
  after it (to the last reading when there is none): what the meter saw, whatever the markers say.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum

import numpy as np

from rules.errors import InputError
from rules.training.mllog import PowerLog

_START, _STOP, _READING, _EFFICIENCY = 0, 1, 2, 3
_KEYS = {"power_measurement_start": _START, "power_measurement_stop": _STOP, "conversion_eff": _EFFICIENCY}


class Integration(str, Enum):
    FILE_ORDER = "file-order"
    SORTED_WINDOW = "sorted-window"
    MEASURED = "measured"

    @property
    def described(self) -> str:
        return _DESCRIBED[self]

    @classmethod
    def parse(cls, text: str) -> Integration:
        try:
            return cls(text)
        except ValueError:
            known = ", ".join(member.value for member in cls)
            raise ValueError(f"unknown power integration {text!r}; known: {known}") from None


_DESCRIBED = {
    Integration.FILE_ORDER: "in file order",
    Integration.SORTED_WINDOW: "sorted by time, from start to stop",
    Integration.MEASURED: "by time, from the earliest start to the latest stop",
}


@dataclass(frozen=True)
class Counted:
    """What an order makes of one log: the counted readings in integration order and their widths."""

    time_ns: np.ndarray
    watts: np.ndarray
    line: np.ndarray
    width_ns: np.ndarray
    """Time since the record before each counted reading; negative where file order goes back in time."""
    start_ns: int
    stop_ns: int | None
    """The window's end, or None when the order finds none (no stop marker and no counted reading)."""
    efficiency_line: int | None
    """The line of the `conversion_eff` record the order uses; None when there is none (η = 1)."""
    notes: list[str] = field(default_factory=list)

    @property
    def window_ns(self) -> int | None:
        return None if self.stop_ns is None else self.stop_ns - self.start_ns


def count_readings(log: PowerLog, order: Integration) -> Counted:
    """The readings `order` counts; the caller turns them into joules and judges the window."""
    tidy = _tidy(log, order)
    return tidy if tidy is not None else _merged(log, order)


def _merged(log: PowerLog, order: Integration) -> Counted:
    """`count_readings` on the records merged into file order: any log, however untidy."""
    records = _Records.of(log)
    if not np.any(records.kind == _START):
        raise InputError(log.path, "has no power_measurement_start record")
    if order is Integration.FILE_ORDER:
        return _file_order(records)
    if order is Integration.SORTED_WINDOW:
        return _sorted_window(records.sorted_by_time())
    return _measured(records.sorted_by_time())


def _tidy(log: PowerLog, order: Integration) -> Counted | None:
    """What `order` counts in a tidy log, found without merging its records; None when it is not one.
    Tidy: one start above every reading and no later than the first; no stop, or one below every
    reading; reading times never going back; at most one efficiency record; and, when the stop is
    later than the start, no reading after it. There file order and time order are one order, every
    reading counts, each measured back to the one before it (the first to the start), and the window
    ends at the stop, or at the last reading when there is no stop after the start. The orders agree
    on all of it but one case, left to them: sorted-window's zero window behind a stop at the start."""
    marks = [e for e in log.events if e.key in _KEYS]
    kinds = [_KEYS[e.key] for e in marks]
    if kinds.count(_START) != 1 or kinds.count(_STOP) > 1 or kinds.count(_EFFICIENCY) > 1:
        return None
    start = marks[kinds.index(_START)]
    stop = marks[kinds.index(_STOP)] if _STOP in kinds else None
    time_ns, lines = log.reading_time_ns, log.reading_line
    if not len(time_ns) or not start.line < lines[0] or (stop is not None and not lines[-1] < stop.line):
        return None
    stop_ns = stop.time_ns if stop is not None and stop.time_ns > start.time_ns else None
    if stop_ns is not None and stop_ns < time_ns[-1]:
        return None
    if stop is not None and stop_ns is None and order is Integration.SORTED_WINDOW:
        return None
    width_ns = np.diff(time_ns, prepend=np.int64(start.time_ns))
    if width_ns.min() < 0:
        return None
    efficiency = [e.line for e in marks if e.key == "conversion_eff"]
    return Counted(
        time_ns=time_ns,
        watts=log.reading_watts,
        line=lines,
        width_ns=width_ns,
        start_ns=start.time_ns,
        stop_ns=stop_ns if stop_ns is not None else int(time_ns[-1]),
        efficiency_line=efficiency[0] if efficiency else None,
        notes=[] if stop_ns is not None else [_stop_note(missing=stop is None)],
    )


@dataclass(frozen=True)
class _Records:
    """The records the orders look at (markers, readings, efficiency), as parallel columns."""

    kind: np.ndarray
    time_ns: np.ndarray
    line: np.ndarray
    watts: np.ndarray  # NaN except for readings

    @classmethod
    def of(cls, log: PowerLog) -> _Records:
        events = [e for e in log.events if e.key in _KEYS]
        kind = np.concatenate(
            (
                np.array([_KEYS[e.key] for e in events], dtype=np.int8),
                np.full(len(log.reading_line), _READING),
            )
        )
        time_ns = np.concatenate((np.array([e.time_ns for e in events], dtype=np.int64), log.reading_time_ns))
        line = np.concatenate((np.array([e.line for e in events], dtype=np.int64), log.reading_line))
        watts = np.concatenate((np.full(len(events), np.nan), log.reading_watts))
        order = np.argsort(line, kind="stable")
        return cls(kind[order].astype(np.int8), time_ns[order], line[order], watts[order])

    def sorted_by_time(self) -> _Records:
        # Python's sort of the summarizer's record list is stable: equal times keep file order.
        order = np.argsort(self.time_ns, kind="stable")
        return _Records(self.kind[order], self.time_ns[order], self.line[order], self.watts[order])

    def take(self, counted: np.ndarray, anchors: np.ndarray, start_ns: int) -> Counted:
        """The counted readings, each measured back to the anchor (start or counted reading) before it."""
        index = np.where(anchors, np.arange(len(anchors)), -1)
        previous = np.concatenate(([-1], np.maximum.accumulate(index)[:-1]))[counted]
        return Counted(
            time_ns=self.time_ns[counted],
            watts=self.watts[counted],
            line=self.line[counted],
            width_ns=self.time_ns[counted] - self.time_ns[previous],
            start_ns=start_ns,
            stop_ns=None,
            efficiency_line=self.last_line(self.kind == _EFFICIENCY),
        )

    def last_line(self, mask: np.ndarray) -> int | None:
        hits = np.flatnonzero(mask)
        return int(self.line[hits[-1]]) if len(hits) else None


def _file_order(records: _Records) -> Counted:
    kind, time_ns = records.kind, records.time_ns
    is_start = kind == _START
    # The start in force at each record: the last one at or above it in the file.
    latest = np.maximum.accumulate(np.where(is_start, np.arange(len(kind)), -1))
    begun = latest >= 0
    start_in_force = np.where(begun, time_ns[np.maximum(latest, 0)], 0)
    real_stops = np.flatnonzero((kind == _STOP) & begun & (time_ns > start_in_force))
    end = int(real_stops[0]) if len(real_stops) else len(kind)
    counted = (kind == _READING) & begun & (np.arange(len(kind)) < end)
    result = records.take(counted, is_start | counted, int(start_in_force[end - 1]))
    ends = [int(time_ns[end])] if len(real_stops) else []
    if len(result.time_ns):
        ends.append(int(result.time_ns.max()))
    early = int(np.count_nonzero((kind == _READING) & ~begun))
    notes = (
        [f"{early} power_reading(s) above the first power_measurement_start are not counted"] if early else []
    )
    if not len(real_stops):
        notes.append(_no_stop_note(records))
    return replace(result, stop_ns=max(ends) if ends else None, notes=notes)


def _sorted_window(records: _Records) -> Counted:
    kind, time_ns = records.kind, records.time_ns
    is_start, is_stop = kind == _START, kind == _STOP
    begun = np.cumsum(is_start) > 0
    stopped_before = (np.cumsum(is_stop) - is_stop) > 0
    counted = (kind == _READING) & begun & ~stopped_before
    result = records.take(counted, is_start | counted, int(time_ns[np.flatnonzero(is_start)[-1]]))
    stops = np.flatnonzero(is_stop)
    if len(stops):
        return replace(result, stop_ns=int(time_ns[stops[-1]]))
    last = int(result.time_ns.max()) if len(result.time_ns) else None
    return replace(result, stop_ns=last, notes=[_no_stop_note(records)])


def _measured(records: _Records) -> Counted:
    kind, time_ns = records.kind, records.time_ns
    start_ns = int(time_ns[kind == _START].min())
    stops = time_ns[kind == _STOP]
    real_stop = int(stops.max()) if len(stops) and stops.max() > start_ns else None
    counted = (kind == _READING) & (time_ns >= start_ns)
    if real_stop is not None:
        counted &= time_ns <= real_stop
    times = time_ns[counted]
    ends = [real_stop] if real_stop is not None else []
    if len(times):
        ends.append(int(times[-1]))
    return Counted(
        time_ns=times,
        watts=records.watts[counted],
        line=records.line[counted],
        # Only the earliest start anchors: what the meter read is one interval, whatever the markers say.
        width_ns=np.diff(times, prepend=np.int64(start_ns)),
        start_ns=start_ns,
        stop_ns=max(ends) if ends else None,
        efficiency_line=records.last_line(kind == _EFFICIENCY),
        notes=[] if real_stop is not None else [_no_stop_note(records)],
    )


def _no_stop_note(records: _Records) -> str:
    return _stop_note(missing=not np.any(records.kind == _STOP))


def _stop_note(missing: bool) -> str:
    reason = "missing" if missing else "not after the start"
    return f"power_measurement_stop {reason}; the window ends at the last reading"
