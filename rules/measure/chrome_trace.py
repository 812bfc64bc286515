"""A profiler trace in the Chrome trace event format, as columns on the epoch clock.

What PyTorch's `export_chrome_trace` writes (Kineto), and any other producer of the format: a JSON
object with `traceEvents` (or a bare JSON array of events), optionally gzip-compressed. Complete
events (`"ph": "X"`) carry `name`, `cat`, `pid`, `tid`, `ts` and `dur` in microseconds (floats);
other phases (metadata, counters, flows, instants) are not ranges and are skipped. `torch` is not
needed to read it.

The clock: Kineto writes `baseTimeNanoseconds`, and an event's epoch time is that plus `ts` × 1000
(PyTorch ≥ 2.0). Without it, `ts` is taken as epoch microseconds when it reads as a date after
2001; otherwise the caller gives the offset, or a mark both traces share (`align_to`: the profile's
first event of that name starts when the power folder's mark of that label was stamped).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rules.errors import InputError

_EPOCH_US_AFTER = 1e15  # 2001-09-09 in µs: a `ts` this large is an epoch time, not one since the start


@dataclass(frozen=True)
class ProfileEvents:
    """Complete events, sorted by start: times in epoch ns, names and categories as codes."""

    start_ns: np.ndarray  # int64
    end_ns: np.ndarray  # int64
    name_codes: np.ndarray  # int32 into `names`
    names: tuple[str, ...]
    categories: tuple[str, ...]  # per event
    threads: np.ndarray  # int32: one code per (pid, tid)
    clock: str  # how the epoch was found, for the notes

    def __len__(self) -> int:
        return len(self.start_ns)

    def named(self, predicate: Callable[[str], bool]) -> np.ndarray:
        """Indexes of the events whose name satisfies `predicate`."""
        wanted = np.fromiter((predicate(name) for name in self.names), dtype=np.bool_, count=len(self.names))
        return np.flatnonzero(wanted[self.name_codes])

    def in_category(self, *categories: str) -> np.ndarray:
        return np.flatnonzero(np.isin(np.array(self.categories, dtype=object), categories))


def read_chrome_trace(
    path: Path, offset_ns: int | None = None, align_to: tuple[str, int] | None = None
) -> ProfileEvents:
    """The complete events of `path`. `offset_ns`: epoch ns of `ts` = 0 when the trace does not say;
    `align_to`: (event name, epoch ns its first occurrence started), a mark both traces share."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rt", encoding="utf-8") as stream:
                document = json.load(stream)
        else:
            with path.open(encoding="utf-8") as stream:
                document = json.load(stream)
    except (OSError, ValueError, EOFError) as error:
        raise InputError(path, f"not a readable Chrome trace ({error})") from None
    events = document.get("traceEvents") if isinstance(document, dict) else document
    if not isinstance(events, list):
        raise InputError(path, "has no traceEvents list (not a Chrome trace event file)")
    rows = []
    for number, event in enumerate(events):
        if not isinstance(event, dict) or event.get("ph") != "X":
            continue
        try:
            ts, dur = float(event["ts"]), float(event.get("dur", 0.0))
            name = str(event["name"])
        except (KeyError, TypeError, ValueError):
            raise InputError(
                path, f"event {number} is a complete event without a numeric ts/dur or a name"
            ) from None
        if dur < 0:
            raise InputError(path, f"event {number} ({name!r}) has a negative duration")
        rows.append((ts, dur, name, str(event.get("cat", "")), (event.get("pid"), event.get("tid"))))
    if not rows:
        raise InputError(path, 'holds no complete ("ph": "X") events')
    rows.sort(key=lambda row: row[0])
    ts_us = np.array([row[0] for row in rows])
    dur_us = np.array([row[1] for row in rows])
    names = sorted({row[2] for row in rows})
    code_of = {name: code for code, name in enumerate(names)}
    thread_of: dict[object, int] = {}
    threads = np.array([thread_of.setdefault(row[4], len(thread_of)) for row in rows], dtype=np.int32)
    start_rel_ns = np.round(ts_us * 1000).astype(np.int64)
    end_rel_ns = start_rel_ns + np.round(dur_us * 1000).astype(np.int64)
    name_codes = np.array([code_of[row[2]] for row in rows], dtype=np.int32)

    base = document.get("baseTimeNanoseconds") if isinstance(document, dict) else None
    if offset_ns is not None:
        zero, clock = offset_ns, "the offset given"
    elif align_to is not None:
        name, mark_ns = align_to
        if name not in code_of:
            raise InputError(path, f"has no event named {name!r} to align with the mark of that label")
        first = int(np.flatnonzero(name_codes == code_of[name])[0])
        zero, clock = mark_ns - int(start_rel_ns[first]), f"aligned on the mark {name!r}"
    elif isinstance(base, int | float) and base > 0:
        zero, clock = int(base), "baseTimeNanoseconds"
    elif ts_us[0] > _EPOCH_US_AFTER:
        zero, clock = 0, "ts as epoch microseconds"
    else:
        raise InputError(
            path,
            "does not say when ts 0 was (no baseTimeNanoseconds, ts not epoch times): "
            "give an offset or a mark both traces share",
        )
    return ProfileEvents(
        start_ns=start_rel_ns + zero,
        end_ns=end_rel_ns + zero,
        name_codes=name_codes,
        names=tuple(names),
        categories=tuple(row[3] for row in rows),
        threads=threads,
        clock=clock,
    )
