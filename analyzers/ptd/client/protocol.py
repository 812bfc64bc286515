"""`PtdClient`: drive a SPEC PTDaemon (or ours) over TCP, surviving its known faults.

- Connects with retries until `ConnectPolicy.connect_timeout_s` (PTDaemon over USB may need ~20 s
  before it listens) and checks the greeting (`Hello` -> `Hello, PTDaemon here!`).
- Every request has a timeout. After a timeout or a dropped connection the socket is discarded (a
  late reply would otherwise answer the next request) and the next request reconnects. Requests
  that change nothing (`Hello`, `Identify`, `RR`, `Watts`, `Uncertainty`, `R*`) are re-sent once
  on a fresh connection; the others (`Go`, `Stop`, `SR`, `Mark`, `RL`...) are not, because whether
  the daemon acted on them is unknown, and the error says so.
- Reads samples with `RL,*,*`, falling back to `RL` and then `DC-RL` on a refusal, and remembers
  which form worked. A connection lost in the middle of an `RL` body raises `SamplesLost`, which
  carries the complete sample lines received and how many were announced but never arrived.
- Records every completed exchange `{cmd, reply}` in order (`messages`), as `server.json`
  `ptd_messages` lists them; for `RL` the reply recorded is its header line.

Thread-safe: one lock serialises exchanges.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from analyzers.base import AUTO, RangeRequest, Ranges
from analyzers.errors import AnalyzerConnectionError, AnalyzerStateError
from analyzers.formats.sample_layout import NOT_SET_MARK
from analyzers.formats.sample_reply import decode_sample_lines
from analyzers.ptd import wire
from analyzers.ptd.client.record import ExchangeRecord
from analyzers.ptd.client.replies import (
    PtdIdentity,
    PtdMessage,
    PtdReplyError,
    UncertaintySummary,
    WattsSummary,
    is_refusal,
    parse_identity,
    parse_uncertainty_reply,
    parse_watts_reply,
)
from analyzers.ptd.client.transport import (
    ConnectionLost,
    ConnectPolicy,
    DaemonUnreachable,
    LineConnection,
    ReplyTimeout,
    connect_with_retries,
)
from analyzers.trace import Trace

_Summary = TypeVar("_Summary", WattsSummary, UncertaintySummary)

RL_FORMS = ("RL,*,*", "RL", "DC-RL")
"""The reference director's order: every channel, then the sum only, then a DC meter's command."""
_SAFE_TO_RESEND = frozenset({"HELLO", "IDENTIFY", "RR", "WATTS", "UNCERTAINTY"})


def _safe_to_resend(command: str) -> bool:
    name = command.split(",", 1)[0].strip().upper()
    if name in _SAFE_TO_RESEND:
        return True
    # `R*` current readings (`RW`, `RV`...), but not `RL` (it consumes samples) nor `Reset`.
    return name.startswith("R") and 2 <= len(name) <= 3 and name != "RL" and "," not in command


class SamplesLost(AnalyzerConnectionError):
    """The connection dropped inside an `RL` reply.

    `received` holds the complete sample lines that arrived; `lost` is how many more the header
    announced. The daemon counts all of them as read, so `lost` samples cannot be fetched again."""

    def __init__(self, device: str, message: str, received: Trace, lost: int) -> None:
        self.received = received
        self.lost = lost
        super().__init__(device, message, "the daemon counts them as read; they are gone")


@dataclass(frozen=True)
class ConnectionEvent:
    """A connect or reconnect: when (monotonic s), how many attempts, and why it was needed."""

    at_s: float
    attempts: int
    reason: str


class PtdClient:
    """A PTD protocol client for one daemon at `host:port`."""

    def __init__(
        self,
        host: str,
        port: int,
        policy: ConnectPolicy | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        still_worth_trying: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.host = host
        self.port = port
        self.peer = f"{host}:{port}"
        self.policy = policy or ConnectPolicy()
        self._monotonic = monotonic
        self._sleep = sleep
        self._still_worth_trying = still_worth_trying
        self._lock = threading.RLock()
        self._connection: LineConnection | None = None
        self._rl_form: str | None = None
        self._pending_reason = "first connection"
        self.record = ExchangeRecord()
        """Every completed exchange, in order, and what it did."""
        self.connections: list[ConnectionEvent] = []
        self.unreachable: DaemonUnreachable | None = None
        """The last connect's failure after every retry (None once one succeeds)."""

    # -- connection -----------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connection is not None

    def connect(self) -> None:
        """Connect (with retries) and greet, unless already connected."""
        with self._lock:
            if self._connection is None:
                self._open()

    def _open(self) -> LineConnection:
        try:
            sock, attempts = connect_with_retries(
                self.host,
                self.port,
                self.policy,
                monotonic=self._monotonic,
                sleep=self._sleep,
                still_worth_trying=self._still_worth_trying,
            )
        except DaemonUnreachable as error:
            self.unreachable = error
            raise
        self.unreachable = None
        connection = LineConnection(sock, self.peer, self.policy.command_timeout_s)
        self.connections.append(ConnectionEvent(self._monotonic(), attempts, self._pending_reason))
        try:
            connection.send_line("Hello")
            greeting = connection.read_line("Hello")
        except AnalyzerConnectionError:
            connection.close()
            raise
        self.record.add(PtdMessage("Hello", greeting))
        if greeting != wire.HELLO_REPLY:
            connection.close()
            raise PtdReplyError(
                self.peer,
                "Hello",
                greeting,
                f"not a PTD daemon: it answered Hello with {greeting[:80]!r}",
                f"expected {wire.HELLO_REPLY!r}; check host and port",
            )
        self._connection = connection
        return connection

    def _drop(self, reason: str) -> None:
        """Discard the connection: after a timeout a late reply would answer the next request."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self._pending_reason = reason

    def close(self) -> None:
        with self._lock:
            self._drop("closed by the client")

    def set_policy(self, policy: ConnectPolicy) -> None:
        """Timeouts from now on, for the open connection too."""
        with self._lock:
            self.policy = policy
            if self._connection is not None:
                self._connection.command_timeout_s = policy.command_timeout_s

    def interrupt(self, policy: ConnectPolicy | None = None) -> None:
        """From another thread, without waiting for the exchange in progress: end it now (it fails
        as a lost connection) and, with `policy`, reconnect and wait only that long from here on."""
        if policy is not None:
            self.policy = policy
        connection = self._connection
        if connection is not None:
            connection.interrupt()

    def __enter__(self) -> PtdClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- raw exchanges --------------------------------------------------------------------------

    def request(self, command: str, record: bool = True) -> str:
        """Send `command`, return its one-line reply (refusals included), record the exchange
        (unless `record` is False: joulebench's own extensions are not PTD's exchange).

        Reconnects first if needed; re-sends once on a fresh connection only when the command is
        safe to repeat. Raises AnalyzerConnectionError naming the peer otherwise."""
        with self._lock:
            for attempt in (1, 2):
                connection = self._connection or self._open()
                try:
                    connection.send_line(command)
                    reply = connection.read_line(command)
                except (ConnectionLost, ReplyTimeout) as error:
                    self._drop(f"'{command}' failed: {error.message}")
                    if attempt == 1 and _safe_to_resend(command):
                        continue
                    if _safe_to_resend(command):
                        raise
                    raise type(error)(
                        self.peer, f"{error.message}; whether the daemon acted on '{command}' is unknown"
                    ) from error
                if record:
                    self.record.add(PtdMessage(command, reply, read=command in RL_FORMS))
                return reply
        raise AssertionError("unreachable")  # pragma: no cover

    def expect(self, command: str, accept: Callable[[str], bool], what: str) -> str:
        """`request`, raising PtdReplyError unless `accept(reply)`; `what` describes the expected reply."""
        reply = self.request(command)
        if is_refusal(reply):
            raise PtdReplyError(self.peer, command, reply, f"'{command}' was refused: {reply}")
        if not accept(reply):
            raise PtdReplyError(
                self.peer, command, reply, f"'{command}' answered {reply[:120]!r}, expected {what}"
            )
        return reply

    def messages_json(self) -> list[dict[str, str]]:
        """The exchanges in order, shaped as `server.json` `ptd_messages`."""
        return self.record.as_json()

    # -- typed commands -------------------------------------------------------------------------

    def identify(self) -> PtdIdentity:
        reply = self.expect("Identify", lambda r: r.count(",") >= 14 and "version=" in r, "an Identify line")
        try:
            return parse_identity(reply)
        except ValueError as error:
            raise PtdReplyError(
                self.peer, "Identify", reply, f"cannot parse the Identify reply: {error}"
            ) from None

    def read_ranges(self, channel: str | None = None) -> list[Ranges]:
        """`RR` (or `RR,<channel>`, `RR,*`): one `Ranges` per 4-tuple, sum channel first."""
        command = "RR" if channel is None else f"RR,{channel}"
        reply = self.expect(command, lambda r: r.startswith("Ranges,"), "a Ranges line")
        try:
            return wire.parse_ranges_reply(reply)
        except ValueError as error:
            raise PtdReplyError(self.peer, command, reply, f"cannot parse the reply: {error}") from None

    def set_range(self, quantity: str, value: RangeRequest, channel: int | None = None) -> None:
        """`SR,V|A,<value|Auto>[,<channel>]`; the value is printed with six decimals, as the reference does."""
        if quantity not in ("V", "A"):
            raise ValueError(f"range quantity must be V or A, got {quantity!r}")
        if value == AUTO:
            text = "Auto"
        elif isinstance(value, float | int) and math.isfinite(value) and value > 0:
            text = f"{value:.6f}"
        else:
            raise ValueError(f"a range is a positive number or AUTO, got {value!r}")
        command = f"SR,{quantity},{text}" + ("" if channel is None else f",{channel}")
        expected = wire.RANGE_V_CHANGED if quantity == "V" else wire.RANGE_A_CHANGED
        self.expect(command, lambda r: r == expected, repr(expected))

    def go(self, interval_ms: int, count: int = 0, mark: str = "") -> str:
        """`Go,<interval_ms>,<count>[,<mark>]`; returns PTD's `Starting ... measurement ...` reply."""
        if "," in mark or "\n" in mark or "\r" in mark:
            raise ValueError(f"a PTD mark cannot contain commas or line ends: {mark!r}")
        command = f"Go,{interval_ms},{count}" + (f",{mark}" if mark else "")
        reply = self.expect(command, lambda r: r.startswith("Starting "), "'Starting ... measurement ...'")
        self.record.note_last(command, started=mark or NOT_SET_MARK)
        return reply

    def mark(self, mark: str) -> str:
        if "," in mark or "\n" in mark or "\r" in mark:
            raise ValueError(f"a PTD mark cannot contain commas or line ends: {mark!r}")
        return self.expect(f"Mark,{mark}", lambda r: True, "an acknowledgement")

    def stop(self) -> str:
        """`Stop`; AnalyzerStateError when the daemon had no measurement running."""
        reply = self.request("Stop")
        if reply == wire.NO_MEASUREMENT_TO_STOP:
            raise AnalyzerStateError(self.peer, "the daemon has no measurement to stop")
        if is_refusal(reply) or not reply.startswith("Stopping "):
            raise PtdReplyError(self.peer, "Stop", reply, f"'Stop' answered {reply[:120]!r}")
        self.record.note_last("Stop", completed=True)
        return reply

    def watts(self, per_channel: bool = False) -> list[WattsSummary]:
        """`Watts` (or `Watts,*`: total then each channel) over the current or last measurement."""
        return self._summaries("Watts", per_channel, "a Watts line", parse_watts_reply)

    def uncertainty(self, per_channel: bool = False) -> list[UncertaintySummary]:
        """`Uncertainty` (or `Uncertainty,*`): the 7-tuple of the total, then one per channel."""
        return self._summaries("Uncertainty", per_channel, "an Uncertainty line", parse_uncertainty_reply)

    def _summaries(
        self, name: str, per_channel: bool, described: str, parse: Callable[[str], list[_Summary]]
    ) -> list[_Summary]:
        command = f"{name},*" if per_channel else name
        reply = self.expect(command, lambda r: r.startswith(f"{name},"), described)
        try:
            return parse(reply)
        except ValueError as error:
            raise PtdReplyError(self.peer, command, reply, f"cannot parse the reply: {error}") from None

    def console(self, which: str) -> tuple[str, list[str]] | None:
        """`JB-Console,<which>` (joulebench's daemon only, unrecorded): (first, lines), or None when
        the daemon does not know the command (SPEC PTDaemon)."""
        command = f"{wire.CONSOLE_COMMAND},{which}"
        with self._lock:
            header = self.request(command, record=False)
            if is_refusal(header):
                return None
            try:
                first, count = wire.parse_console_header(header)
            except ValueError:
                raise PtdReplyError(
                    self.peer, command, header, f"'{command}' answered {header[:120]!r}"
                ) from None
            assert self._connection is not None
            try:
                body = self._connection.read_lines(count, command)
            except (ConnectionLost, ReplyTimeout) as error:
                self._drop(f"'{command}' body failed: {error.message}")
                raise
            return first, body.decode("ascii", "replace").splitlines()

    # -- samples --------------------------------------------------------------------------------

    @property
    def sample_command(self) -> str | None:
        """The `RL` form this daemon accepted, once known."""
        return self._rl_form

    def forget_sample_command(self) -> None:
        """Try every `RL` form again from the first on the next read."""
        with self._lock:
            self._rl_form = None

    def read_samples(self) -> Trace:
        """The samples the daemon has not sent before, as a `Trace` (empty when none)."""
        with self._lock:
            forms = RL_FORMS[RL_FORMS.index(self._rl_form) :] if self._rl_form else RL_FORMS
            for form in forms:
                header = self.request(form)
                if is_refusal(header) and form != RL_FORMS[-1]:
                    continue  # `Invalid number of parameters` (one channel) or `Unknown command` (DC)
                try:
                    count = wire.parse_rl_header(header)
                except ValueError:
                    raise PtdReplyError(
                        self.peer,
                        form,
                        header,
                        f"'{form}' answered {header[:120]!r}, expected 'Last N samples'",
                    ) from None
                self._rl_form = form
                return self._read_body(form, count)
        raise AssertionError("unreachable")  # pragma: no cover

    def _read_body(self, form: str, count: int) -> Trace:
        assert self._connection is not None
        try:
            body = self._connection.read_lines(count, form)
        except (ConnectionLost, ReplyTimeout) as error:
            self._drop(f"'{form}' body failed: {error.message}")
            complete = error.received[: error.received.rfind(b"\n") + 1]
            received = self._parse_body(form, complete)
            raise SamplesLost(
                self.peer,
                f"{error.message} after {len(received)} of {count} samples of an '{form}' reply",
                received,
                count - len(received),
            ) from error
        return self._parse_body(form, body)

    def _parse_body(self, form: str, body: bytes) -> Trace:
        try:
            return decode_sample_lines(body, source=f"ptd://{self.peer}")
        except ValueError as error:
            # The stream position is now unreliable: discard the connection.
            self._drop(f"bad '{form}' body")
            raise PtdReplyError(
                self.peer, form, "", f"bad sample lines in the '{form}' reply: {error}"
            ) from None
