"""One status line while a phase runs: phase, elapsed time, the analyzers' latest reading.

On a terminal the line is redrawn in place (carriage return); into a file or pipe it is printed as
plain lines, at most one every `plain_every_s`, so CI logs stay readable.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

ReadingSource = Callable[[], str | None]
"""What the analyzers show now ("351.2 W", "no sample for 12 s"), None when nothing is known."""


class Progress:
    def __init__(
        self,
        stream: TextIO,
        watts: ReadingSource | None = None,
        watts_every_s: float = 1.0,
        plain_every_s: float = 10.0,
        enabled: bool = True,
    ) -> None:
        self._stream = stream
        self._watts = watts
        self._watts_every_s = watts_every_s
        self._plain_every_s = plain_every_s
        self._enabled = enabled
        self._tty = bool(getattr(stream, "isatty", lambda: False)())
        self._phase = ""
        self._started = 0.0
        self._last_watts: str | None = None
        self._watts_at = float("-inf")
        self._printed_at = float("-inf")
        self._width = 0

    def begin(self, phase: str) -> None:
        self._phase = phase
        self._started = time.monotonic()
        self._printed_at = float("-inf")
        self.tick()

    def tick(self) -> None:
        if not self._enabled or not self._phase:
            return
        now = time.monotonic()
        if self._watts is not None and now - self._watts_at >= self._watts_every_s:
            self._watts_at = now
            # A failed reading must not disturb the run: the line just shows no value.
            try:
                self._last_watts = self._watts()
            except Exception:
                self._last_watts = None
        line = self.render(now - self._started)
        if self._tty:
            padding = " " * max(0, self._width - len(line))
            self._stream.write("\r" + line + padding)
            self._width = len(line)
            self._stream.flush()
        elif now - self._printed_at >= self._plain_every_s:
            self._printed_at = now
            self._stream.write(line + "\n")
            self._stream.flush()

    def render(self, elapsed_s: float) -> str:
        minutes, seconds = divmod(int(elapsed_s), 60)
        reading = "no reading" if self._last_watts is None else self._last_watts
        return f"{self._phase}: {minutes:02d}:{seconds:02d} elapsed, analyzers {reading}"

    def end(self, note: str = "") -> None:
        if not self._enabled or not self._phase:
            return
        line = self.render(time.monotonic() - self._started) + (f"; {note}" if note else "")
        if self._tty:
            self._stream.write("\r" + line + " " * max(0, self._width - len(line)) + "\n")
        else:
            self._stream.write(line + "\n")
        self._stream.flush()
        self._phase = ""
        self._width = 0
