"""The analyzers of one session: connected at open, polled by the recorder, started, stopped, released.

From `open` to the end a `Recorder` polls every analyzer into `recording/<analyzer>.arrows`; the
session's commands and the recorder's polls take turns on each link (`PtdLink.lock`). A fault the
recorder sees between calls is handed to `on_fault` (the session fails from a thread of its own).
Every PTD exchange is copied into `server.log` as it happens (`log_ptd`).

An analyzer that faulted is given up at once (`note_fault`): an exchange blocked on it ends, and
what the clean-up still says to it fails within a second. Its `Stop`, last read and range restore
are skipped (a daemon ends the measurement of a client that left), and its link is closed in a
thread of its own, so failing never waits on a dead or frozen meter: the session's lock is free and
the next call is answered at once, while `releasing` keeps a new session off until it is done.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from analyzers.errors import AnalyzerError
from power_director.api import PhaseStamp
from power_director.config import SessionConfig
from power_director.instruments import Instrument
from power_director.ptd_links import PtdLink
from power_director.recorder import Recorder
from power_director.session_narration import SessionNarration
from power_director.stamps import stamp_now
from power_director.storage import StorageError


class SessionAnalyzers:
    def __init__(
        self,
        folder: Path,
        instruments: Sequence[Instrument],
        config: SessionConfig,
        narration: SessionNarration,
        fsync_interval_s: float,
    ) -> None:
        self.folder = folder
        self.instruments = list(instruments)
        self.names = [i.name for i in self.instruments]
        self._config = config
        self._narration = narration
        self._fsync_interval_s = fsync_interval_s
        self.links: list[PtdLink] = []
        self.recorder: Recorder | None = None
        self.is_open = False
        self.releasing = False
        """True while a failed session still stops, restores and closes its analyzers."""
        self.first_fault: str | None = None
        self._faulted: set[str] = set()
        self._fault_lock = threading.Lock()
        self._releaser: threading.Thread | None = None
        self.notes: list[str] = []
        """Sentences for the client at the session's start (`SessionCreated.notes`)."""

    def open(self, ptd_logs: Path, on_fault: Callable[[str, str], None]) -> None:
        """Connect every analyzer and start recording; AnalyzerError or StorageError."""
        try:
            for instrument in self.instruments:
                link = instrument.open(self.folder, ptd_logs)
                self.links.append(link)
                self.is_open = True
                self._narration.connected(instrument.name, instrument.config.endpoint)
                if link.note:
                    self.notes.append(link.note)
                    self._narration.warning(link.note)
        finally:
            self.log_ptd()
        self.recorder = Recorder(
            self.folder,
            self.links,
            {i.name: i.config.endpoint for i in self.instruments},
            on_fault=on_fault,
            poll_interval_s=self._config.poll_interval_s,
            stall_s=self._config.stall_s,
            fsync_interval_s=self._fsync_interval_s,
            on_chunk=lambda name, chunk: self.instrument(name).note_chunk(chunk),
        )
        self.recorder.start()
        paths = [self.recorder.path(link.name).relative_to(self.folder).as_posix() for link in self.links]
        self._narration.recording(self._config.poll_interval_s, paths)

    def start(self, mark: str) -> PhaseStamp:
        """`Go` on every analyzer; stamped when the last one acknowledged, then a first read of each."""
        for link in self.links:
            with link.lock:
                link.analyzer.start(self._config.interval_ms / 1000, mark)
        started = stamp_now()
        # A first read at once: it settles which `RL` form the daemon takes right after `Go`, so the
        # record of the exchange does not depend on when the recorder's thread runs.
        self.drain()
        self.log_ptd()
        return started

    def stop(self, on_record: bool = True) -> PhaseStamp:
        """`Stop` on every analyzer, stamped as the last one returns; then its last samples are read:
        `on_record`, with `RL,*,*` first, as the reference reads after each `Stop`; else by the
        recorder's drain, whose reads are counted, not listed."""
        for link in self.links:
            with link.lock:
                if not link.analyzer.running:
                    continue
                if link.ptd is None:
                    link.analyzer.stop()
                    continue
                if on_record:
                    link.ptd.restart_sample_reads()
                link.ptd.stop(read_rest=on_record)
        stopped = stamp_now()
        self.drain()
        return stopped

    def drain(self) -> None:
        for link in self.links:
            self.the_recorder().drain(link.name)

    def note_fault(self, name: str, reason: str, during: str | None) -> str:
        """An analyzer failed (`during` the run it was in): give it up; the session's failure reason,
        which is the first fault's."""
        self.link(name).give_up()
        self.instrument(name).error = reason
        self.instrument(name).live.fault(reason)
        others = [link.name for link in self.links if link.name != name and link.name not in self._faulted]
        text = f"{during} run: {reason}" if during else reason
        if others:
            text += f"; the other analyzers ({', '.join(others)}) recorded normally until then"
        with self._fault_lock:
            self._faulted.add(name)
            self.first_fault = self.first_fault or text
            return self.first_fault

    def healthy(self) -> list[PtdLink]:
        return [link for link in self.links if link.name not in self._faulted]

    def wind_down(self) -> None:
        """For a failing session: stop each healthy measurement and read what is left, whatever fails."""
        self.releasing = self.is_open  # no new session until the analyzers are given back
        for link in self.healthy():
            try:
                with link.lock:
                    if link.analyzer.running:
                        link.analyzer.stop()
            except AnalyzerError as error:
                self._narration.problem(f"Analyzer {link.name}: could not stop its measurement: {error}")
        if self.recorder is None:
            return
        for link in self.healthy():
            try:
                self.recorder.drain(link.name)
            except (AnalyzerError, StorageError) as error:
                self._narration.problem(f"Analyzer {link.name}: its last samples could not be read: {error}")
        self.recorder.stop()

    def release(self, then: Callable[[], None] | None = None) -> None:
        """Stop recording and give every analyzer back (a launched daemon is stopped), then `then`.
        With a faulted analyzer among them, that happens in a thread of its own (see `join`)."""
        if self.recorder is not None:
            self.recorder.stop()
        if not self.is_open:
            if then is not None:
                then()
            return
        self.log_ptd()
        self.is_open = False
        if not self._faulted:
            self._close_links(then)
            return
        self._releaser = threading.Thread(target=self._close_links, args=(then,), name="release", daemon=True)
        self._releaser.start()

    def join(self, timeout_s: float | None = None) -> None:
        """Wait for a release running in its thread (the director waits for it before it exits; a
        new session, `timeout_s` at most)."""
        if self._releaser is not None:
            self._releaser.join(timeout_s)

    def _close_links(self, then: Callable[[], None] | None) -> None:
        for link in self.links:
            try:
                self.instrument(link.name).release(link)
            except AnalyzerError as error:
                self._narration.problem(f"Analyzer {link.name}: closing the connection failed: {error}")
        self._narration.ptd_exchanges(self.links, refresh=False)
        if then is not None:
            then()
        self.releasing = False

    def the_recorder(self) -> Recorder:
        if self.recorder is None:
            raise StorageError(f"{self.folder}: the session has no recorder (not open)")
        return self.recorder

    def log_ptd(self) -> None:
        """Copy new PTD exchanges into `server.log` (and a remote daemon's record into `ptd_logs.txt`)."""
        if self.is_open:
            self._narration.ptd_exchanges(self.links)

    def link(self, name: str) -> PtdLink:
        return next(link for link in self.links if link.name == name)

    def instrument(self, name: str) -> Instrument:
        return next(i for i in self.instruments if i.name == name)
