"""The daemon's request vocabulary: its settings, its replies, and the checks of a request's arguments."""

from __future__ import annotations

import math
from dataclasses import dataclass

from analyzers.base import AUTO, RangeRequest
from analyzers.formats.sample_layout import NOT_SET_MARK
from analyzers.ptd import wire
from analyzers.ptd.daemon.logs import ConsoleRecord
from analyzers.ptd.identity import DEFAULT_INTERVAL_MS


@dataclass(frozen=True)
class DaemonConfig:
    """How the daemon presents the meter.

    `first_channel` is PTD's start channel (`-c a,b`): channel `first_channel + i` is the driver's
    channel `i + 1`. `dc` makes the daemon answer like a DC PTD (`RL` unknown, `DC-RL` works).
    `idle_interval_ms` None turns off sampling between measurements.
    """

    first_channel: int = 1
    dc: bool = False
    idle_interval_ms: int | None = DEFAULT_INTERVAL_MS
    uncertainty_limit: float = 0.01


@dataclass(frozen=True)
class Reply:
    """One reply line, plus the sample lines of an `RL` reply as ready-to-send bytes."""

    text: str
    body: bytes = b""

    def payload(self) -> bytes:
        return (self.text + wire.LINE_END).encode("ascii", "replace") + self.body

    def lines(self) -> list[str]:
        return [self.text, *self.body.decode("ascii").splitlines()]


class RequestError(Exception):
    """A request we answer with an error reply; the message is the reply."""


def parse_whole(text: str, what: str, minimum: int) -> int:
    if not text.isdigit():
        raise RequestError(f"Error: {what} must be a whole number, got {text!r}")
    value = int(text)
    if value < minimum:
        raise RequestError(f"Error: {what} must be at least {minimum}, got {value}")
    return value


def parse_range_value(text: str) -> RangeRequest:
    if text.lower() == "auto":
        return AUTO
    try:
        value = float(text)
    except ValueError:
        raise RequestError(f"Error: range must be a number or Auto, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise RequestError(f"Error: range must be positive, got {text!r}")
    return value


def parse_go(args: tuple[str, ...], min_interval_s: float, model: str) -> tuple[int, int, str]:
    """`Go,<interval_ms>,<count>[,<mark>]` -> (interval ms, sample count, mark)."""
    if len(args) not in (2, 3):
        raise RequestError(wire.INVALID_PARAMETER_COUNT)
    interval_ms = parse_whole(args[0], "interval", minimum=0)
    count = parse_whole(args[1], "sample count", minimum=0)
    if interval_ms == 0:
        interval_ms = DEFAULT_INTERVAL_MS  # SPEC tools send Go,0,0 for "the meter's default"
    minimum_ms = max(1, math.ceil(min_interval_s * 1000 - 1e-9))
    if interval_ms < minimum_ms:
        raise RequestError(f"Error: interval {interval_ms}ms is below {model}'s minimum of {minimum_ms}ms")
    mark = args[2] if len(args) == 3 and args[2] else NOT_SET_MARK
    return interval_ms, count, mark


def driver_channel(text: str, first_channel: int, channel_count: int) -> int | None:
    """PTD channel number -> driver channel (1-based), or None for the sum / `*` (and on a meter of
    one channel, which has only the sum)."""
    if text == "*":
        return None
    try:
        number = int(text)
    except ValueError:
        raise RequestError(wire.INVALID_CHANNEL) from None
    channel = number - first_channel + 1
    if not 1 <= channel <= channel_count:
        raise RequestError(wire.INVALID_CHANNEL)
    return channel if channel_count > 1 else None


def parse_set_range(args: tuple[str, ...]) -> tuple[str, RangeRequest, str | None]:
    """`SR,<V|A>,<value|Auto>[,<channel>]` -> (quantity, value, the channel's text if given)."""
    if len(args) not in (2, 3):
        raise RequestError(wire.INVALID_PARAMETER_COUNT)
    quantity = args[0].upper()
    if quantity not in ("V", "A"):
        raise RequestError(f"Error: unknown range quantity {args[0]!r}, expected V or A")
    return quantity, parse_range_value(args[1]), args[2] if len(args) == 3 else None


def range_message(quantity: str, value: RangeRequest) -> str:
    """PTD's console line for a range change."""
    if value == AUTO:
        return "Volt range set to Auto" if quantity == "V" else "Ampere range set to Auto"
    return f"Volt range set to {value:.6f}V" if quantity == "V" else f"Amp range set to {value:.6f}A"


def reply_or_none(line: str | None) -> Reply | None:
    return Reply(line) if line is not None else None


def console_reply(record: ConsoleRecord | None, request: wire.Request) -> Reply:
    """`JB-Console,<which>`: lines of the daemon's console record (for a director on another host)."""
    if record is None:
        return Reply(wire.UNKNOWN_COMMAND)  # a daemon that keeps no console record (in-process)
    if len(request.args) != 1:
        raise RequestError(wire.INVALID_PARAMETER_COUNT)
    which = request.args[0].lower()
    if which == "preamble":
        first: int | str = "preamble"
        lines = record.preamble()
    elif which == "end":
        first, lines = record.next_index, []
    elif which == "connection":
        first, lines = record.since(record.connection_index)
    elif which.isdigit():
        first, lines = record.since(int(which))
    else:
        raise RequestError(f"Error: {wire.CONSOLE_COMMAND} takes preamble, end, connection or a line number")
    body = "".join(line.replace("\r", " ") + wire.LINE_END for line in lines)
    return Reply(wire.console_header(first, len(lines)), body.encode("ascii", "replace"))
