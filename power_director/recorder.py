"""The recorder: a thread per analyzer that pulls samples continuously into durable storage.

While a session is open, each of its analyzer links is polled every `poll_interval_s` (PTD `RL`
while a measurement runs; nothing is sent between measurements). Every non-empty chunk goes at
once to the analyzer's append-only stream file (`power_director.storage`), so a director killed
with `kill -9` loses at most the last poll interval. Nothing is kept in memory but a running
tally per (analyzer, mark): counts, maxima, first/last sample. Memory does not grow with the run.

A fault ends that analyzer's thread and is reported once through `on_fault(analyzer, reason)`:
an error from the analyzer (dead daemon, dropped connection, a reply that timed out), a storage
error, a launched daemon that exited, or no new sample for `stall_s` while a measurement runs (an
analyzer that still answers but stopped measuring, or one that froze mid-reply). The last two are
watched by a thread of their own, so a poll blocked on a frozen daemon for its whole reply timeout
does not delay them. The reason names the analyzer, its endpoint, the recording file and the last
good sample.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analyzers.errors import AnalyzerError
from analyzers.trace import NO_MARK, Trace
from power_director.ptd_links import PtdLink
from power_director.ranging import RangeChoice, ranges_from_maxima, reading_maxima
from power_director.storage import RecordingWriter, StorageError, recording_path

FaultHandler = Callable[[str, str], None]


@dataclass
class Tally:
    """What a phase's samples of one analyzer add up to, kept while they stream past."""

    samples: int = 0
    error: int = 0
    missed: int = 0
    max_volts: float | None = None
    max_amps: float | None = None
    first_ns: int | None = None
    last_ns: int | None = None

    def add(self, chunk: Trace) -> None:
        self.samples += len(chunk)
        counts = chunk.sentinel_counts()
        self.error += counts["error"]
        self.missed += counts["missed"]
        volts, amps = reading_maxima(chunk)
        self.max_volts = _larger(self.max_volts, volts)
        self.max_amps = _larger(self.max_amps, amps)
        if self.first_ns is None:
            self.first_ns = int(chunk.time_ns[0])
        self.last_ns = int(chunk.time_ns[-1])

    def ranges(self, amps_factor: float) -> RangeChoice:
        """The testing ranges these samples give (`RangingError` when they give none)."""
        return ranges_from_maxima(self.max_volts, self.max_amps, self.samples, amps_factor)


def _larger(kept: float | None, seen: float | None) -> float | None:
    if kept is None or seen is None:
        return seen if kept is None else kept
    return max(kept, seen)


@dataclass
class LastGood:
    time_ns: int
    watts: float


