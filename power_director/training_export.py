"""A session's recording written as MLPerf Training power logs, which `rules.training` and `power-check` read.

    <out>/power/result_<i>/node_<k>.txt

One node file per analyzer (in configuration order, `node_0` first), or with `per_channel` one per
channel of each multi-channel analyzer. Each file is MLLOG, as `mlperf_logging` writes node logs:
`power_measurement_start`, one `power_reading` (W) per valid sample, `power_measurement_stop`;
`time_ms` is UTC epoch milliseconds. The window is a phase (its mark) or a time range of the
recording `[begin_ns, end_ns]`. For a phase the measurement starts one sampling interval before the
first sample (a PTD sample is the mean over the interval before its time stamp, and the training
rule integrates each reading backwards to the previous one) and stops at the last sample; for a
range it starts and stops at the range's ends. Sentinel samples (-1, -2) are not readings: they are
left out and counted, so the backward rectangle of the next reading spans the gap.

An analyzer with a calibration correction (the session's certificate, see `calibration`, or one
given to the export) is written on the reference's scale, its total only (an offset cannot be shared
out among channels); its `power_measurement_start` says so in its metadata, with `accuracy`, the
corrected watts' stated relative accuracy, which `power-check` takes as that node's meter accuracy.

The training checker scores a run against its `result_<i>.txt` (run_start/run_stop), which the
training job writes, not the director; put it next to `power/`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np

from analyzers.formats.mlperf_layout import POWER_DIR
from analyzers.formats.units import NS_PER_MS
from analyzers.trace import Trace
from power_director.calibration import corrected_chunks
from power_director.session_store import StoredSession
from power_director.storage import RecordingReader, recording_path
from rules.calibration.certificate import Correction

_HEAD = ':::MLLOG {"namespace": "", "time_ms": '
_MIDDLE = ', "event_type": "POINT_IN_TIME", "key": "power_reading", "value": '
_TAIL = ', "metadata": ""}\n'


class ExportError(ValueError):
    """Nothing to export, or a bad window; the message is one sentence naming the session folder."""


@dataclass
class ExportResult:
    files: list[Path] = field(default_factory=list)
    readings: int = 0
    skipped: int = 0  # sentinel samples left out
    corrected: list[str] = field(default_factory=list)  # the analyzers written corrected


def _marker(key: str, event: str, time_ms: int, correction: Correction | None = None) -> str:
    metadata: dict[str, object] = {"source": "joulebench power-director"}
    if correction is not None and key == "power_measurement_start":
        metadata["accuracy"] = correction.relative_bound
        metadata["calibration"] = {
            "certificate": correction.certificate,
            "certified_source": correction.source,
            "gain": correction.gain,
            "offset_w": correction.offset_w,
        }
    return (
        f'{_HEAD}{time_ms}, "event_type": "{event}", "key": "{key}", "value": null, '
        f'"metadata": {json.dumps(metadata)}}}\n'
    )


def _reading_lines(time_ns: np.ndarray, watts: np.ndarray) -> str:
    if not len(time_ns):
        return ""
    times = np.char.mod("%d", time_ns // NS_PER_MS)
    values = np.char.mod("%.6f", watts)
    return "".join(np.char.add(np.char.add(np.char.add(np.char.add(_HEAD, times), _MIDDLE), values), _TAIL))


def _window(
    chunks: Iterator[Trace], mark: str | None, begin_ns: int | None, end_ns: int | None
) -> Iterator[Trace]:
    for chunk in chunks:
        part = chunk.with_mark(mark) if mark is not None else chunk
        if begin_ns is not None and end_ns is not None:
            part = part.take((part.time_ns >= begin_ns) & (part.time_ns <= end_ns))
        if len(part):
            yield part


def _columns(chunk: Trace, channel: int | None) -> tuple[np.ndarray, np.ndarray, int]:
    """(times, watts, sentinels skipped) of the total (`channel` None) or one channel (1-based)."""
    if channel is None:
        valid = chunk.valid_mask()
        watts = chunk.watts
    else:
        block = chunk.channels[channel - 1]
        valid = (block.flags == 0) & np.isfinite(block.watts)
        watts = block.watts
    return chunk.time_ns[valid], watts[valid], int((~valid).sum())


@dataclass(frozen=True)
class ExportWindow:
    """Which samples one export writes: a phase (its PTD mark) or a time range, as which run index."""

    mark: str | None = None
    begin_ns: int | None = None
    end_ns: int | None = None
    result_index: int = 1
    per_channel: bool = False

    @classmethod
    def of(
        cls,
        record: StoredSession,
        mode: str,
        begin_ns: int | None = None,
        end_ns: int | None = None,
        result_index: int = 1,
        per_channel: bool = False,
    ) -> ExportWindow:
        """The window a request names: the range when it gives one, else the phase `mode`, which
        must have been recorded (NoSuchRun)."""
        ranged = begin_ns is not None or end_ns is not None
        if not ranged and mode not in record.phases:
            raise NoSuchRun(f"{record.folder}: the session has no {mode} run", mode)
        mark = None if ranged else record.phases[mode]
        return cls(mark, begin_ns, end_ns, result_index, per_channel)


class NoSuchRun(ExportError):
    def __init__(self, message: str, mode: str) -> None:
        super().__init__(message)
        self.mode = mode


def export_training(
    record: StoredSession,
    out: Path,
    window: ExportWindow,
    corrections: Mapping[str, Correction] | None = None,
) -> ExportResult:
    """Write the node logs of one run, `corrections` (analyzer -> correction) applied; raises
    ExportError when the window holds no sample."""
    session_folder, interval_ms = record.folder, record.interval_ms
    mark, begin_ns, end_ns = window.mark, window.begin_ns, window.end_ns
    if (begin_ns is None) != (end_ns is None):
        raise ExportError(f"{session_folder}: a time range needs both begin_ns and end_ns")
    if begin_ns is not None and end_ns is not None and end_ns <= begin_ns:
        raise ExportError(f"{session_folder}: the time range ends before it begins")
    run_dir = out / POWER_DIR / f"result_{window.result_index}"
    result = ExportResult()
    node = 0
    corrections = corrections or {}
    for analyzer in record.analyzers:
        path = recording_path(session_folder, analyzer)
        correction = corrections.get(analyzer)

        def chunks(path: Path = path, correction: Correction | None = correction) -> Iterator[Trace]:
            raw = RecordingReader(path).chunks()
            return _window(corrected_chunks(raw, correction) if correction else raw, mark, begin_ns, end_ns)

        first = next(chunks(), None)
        if first is None:
            continue
        if correction is not None:
            result.corrected.append(analyzer)
        channels: list[int | None] = (
            list(range(1, first.channel_count + 1)) if window.per_channel and first.channel_count else [None]
        )
        for channel in channels:
            run_dir.mkdir(parents=True, exist_ok=True)
            target = run_dir / f"node_{node}.txt"
            with target.open("w", encoding="utf-8") as handle:
                readings, skipped = _write_node(
                    handle, chunks(), channel, interval_ms, begin_ns, end_ns, correction
                )
            result.files.append(target)
            result.readings += readings
            result.skipped += skipped
            node += 1
    if not result.files:
        where = f"phase mark {mark!r}" if mark is not None else f"the range {begin_ns}..{end_ns} ns"
        raise ExportError(f"{session_folder}: no recorded sample in {where}")
    return result


def _write_node(
    handle: TextIO,
    chunks: Iterator[Trace],
    channel: int | None,
    interval_ms: int,
    begin_ns: int | None,
    end_ns: int | None,
    correction: Correction | None = None,
) -> tuple[int, int]:
    readings = skipped = 0
    last_ns: int | None = None
    started = False
    for chunk in chunks:
        if not started:
            start_ns = begin_ns if begin_ns is not None else int(chunk.time_ns[0]) - interval_ms * NS_PER_MS
            handle.write(
                _marker("power_measurement_start", "INTERVAL_START", start_ns // NS_PER_MS, correction)
            )
            started = True
        times, watts, bad = _columns(chunk, channel)
        handle.write(_reading_lines(times, watts))
        readings += len(times)
        skipped += bad
        last_ns = int(chunk.time_ns[-1])
    stop_ns = end_ns if end_ns is not None else last_ns
    if stop_ns is not None:
        handle.write(_marker("power_measurement_stop", "INTERVAL_END", stop_ns // NS_PER_MS))
    return readings, skipped
