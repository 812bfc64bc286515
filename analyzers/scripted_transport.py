"""`ScriptedTransport`: an instrument's side of a session, scripted line by line, for protocol tests.

    transport = ScriptedTransport([
        Exchange("*IDN?", ["YOKOGAWA,WT310,C2QF12345E,F1.03"]),
        Exchange("*CLS"),                                  # a command without a reply
        Exchange(":COMMunicate:WAIT 1;:NUMeric:NORMal:VALue?", ["230.1,0.5,115.0,1.0"], delay_s=0.2),
        Exchange(None, ["0015-03", "0016-03"]),            # lines the device sends unasked (a stream)
    ])
    meter = YokogawaAnalyzer(transport)
    ...
    transport.verify()  # every line the driver wrote was the next scripted one, and all were used

A line the driver writes that is not the next scripted one is a mismatch: the write raises an
`AnalyzerProtocolError` (the driver fails as it would on a confused device) and `verify()` raises
an `AssertionError` naming the step, what was expected and what was written. A step's replies
arrive `delay_s` after its line was written (a meter that answers at its next update), and not
before `held_until()` is true when a step has one (the test decides when the device answers); a
read with nothing arrived times out like a silent device. Steps without a line (`None`) arrive as soon
as the steps before them are done. Lines the driver never read, and steps never reached, fail
`verify()`: nothing in the script goes unused.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from analyzers.errors import AnalyzerConnectionError, AnalyzerProtocolError
from analyzers.line_transport import LineTransport


@dataclass(frozen=True)
class Exchange:
    """One step: the line the driver must write (None: nothing, the device speaks unasked) and the
    reply lines the device sends `delay_s` later."""

    sent: str | None
    replies: Sequence[str] = ()
    delay_s: float = 0.0
    held_until: Callable[[], bool] | None = None
    """The replies wait (besides `delay_s`) until this is true: a test's hand on when the device answers."""


class ScriptedTransport(LineTransport):
    def __init__(
        self,
        script: Iterable[Exchange],
        *,
        device: str = "scripted",
        timeout_s: float = 1.0,
        line_end: str = "\n",
    ) -> None:
        self.device = device
        self.timeout_s = timeout_s
        self.lock = threading.RLock()
        self.line_end = line_end
        self.written: list[str] = []
        """Every line the driver wrote, in order (also the mismatched one)."""
        self._script = list(script)
        self._next = 0
        # (monotonic time it arrives, line, what holds it back until then)
        self._arriving: deque[tuple[float, str, Callable[[], bool] | None]] = deque()
        self._mismatch: str | None = None
        self._closed = False
        self._changed = threading.Condition()
        self._arrive_unasked()

    # -- the script -----------------------------------------------------------------------------

    @property
    def steps_done(self) -> int:
        """How many steps have been reached (their line written, or their unasked lines sent)."""
        with self._changed:
            return self._next

    def wait_for_step(self, step: int, timeout_s: float = 5.0) -> bool:
        """Block until step `step` (0-based) has been reached; False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while self._next <= step:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._changed.wait(remaining):
                    return self._next > step
            return True

    def verify(self) -> None:
        """`AssertionError` unless the driver wrote exactly the script and read every reply."""
        with self._changed:
            if self._mismatch is not None:
                raise AssertionError(self._mismatch)
            if self._next < len(self._script):
                missing = [step.sent for step in self._script[self._next :]]
                raise AssertionError(f"{len(missing)} scripted step(s) never reached, first {missing[0]!r}")
            if self._arriving:
                unread = [line for _, line, _ in self._arriving]
                raise AssertionError(f"{len(unread)} reply line(s) never read, first {unread[0]!r}")

    def _arrive_unasked(self) -> None:
        """Steps without a line arrive once the ones before them are done (caller holds the lock)."""
        now = time.monotonic()
        while self._next < len(self._script) and self._script[self._next].sent is None:
            step = self._script[self._next]
            self._arriving.extend((now + step.delay_s, line, step.held_until) for line in step.replies)
            self._next += 1

    # -- LineTransport --------------------------------------------------------------------------

    def write_line(self, text: str) -> None:
        with self._changed:
            if self._closed:
                raise AnalyzerConnectionError(self.device, "the link is closed")
            self.written.append(text)
            expected = self._script[self._next].sent if self._next < len(self._script) else None
            if self._mismatch is not None or text != expected:
                self._mismatch = self._mismatch or (
                    f"step {self._next}: expected {expected!r}, the driver wrote {text!r}"
                    if expected is not None
                    else f"the driver wrote {text!r} after the script's end"
                )
                raise AnalyzerProtocolError(self.device, f"unscripted line {text!r}")
            step = self._script[self._next]
            arrives = time.monotonic() + step.delay_s
            self._arriving.extend((arrives, line, step.held_until) for line in step.replies)
            self._next += 1
            self._arrive_unasked()
            self._changed.notify_all()

    def read_line(self, timeout_s: float | None = None) -> str:
        wait_s = self.timeout_s if timeout_s is None else timeout_s
        line = self._take(wait_s, everything=False)
        if line is None:
            raise AnalyzerConnectionError(self.device, f"no complete reply within {wait_s:g} s")
        return line

    def read_available(self, wait_s: float) -> bytes:
        text = self._take(wait_s, everything=True)
        return b"" if text is None else text.encode("ascii")

    def discard_input(self) -> None:
        with self._changed:
            now = time.monotonic()
            while self._arriving and self._arrived(self._arriving[0], now):
                self._arriving.popleft()

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def _take(self, wait_s: float, everything: bool) -> str | None:
        """The next arrived line (or all arrived lines, with their line ends), waiting up to `wait_s`."""
        deadline = time.monotonic() + wait_s
        with self._changed:
            while True:
                if self._closed:
                    raise AnalyzerConnectionError(self.device, "the link is closed")
                now = time.monotonic()
                if self._arriving and self._arrived(self._arriving[0], now):
                    if not everything:
                        return self._arriving.popleft()[1]
                    lines = []
                    while self._arriving and self._arrived(self._arriving[0], now):
                        lines.append(self._arriving.popleft()[1] + self.line_end)
                    return "".join(lines)
                next_arrival = self._arriving[0][0] if self._arriving else deadline
                if self._arriving and self._arriving[0][2] is not None:
                    next_arrival = min(next_arrival, now + 0.005)  # a held reply: look again soon
                remaining = min(deadline, next_arrival) - now
                if deadline - now <= 0:
                    return None
                self._changed.wait(max(remaining, 0.001))

    @staticmethod
    def _arrived(entry: tuple[float, str, Callable[[], bool] | None], now: float) -> bool:
        arrives, _, held_until = entry
        return arrives <= now and (held_until is None or held_until())
