"""PTD wire vocabulary shared by the daemon and the client: requests, literal replies, reply lines.

Everything here is a pure function of strings and numbers (PTD_AND_MLPERF_POWER.md §1). Literals marked
"inferred" are not in any public log we have; the others are copied from real PTDaemon replies.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from analyzers.base import MeasurementStats, Ranges, RangeSetting

LINE_END = "\r\n"
DEFAULT_PORT = 8888
MAX_REQUEST_BYTES = 4096
"""Longest request line we read; PTD requests are a few dozen bytes."""

HELLO_REPLY = "Hello, PTDaemon here!"
RANGE_V_CHANGED = "Range V changed"
RANGE_A_CHANGED = "Range A changed"
STOPPING_UNTIMED = "Stopping untimed measurement"
STOPPING_TIMED = "Stopping timed measurement"  # inferred
NO_MEASUREMENT_TO_STOP = "Error: no measurement to stop"
INVALID_PARAMETER_COUNT = "Invalid number of parameters"
UNKNOWN_COMMAND = "Unknown command"
METER_BUSY = "Meter busy"
INVALID_CHANNEL = "Invalid channel"
MARK_CHANGED = "Mark changed"  # inferred
RESET_DONE = "Measurement reset"  # inferred
UNTIMED_MAX_SAMPLES_AT_1S = 500_000
"""PTD's stated maximum for `Go,1000,0`; our maximum for other intervals keeps the same duration."""
MAX_BUFFERED_SAMPLES = 2_000_000
"""Memory bound of one measurement's sample buffer (about 400 MB with three channels)."""


@dataclass(frozen=True)
class Request:
    """One request line split at commas; `command` keeps PTD's case (`Go`, `SR`, `RL`)."""

    command: str
    args: tuple[str, ...]
    raw: str


def parse_request(line: str) -> Request:
    """Split a request line (with or without its line end) into command and arguments."""
    raw = line.rstrip("\r\n")
    fields = [field.strip() for field in raw.split(",")]
    return Request(command=fields[0], args=tuple(fields[1:]), raw=raw)