def describe_time(time_ns: int | None) -> str:
    if time_ns is None:
        return "none"
    moment = dt.datetime.fromtimestamp(time_ns / 1e9, tz=dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class _AnalyzerRecording:
    """One analyzer's recording state: its writer, tallies per mark and the last good sample."""

    def __init__(self, link: PtdLink, endpoint: str, path: Path, fsync_interval_s: float) -> None:
        self.link = link
        self.endpoint = endpoint
        self.path = path
        self.writer = RecordingWriter(path, link.name, fsync_interval_s)
        self.tallies: dict[str, Tally] = {}
        self.last_good: LastGood | None = None
        self.last_sample_at = time.monotonic()
        self.was_running = False
        self.fault: str | None = None
        self.thread: threading.Thread | None = None


class Recorder:
    """Polls every link of a session into `<session>/recording/<analyzer>.arrows`."""

    def __init__(
        self,
        session_folder: Path,
        links: Sequence[PtdLink],
        endpoints: dict[str, str],
        on_fault: FaultHandler,
        poll_interval_s: float = 0.25,
        stall_s: float = 5.0,
        fsync_interval_s: float = 1.0,
        on_chunk: Callable[[str, Trace], None] | None = None,
    ) -> None:
        self.folder = session_folder
        self.poll_interval_s = poll_interval_s
        self.stall_s = stall_s
        self._watchdog: threading.Thread | None = None
        self._fault_lock = threading.Lock()
        self._on_fault = on_fault
        self._on_chunk = on_chunk
        self._stop = threading.Event()
        self._recordings = {
            link.name: _AnalyzerRecording(
                link,
                endpoints.get(link.name, link.name),
                recording_path(session_folder, link.name),
                fsync_interval_s,
            )
            for link in links
        }

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        for name, recording in self._recordings.items():
            recording.thread = threading.Thread(
                target=self._run, args=(recording,), name=f"recorder-{name}", daemon=True
            )
            recording.thread.start()
        self._watchdog = threading.Thread(target=self._watch, name="recorder-watchdog", daemon=True)
        self._watchdog.start()

    def stop(self) -> None:
        """End every thread (not the caller's own) and close the files; safe to call twice."""
        self._stop.set()
        current = threading.current_thread()
        threads = [recording.thread for recording in self._recordings.values()] + [self._watchdog]
        for thread in threads:
            if thread is not None and thread is not current:
                thread.join()
        for recording in self._recordings.values():
            # A file that cannot be closed was already reported as the fault that ended the session.
            with recording.link.lock, contextlib.suppress(OSError):
                recording.writer.close()

    # -- what the session asks -------------------------------------------------------------------

    def drain(self, name: str) -> None:
        """Read `name`'s samples now: until it has none left once stopped, or once while it measures
        (a measuring meter always has a next sample). Raises AnalyzerError or StorageError."""
        recording = self._recordings[name]
        while self._poll(recording) and not recording.link.analyzer.running:
            pass

    def tally(self, name: str, mark: str) -> Tally:
        return self._recordings[name].tallies.get(mark, Tally())

    def path(self, name: str) -> Path:
        return self._recordings[name].path

    def last_good(self, name: str) -> LastGood | None:
        return self._recordings[name].last_good

    def rows(self, name: str) -> int:
        return self._recordings[name].writer.rows

    def polls(self, name: str) -> int:
        return self._recordings[name].link.polls

    def describe_fault(self, name: str, error: str) -> str:
        recording = self._recordings[name]
        last = recording.last_good
        last_text = (
            f"last good sample at {describe_time(last.time_ns)} ({last.watts:.6f} W)"
            if last is not None
            else "no good sample before it"
        )
        relative = recording.path.relative_to(self.folder).as_posix()
        return (
            f"analyzer {name} ({recording.endpoint}) {error}; {last_text}; "
            f"{recording.writer.rows} samples kept in {relative}"
        )

    # -- the threads -----------------------------------------------------------------------------

    def _run(self, recording: _AnalyzerRecording) -> None:
        while not self._stop.wait(self.poll_interval_s) and recording.fault is None:
            try:
                self._poll(recording)
            except AnalyzerError as error:
                self._fault(recording, f"failed: {error}")
                return
            except StorageError as error:
                self._fault(recording, f"could not be recorded: {error}")
                return

    def _watch(self) -> None:
        """Stalls and exited daemons, seen from outside the polls (which may be blocked)."""
        while not self._stop.wait(min(self.poll_interval_s, self.stall_s / 4)):
            for recording in self._recordings.values():
                if recording.fault is not None:
                    continue
                exited = recording.link.daemon_exit()
                problem = f"failed: {exited}" if exited is not None else self._stall(recording)
                if problem is not None:
                    self._fault(recording, problem)

    def _poll(self, recording: _AnalyzerRecording) -> bool:
        """One fetch, written; True when it brought samples."""
        with recording.link.lock:
            chunk = recording.link.poll()
            if not len(chunk):
                return False
            recording.writer.append(chunk)
        self._count(recording, chunk)
        return True

    def _count(self, recording: _AnalyzerRecording, chunk: Trace) -> None:
        recording.last_sample_at = time.monotonic()
        for code in np.unique(chunk.mark_codes):
            mark = "" if code == NO_MARK else chunk.mark_names[code]
            part = chunk.take(chunk.mark_codes == code)
            recording.tallies.setdefault(mark, Tally()).add(part)
        good = np.flatnonzero(chunk.valid_mask())
        if len(good):
            last = int(good[-1])
            recording.last_good = LastGood(int(chunk.time_ns[last]), float(chunk.watts[last]))
        if self._on_chunk is not None:
            self._on_chunk(recording.link.name, chunk)

    def _stall(self, recording: _AnalyzerRecording) -> str | None:
        running = recording.link.analyzer.running
        if running and not recording.was_running:
            recording.last_sample_at = time.monotonic()  # a new measurement: its first sample is due
        recording.was_running = running
        silent_s = time.monotonic() - recording.last_sample_at
        if running and silent_s > self.stall_s:
            return (
                f"delivered no sample for {math.floor(silent_s)} s while measuring "
                f"(limit: session.analyzer_stall_s = {self.stall_s:g})"
            )
        return None

    def _fault(self, recording: _AnalyzerRecording, error: str) -> None:
        with self._fault_lock:  # the poll thread and the watchdog may both see it: report it once
            if self._stop.is_set() or recording.fault is not None:
                return  # the session is ending anyway, or heard of this analyzer's fault already
            recording.fault = self.describe_fault(recording.link.name, error)
        self._on_fault(recording.link.name, recording.fault)

    def faulted(self, name: str) -> bool:
        return self._recordings[name].fault is not None
