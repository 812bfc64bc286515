"""`LineTransport`: what a bench-instrument driver talks through: lines out, lines (or a byte stream) in.

A driver takes an open transport and never opens one itself, so the same driver code runs over a
serial port or `socket://` (`SerialLink`) and over a script of the exact exchange
(`ScriptedTransport`, for protocol tests). A driver's `from_device(device, **options)` opens the
real transport; that is what `create_analyzer` calls.

The driver owns the transport it is given: it closes it on `close()` and when setting up fails.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod


class LineTransport(ABC):
    """A line-oriented link. Every failure is an `AnalyzerConnectionError` naming `device`.

    `lock` serialises whole exchanges (a query and its reply) between threads; `timeout_s` bounds a
    read unless the call gives its own.
    """

    device: str
    timeout_s: float
    lock: threading.RLock

    @abstractmethod
    def write_line(self, text: str) -> None:
        """Send `text` and the line end."""

    @abstractmethod
    def read_line(self, timeout_s: float | None = None) -> str:
        """The next line without its line end; `AnalyzerConnectionError` on timeout or a lost link."""

    def query(self, text: str, timeout_s: float | None = None) -> str:
        """Send one line and return the reply line."""
        with self.lock:
            self.write_line(text)
            return self.read_line(timeout_s)

    @abstractmethod
    def read_available(self, wait_s: float) -> bytes:
        """Whatever bytes arrive within `wait_s` (at least one if any arrives): for streaming readers."""

    @abstractmethod
    def discard_input(self) -> None:
        """Drop anything received but not read (after a garbled reply, to find the next line boundary)."""

    @abstractmethod
    def close(self) -> None:
        """Release the link; safe to call twice."""
