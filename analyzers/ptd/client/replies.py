"""Typed values of the replies a PTD client receives: identity, statistics, refusals, the message record.

Parse at the edge: the client turns every reply line into one of these (or a `PtdReplyError`), so
nothing above it handles raw strings. Field meanings are in PTD_AND_MLPERF_POWER.md §1; the
`Ranges` and `Last N samples` grammars live in `analyzers.ptd.wire`, shared with the daemon.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from analyzers.base import WattsSummary
from analyzers.errors import AnalyzerProtocolError
from analyzers.ptd import wire

# Replies that mean "refused"; PTDaemon starts its error replies with these words.
_REFUSAL_PREFIXES = (
    "error",
    wire.INVALID_PARAMETER_COUNT.lower(),
    wire.UNKNOWN_COMMAND.lower(),
    wire.METER_BUSY.lower(),
    wire.INVALID_CHANNEL.lower(),
)


class PtdReplyError(AnalyzerProtocolError):
    """The daemon refused a request, or answered something that is not the reply it asked for.

    `command` and `reply` are the exchange, so a caller can tell `Invalid number of parameters`
    from `Meter busy` without parsing the message."""

    def __init__(self, device: str, command: str, reply: str, message: str, hint: str = "") -> None:
        self.command = command
        self.reply = reply
        super().__init__(device, message, hint)


def is_refusal(reply: str) -> bool:
    """True for `Error...`, `Invalid number of parameters`, `Unknown command`, `Meter busy`, `Invalid channel`."""
    return reply.strip().lower().startswith(_REFUSAL_PREFIXES)


@dataclass(frozen=True)
class PtdMessage:
    """One request and the first line of its reply, as `server.json` `ptd_messages` lists them, and
    what the exchange did, as the client understood it (for whoever keeps a record: the director's
    console record of a remote daemon, its count of polls)."""

    cmd: str
    reply: str
    read: bool = False
    """A sample read (`RL` in any form, answered or refused)."""
    started: str | None = None
    """The mark of the measurement this exchange started (an accepted `Go`; `notset` without one)."""
    completed: bool = False
    """This exchange ended a measurement (an accepted `Stop`)."""

    def as_json(self) -> dict[str, str]:
        return {"cmd": self.cmd, "reply": self.reply}


@dataclass(frozen=True)
class PtdVersion:
    """`version=<X.Y.Z>-<crc8hex>-<YYYYMMDD>`: release, CRC of the daemon's binary, build date."""

    release: str
    crc: str
    build_date: dt.date | None
    text: str


@dataclass(frozen=True)
class PtdIdentity:
    """Every field of an `Identify` reply.

    `channels` is the number the daemon reports after `mode=`; PTDaemon's meaning of it for a
    multi-channel meter is not documented (a WT330 with `-c 1,3` reported 2), so the analyzer
    trusts the sample lines over it once it has some."""

    model: str
    interval_ms: int
    can_watts: bool
    can_volts: bool
    can_amps: bool
    can_pf: bool
    can_energy: bool
    can_frequency: bool
    is_accepted: bool
    version: PtdVersion
    os: str
    mode: str
    can_uncertainty: bool
    can_set_ranges: bool
    channels: int
    calibration_date: str
    device_id: str
    line: str

    @property
    def vendor(self) -> str:
        return self._device_part(0)

    @property
    def serial(self) -> str:
        return self._device_part(2)

    @property
    def firmware(self) -> str:
        return self._device_part(3)

    def _device_part(self, index: int) -> str:
        """`YOKOGAWA;WT333E;C3VD30030E;F1.04`: vendor, instrument, serial, firmware."""
        parts = self.device_id.split(";")
        return parts[index].strip() if len(parts) > index else ""


def _flag(text: str) -> bool:
    return text.strip() == "1"


