"""SIGINT and SIGTERM become `Stopped` in the main thread, so a run ends the same way for both.

Python turns SIGINT into KeyboardInterrupt by itself, but SIGTERM (what `kill`, systemd, CI
runners and container stops send) would end the process on the spot: the workload left running,
the director's session left open. With `stop_on_signals` both unwind through the client's
clean-up, which ends the workload and aborts the session, and the exit status says which it was.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from power_client.errors import EXIT_INTERRUPTED, EXIT_TERMINATED, Stopped

_EXIT_CODES = {signal.SIGINT: EXIT_INTERRUPTED, signal.SIGTERM: EXIT_TERMINATED}


def _raise_stopped(number: int, _frame: FrameType | None) -> None:
    signum = signal.Signals(number)
    raise Stopped(signum.name, _EXIT_CODES[signum])


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Inside: SIGINT and SIGTERM raise `Stopped` (main thread only, as Python delivers signals)."""
    previous = {number: signal.signal(number, _raise_stopped) for number in _EXIT_CODES}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
