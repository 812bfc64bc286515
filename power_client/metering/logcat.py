"""Windows from a phone's log: `power-measure --logcat-begin REGEX --logcat-end REGEX`.

An app that prints when each benchmark starts and finishes (the MLPerf Mobile app does, to logcat)
names its windows without being changed. `adb logcat -v epoch` streams the device's log with the
device's own time stamps; a line matching a begin (end) pattern begins (ends) the window its first
group names. The device clock is placed on this machine's by the line that arrived soonest after it
was written (the smallest arrival − stamp), once the command has ended, so the lines logcat replays
from before the measurement (`-T 1`) are recognised by their stamps and left out.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass

from power_client.metering.marks import MarkEvent

_STAMP = re.compile(r"\s*(\d+\.\d+)\s+(.*)")


class LogcatPatternError(ValueError):
    """A pattern that cannot name a window; the message is one sentence."""


@dataclass(frozen=True)
class LogcatRule:
    kind: str  # "begin" or "end"
    pattern: re.Pattern[str]

    @classmethod
    def of(cls, kind: str, text: str) -> LogcatRule:
        try:
            pattern = re.compile(text)
        except re.error as error:
            raise LogcatPatternError(
                f"--logcat-{kind} {text!r} is not a regular expression: {error}"
            ) from None
        if pattern.groups < 1:
            raise LogcatPatternError(
                f"--logcat-{kind} {text!r} has no group: put the window's name in one, e.g. 'Running (\\S+)'"
            )
        return cls(kind, pattern)

    def window(self, message: str) -> str | None:
        match = self.pattern.search(message)
        if match is None:
            return None
        name = match.groupdict().get("name") or match.group(1)
        return name or None


class LogcatMarks:
    """Reads `adb -s SERIAL logcat -v epoch -T 1` from construction until `close()`."""

    def __init__(self, adb: str, serial: str, rules: list[LogcatRule]) -> None:
        self.serial = serial
        self.rules = rules
        self.started_ns = time.time_ns()
        self._lines: list[tuple[int, int, str]] = []  # arrival ns, device stamp ns, message
        self._stderr = ""
        self._process = subprocess.Popen(
            [adb, "-s", serial, "logcat", "-v", "epoch", "-T", "1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, name="logcat", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            arrival_ns = time.time_ns()
            match = _STAMP.match(line)
            if match is not None:
                stamp_ns = round(float(match.group(1)) * 1e9)
                self._lines.append((arrival_ns, stamp_ns, match.group(2)))

    def close(self) -> tuple[list[MarkEvent], list[str]]:
        """Stop reading; the window events the log named during the measurement, and notes."""
        notes = []
        ended_early = self._process.poll()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGTERM)
        self._process.wait()
        self._reader.join(timeout=5)
        if ended_early is not None:
            said = (self._process.stderr.read().strip() if self._process.stderr else "") or "no message"
            notes.append(
                f"logcat of {self.serial} ended before the command did (exit status {ended_early}: {said})"
            )
        if not self._lines:
            return [], [*notes, f"logcat of {self.serial}: no line arrived during the measurement"]
        offset_ns = min(arrival - stamp for arrival, stamp, _ in self._lines)
        events = []
        for _arrival, stamp, message in self._lines:
            at_ns = stamp + offset_ns
            if at_ns < self.started_ns:
                continue  # replayed from before the measurement
            for rule in self.rules:
                name = rule.window(message)
                if name is not None:
                    events.append(MarkEvent(rule.kind, name, at_ns, stamped=True))
        notes.append(
            f"logcat of {self.serial}: {len(events)} window event(s); device clock placed on this one "
            f"by the soonest line ({offset_ns / 1e9:+.3f} s)"
        )
        return events, notes
