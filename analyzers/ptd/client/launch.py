"""Launch a PTDaemon executable (or `power-analyzer-ptd`) and keep its console output in a file.

The daemon runs with `TZ=UTC`, as the reference director runs it, so its sample timestamps are UTC.
Its stdout and stderr go, line by line and flushed as each line arrives, to the console file (the
director's `ptd_logs.txt` is made from it). The last lines are kept so an early exit can be
reported in one sentence with the daemon's own last words, and the sample problems the console
reports (uncertainty above the limit, missed samples...) are counted in either PTD wording.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from analyzers.errors import AnalyzerConnectionError
from analyzers.ptd.client.console import ConsoleCounts

_KEPT_LINES = 20


class LaunchedDaemon:
    """A running daemon process; `stop()` ends it with SIGTERM (then SIGKILL) and returns its status."""

    def __init__(self, command: Sequence[str], console_path: str | Path) -> None:
        if not command:
            raise ValueError("the daemon command line is empty")
        self.command = list(command)
        self.console_path = Path(console_path)
        self._last_lines: collections.deque[str] = collections.deque(maxlen=_KEPT_LINES)
        self._lines_lock = threading.Lock()
        self._counts = ConsoleCounts()
        environment = dict(os.environ, TZ="UTC", PYTHONUNBUFFERED="1")
        try:
            self._console: BinaryIO = self.console_path.open("ab")
        except OSError as error:
            raise AnalyzerConnectionError(
                str(self.console_path), f"cannot open the PTD console log: {error.strerror or error}"
            ) from error
        try:
            self._process = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=environment,
            )
        except OSError as error:
            self._console.close()
            raise AnalyzerConnectionError(
                self.command[0],
                f"cannot start the PTD daemon: {error.strerror or error}",
                "check the executable path in the launch command",
            ) from error
        self._copier = threading.Thread(target=self._copy_console, name="ptd-console", daemon=True)
        self._copier.start()

    @property
    def pid(self) -> int:
        return self._process.pid

    def _copy_console(self) -> None:
        assert self._process.stdout is not None
        for raw in iter(self._process.stdout.readline, b""):
            self._console.write(raw)
            self._console.flush()
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            with self._lines_lock:
                self._last_lines.append(text)
                self._counts.add(text)
        self._console.close()

    def last_lines(self) -> list[str]:
        with self._lines_lock:
            return list(self._last_lines)

    def problem_counts(self) -> dict[str, int]:
        """Sample problems the console reported so far (`analyzers.ptd.client.console`)."""
        with self._lines_lock:
            return self._counts.snapshot()

    def exit_reason(self) -> str | None:
        """None while running; otherwise a sentence with the exit status and the last console line."""
        status = self._process.poll()
        if status is None:
            return None
        self._copier.join(timeout=2)
        lines = [line for line in self.last_lines() if line.strip()]
        said = f": {lines[-1].strip()}" if lines else ""
        return f"the daemon {self.command[0]} exited with status {status}{said}"

    def stop(self, timeout_s: float = 5.0) -> int:
        """End the daemon (SIGTERM, as the reference director does; SIGKILL after `timeout_s`)."""
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._copier.join(timeout=2)
        return int(self._process.returncode)
