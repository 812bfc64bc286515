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
from analyzers.trace import NO_MARK, SAMPLE_OK, Trace
from power_director.instruments import PtdLink
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
        # As `power_director.ranging`: readings only, over the channels (a sum block has no V or A).
        blocks = chunk.channels or (chunk,)
        for name in ("volts", "amps"):
            values = np.concatenate([getattr(b, name)[b.flags == SAMPLE_OK] for b in blocks])
            values = values[np.isfinite(values) & (values > 0)]
            if len(values):
                current = getattr(self, f"max_{name}")
                top = float(values.max())
                setattr(self, f"max_{name}", top if current is None else max(current, top))
        if self.first_ns is None:
            self.first_ns = int(chunk.time_ns[0])
        self.last_ns = int(chunk.time_ns[-1])


@dataclass
class LastGood:
    time_ns: int
    watts: float


def describe_time(time_ns: int | None) -> str:
    if time_ns is None:
        return "none"
    moment = dt.datetime.fromtimestamp(time_ns / 1e9, tz=dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class _Channel:
    """One analyzer's recording state: its writer, tallies and the last good sample."""

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
        self._channels = {
            link.name: _Channel(
                link,
                endpoints.get(link.name, link.name),
                recording_path(session_folder, link.name),
                fsync_interval_s,
            )
            for link in links
        }

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        for name, channel in self._channels.items():
            channel.thread = threading.Thread(
                target=self._run, args=(channel,), name=f"recorder-{name}", daemon=True
            )
            channel.thread.start()
        self._watchdog = threading.Thread(target=self._watch, name="recorder-watchdog", daemon=True)
        self._watchdog.start()

    def stop(self) -> None:
        """End every thread (not the caller's own) and close the files; safe to call twice."""
        self._stop.set()
        current = threading.current_thread()
        threads = [channel.thread for channel in self._channels.values()] + [self._watchdog]
        for thread in threads:
            if thread is not None and thread is not current:
                thread.join()
        for channel in self._channels.values():
            # A file that cannot be closed was already reported as the fault that ended the session.
            with channel.link.lock, contextlib.suppress(OSError):
                channel.writer.close()

    # -- what the session asks -------------------------------------------------------------------

    def drain(self, name: str) -> None:
        """Read `name`'s samples now: until it has none left once stopped, or once while it measures
        (a measuring meter always has a next sample). Raises AnalyzerError or StorageError."""
        channel = self._channels[name]
        while self._poll(channel) and not channel.link.analyzer.running:
            pass

    def tally(self, name: str, mark: str) -> Tally:
        return self._channels[name].tallies.get(mark, Tally())

    def path(self, name: str) -> Path:
        return self._channels[name].path

    def last_good(self, name: str) -> LastGood | None:
        return self._channels[name].last_good

    def rows(self, name: str) -> int:
        return self._channels[name].writer.rows

    def polls(self, name: str) -> int:
        return self._channels[name].link.polls

    def describe_fault(self, name: str, error: str) -> str:
        channel = self._channels[name]
        last = channel.last_good
        last_text = (
            f"last good sample at {describe_time(last.time_ns)} ({last.watts:.6f} W)"
            if last is not None
            else "no good sample before it"
        )
        relative = channel.path.relative_to(self.folder).as_posix()
        return (
            f"analyzer {name} ({channel.endpoint}) {error}; {last_text}; "
            f"{channel.writer.rows} samples kept in {relative}"
        )

    # -- the threads -----------------------------------------------------------------------------

    def _run(self, channel: _Channel) -> None:
        while not self._stop.wait(self.poll_interval_s) and channel.fault is None:
            try:
                self._poll(channel)
            except AnalyzerError as error:
                self._fault(channel, f"failed: {error}")
                return
            except StorageError as error:
                self._fault(channel, f"could not be recorded: {error}")
                return

    def _watch(self) -> None:
        """Stalls and exited daemons, seen from outside the polls (which may be blocked)."""
        while not self._stop.wait(min(self.poll_interval_s, self.stall_s / 4)):
            for channel in self._channels.values():
                if channel.fault is not None:
                    continue
                exited = channel.link.daemon_exit()
                problem = f"failed: {exited}" if exited is not None else self._stall(channel)
                if problem is not None:
                    self._fault(channel, problem)

    def _poll(self, channel: _Channel) -> bool:
        """One fetch, written; True when it brought samples."""
        with channel.link.lock:
            chunk = channel.link.poll()
            if not len(chunk):
                return False
            channel.writer.append(chunk)
        self._count(channel, chunk)
        return True

    def _count(self, channel: _Channel, chunk: Trace) -> None:
        channel.last_sample_at = time.monotonic()
        for code in np.unique(chunk.mark_codes):
            mark = "" if code == NO_MARK else chunk.mark_names[code]
            part = chunk.take(chunk.mark_codes == code)
            channel.tallies.setdefault(mark, Tally()).add(part)
        good = np.flatnonzero(chunk.valid_mask())
        if len(good):
            last = int(good[-1])
            channel.last_good = LastGood(int(chunk.time_ns[last]), float(chunk.watts[last]))
        if self._on_chunk is not None:
            self._on_chunk(channel.link.name, chunk)

    def _stall(self, channel: _Channel) -> str | None:
        running = channel.link.analyzer.running
        if running and not channel.was_running:
            channel.last_sample_at = time.monotonic()  # a new measurement: its first sample is due
        channel.was_running = running
        silent_s = time.monotonic() - channel.last_sample_at
        if running and silent_s > self.stall_s:
            return (
                f"delivered no sample for {math.floor(silent_s)} s while measuring "
                f"(limit: session.analyzer_stall_s = {self.stall_s:g})"
            )
        return None

    def _fault(self, channel: _Channel, error: str) -> None:
        with self._fault_lock:  # the poll thread and the watchdog may both see it: report it once
            if self._stop.is_set() or channel.fault is not None:
                return  # the session is ending anyway, or heard of this analyzer's fault already
            channel.fault = self.describe_fault(channel.link.name, error)
        self._on_fault(channel.link.name, channel.fault)

    def faulted(self, name: str) -> bool:
        return self._channels[name].fault is not None