def max_untimed_samples(interval_ms: int) -> int:
    """The `maximum N samples` of an untimed measurement at `interval_ms`."""
    return max(1, min(UNTIMED_MAX_SAMPLES_AT_1S * 1000 // interval_ms, MAX_BUFFERED_SAMPLES))


def go_reply(interval_ms: int, count: int) -> str:
    if count == 0:
        return (
            f"Starting untimed measurement, maximum {max_untimed_samples(interval_ms)} samples "
            f"at {interval_ms}ms with 0 rampup samples"
        )
    return f"Starting timed measurement, {count} samples at {interval_ms}ms with 0 rampup samples"  # inferred


def rl_header(count: int) -> str:
    """First line of an `RL` reply; `count` sample lines follow."""
    return f"Last {count} samples"


def parse_rl_header(line: str) -> int:
    """The sample count of an `RL` header; raises ValueError if the line is not one."""
    words = line.strip().split(" ")
    if len(words) != 3 or words[0] != "Last" or not words[2].startswith("sample"):
        raise ValueError(f"not an RL header: {line!r}")
    return int(words[1])


CONSOLE_COMMAND = "JB-Console"
"""joulebench's extension: the daemon's console lines, for a director on another host.

`JB-Console,preamble` (banner to listening), `JB-Console,end` (just the position),
`JB-Console,connection` (the lines since the current client was accepted), `JB-Console,<n>` (the
lines from number n on that the daemon still keeps). Reply `Console,<first>,<count>` (first is
`preamble` for the preamble), then `count` lines. SPEC PTDaemon answers `Unknown command`."""


def console_header(first: int | str, count: int) -> str:
    return f"Console,{first},{count}"


def parse_console_header(line: str) -> tuple[str, int]:
    """(first, count) of a `JB-Console` header; raises ValueError if the line is not one."""
    fields = line.strip().split(",")
    if len(fields) != 3 or fields[0] != "Console" or not fields[2].isdigit():
        raise ValueError(f"not a console header: {line!r}")
    if fields[1] != "preamble" and not fields[1].isdigit():
        raise ValueError(f"not a console header: {line!r}")
    return fields[1], int(fields[2])


def _fixed6(value: float | None) -> str:
    """PTD prints a quantity with six decimals and `-1` for unknown."""
    if value is None or not math.isfinite(value):
        return "-1.000000"
    return f"{value:.6f}"


def _autorange_flag(auto: bool | None) -> str:
    return "-1" if auto is None else str(int(auto))


def ranges_reply(per_channel: Sequence[Ranges]) -> str:
    """`Ranges,<AmpAuto>,<AmpRange>,<VoltAuto>,<VoltRange>`, one 4-tuple per entry (sum channel first)."""
    fields = ["Ranges"]
    for ranges in per_channel:
        fields += [
            _autorange_flag(ranges.amps.auto),
            _fixed6(ranges.amps.value),
            _autorange_flag(ranges.volts.auto),
            _fixed6(ranges.volts.value),
        ]
    return ",".join(fields)


UNKNOWN_RANGES = Ranges(volts=RangeSetting(None, None), amps=RangeSetting(None, None))


def parse_ranges_reply(line: str) -> list[Ranges]:
    """Inverse of `ranges_reply`: `-1` flags and ranges become None."""
    fields = line.strip().split(",")
    if fields[0] != "Ranges" or len(fields) < 5 or (len(fields) - 1) % 4:
        raise ValueError(f"not a Ranges reply: {line!r}")

    def setting(flag: str, value: str) -> RangeSetting:
        number = float(value)
        return RangeSetting(value=None if number < 0 else number, auto=None if flag == "-1" else flag == "1")

    values = fields[1:]
    return [
        Ranges(amps=setting(values[i], values[i + 1]), volts=setting(values[i + 2], values[i + 3]))
        for i in range(0, len(values), 4)
    ]


def watts_fields(stats: MeasurementStats) -> list[str]:
    return [
        _fixed6(stats.avg_power_w),
        _fixed6(stats.min_power_w),
        _fixed6(stats.max_power_w),
        str(stats.samples),
        str(stats.errors),
        str(stats.valid),
    ]


def uncertainty_fields(stats: MeasurementStats) -> list[str]:
    total = stats.uncertainty_invalid + stats.uncertainty_valid + stats.uncertainty_unknown
    return [
        _fixed6(stats.uncertainty_avg),
        _fixed6(stats.uncertainty_min),
        _fixed6(stats.uncertainty_max),
        str(total),
        str(stats.uncertainty_invalid),
        str(stats.uncertainty_valid),
        str(stats.uncertainty_unknown),
    ]


def watts_reply(per_channel: Sequence[MeasurementStats]) -> str:
    """`Watts,<avg>,<min>,<max>,<samples>,<errors>,<valid>` per entry (total first)."""
    return ",".join(["Watts", *(f for stats in per_channel for f in watts_fields(stats))])


def uncertainty_reply(per_channel: Sequence[MeasurementStats]) -> str:
    """`Uncertainty,<avg>,<min>,<max>,<total>,<invalid>,<valid>,<unknown>` per entry (total first)."""
    return ",".join(["Uncertainty", *(f for stats in per_channel for f in uncertainty_fields(stats))])


def stop_summary(stats: MeasurementStats) -> str:
    """The console line PTD writes after `Completed test`."""
    return (
        f"Avg watts {_fixed6(stats.avg_power_w)}, min watts {_fixed6(stats.min_power_w)}, "
        f"max watts {_fixed6(stats.max_power_w)}, samples {stats.samples}, errors {stats.errors}, "
        f"valid {stats.valid}"
    )


@dataclass(frozen=True)
class Identification:
    """The fields of an `Identify` reply a client relies on."""

    model: str
    interval_ms: int
    version: str
    channels: int
    line: str


def parse_identify_reply(line: str) -> Identification:
    """Model (field 0), interval, version (`version=X.Y.Z-...` up to the first `-`), channel count."""
    fields = line.strip().split(",")
    version_field = next((f for f in fields if f.startswith("version=")), None)
    if len(fields) < 15 or version_field is None:
        raise ValueError(f"not an Identify reply: {line!r}")
    position = fields.index(version_field)
    # `OS=` may itself contain commas in theory; anchor the trailing fields on `mode=`.
    mode = next((i for i in range(position, len(fields)) if fields[i].startswith("mode=")), position + 2)
    channels_field = fields[mode + 3] if len(fields) > mode + 3 else "1"
    return Identification(
        model=fields[0],
        interval_ms=int(fields[1]),
        version=version_field.removeprefix("version=").split("-")[0],
        channels=int(channels_field) if channels_field.isdigit() else 1,
        line=line.strip(),
    )