def _parse_version(text: str) -> PtdVersion:
    parts = text.split("-")
    build_date = None
    if len(parts) >= 3 and len(parts[2]) == 8 and parts[2].isdigit():
        try:
            build_date = dt.datetime.strptime(parts[2], "%Y%m%d").date()
        except ValueError:
            build_date = None
    return PtdVersion(
        release=parts[0],
        crc=parts[1] if len(parts) > 1 else "",
        build_date=build_date,
        text=text,
    )


def parse_identity(line: str) -> PtdIdentity:
    """An `Identify` reply; ValueError if it does not have PTD's shape.

    `OS=` is free text that may hold commas (a Windows build string), so the fields after it are
    counted from `mode=`."""
    basic = wire.parse_identify_reply(line)  # validates the shape, finds model/interval/version
    fields = line.strip().split(",")
    position = next(i for i, f in enumerate(fields) if f.startswith("version="))
    mode_index = next((i for i in range(position, len(fields)) if fields[i].startswith("mode=")), None)
    if mode_index is None or position < 9:
        raise ValueError(f"not an Identify reply (no mode= after version=): {line!r}")
    after = fields[mode_index + 1 :]
    while len(after) < 7:  # accuracy, rangeset, channels, two reserved, cal date, device
        after.append("")
    return PtdIdentity(
        model=basic.model,
        interval_ms=basic.interval_ms,
        can_watts=_flag(fields[2]),
        can_volts=_flag(fields[3]),
        can_amps=_flag(fields[4]),
        can_pf=_flag(fields[5]),
        can_energy=_flag(fields[6]),
        can_frequency=_flag(fields[7]),
        is_accepted=_flag(fields[8]),
        version=_parse_version(fields[position].removeprefix("version=")),
        os=",".join(fields[position + 1 : mode_index]).removeprefix("OS="),
        mode=fields[mode_index].removeprefix("mode="),
        can_uncertainty=_flag(after[0]),
        can_set_ranges=_flag(after[1]),
        channels=basic.channels,
        calibration_date=after[5],
        device_id=",".join(after[6:]).strip(","),
        line=line.strip(),
    )


@dataclass(frozen=True)
class UncertaintySummary:
    """One entry of an `Uncertainty` reply: `<avg>,<min>,<max>,<total>,<invalid>,<valid>,<unknown>`.

    Uncertainties are fractions (0.006264 = 0.63 %), NaN where PTD printed -1."""

    avg: float
    min: float
    max: float
    total: int
    invalid: int
    valid: int
    unknown: int

    def stats_fields(self) -> dict[str, Any]:
        """Its figures under the names `MeasurementStats` gives them (`total` is the Watts samples)."""
        return {
            "uncertainty_avg": self.avg,
            "uncertainty_min": self.min,
            "uncertainty_max": self.max,
            "uncertainty_invalid": self.invalid,
            "uncertainty_valid": self.valid,
            "uncertainty_unknown": self.unknown,
        }


def _number(text: str) -> float:
    value = float(text)
    return math.nan if value == -1.0 else value


def _whole(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(f"negative count {text!r}")
    return value


def _entries(line: str, label: str, width: int) -> list[list[str]]:
    fields = line.strip().split(",")
    if fields[0] != label or len(fields) < 1 + width or (len(fields) - 1) % width:
        raise ValueError(f"not a {label} reply: {line!r}")
    values = fields[1:]
    return [values[i : i + width] for i in range(0, len(values), width)]


def parse_watts_reply(line: str) -> list[WattsSummary]:
    """Total first, then one entry per channel (for `Watts,*`); ValueError if malformed."""
    return [
        WattsSummary(_number(a), _number(lo), _number(hi), _whole(n), _whole(e), _whole(v))
        for a, lo, hi, n, e, v in _entries(line, "Watts", 6)
    ]


def parse_uncertainty_reply(line: str) -> list[UncertaintySummary]:
    """Total first, then one 7-tuple per channel (for `Uncertainty,*`); ValueError if malformed."""
    return [
        UncertaintySummary(_number(a), _number(lo), _number(hi), _whole(t), _whole(i), _whole(v), _whole(u))
        for a, lo, hi, t, i, v, u in _entries(line, "Uncertainty", 7)
    ]
