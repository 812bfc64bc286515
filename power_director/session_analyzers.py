"""The analyzers of one session: connected at open, polled by the recorder, started, stopped, released.

From `open` to the end a `Recorder` polls every analyzer into `recording/<analyzer>.arrows`; the
session's commands and the recorder's polls take turns on each link (`PtdLink.lock`). A fault the
recorder sees between calls is handed to `on_fault` (the session fails from a thread of its own).
Every PTD exchange is copied into `server.log` as it happens (`log_ptd`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from analyzers.errors import AnalyzerError
from power_director.api import PhaseStamp
from power_director.config import SessionConfig
from power_director.instruments import Instrument, PtdLink
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

    def open(self, ptd_logs: Path, on_fault: Callable[[str, str], None]) -> None:
        """Connect every analyzer and start recording; AnalyzerError or StorageError."""
        try:
            for instrument in self.instruments:
                self.links.append(instrument.open(self.folder, ptd_logs))
                self.is_open = True
                self._narration.connected(instrument.name, instrument.config.endpoint)
        finally:
            self.log_ptd()
        self.recorder = Recorder(
            self.folder,
            self.links,
            {i.name: i.config.endpoint for i in self.instruments},
            on_fault=on_fault,
            poll_interval_s=self._config.poll_interval_s,
            sample_timeout_s=self._config.sample_timeout,
            fsync_interval_s=self._fsync_interval_s,
            on_reading=lambda name, time_ns, watts: self.instrument(name).note_reading(time_ns, watts),
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

    def stop(self) -> PhaseStamp:
        """`Stop` on every analyzer, stamped as the last one returns; then its last samples are read."""
        for link in self.links:
            with link.lock:
                if link.analyzer.running:
                    link.analyzer.stop()
        stopped = stamp_now()
        self.drain()
        return stopped

    def drain(self) -> None:
        for link in self.links:
            self.the_recorder().drain(link.name)

    def wind_down(self) -> None:
        """For a failing session: stop each measurement and read what is left, whatever fails."""
        self.releasing = self.is_open  # no new session until the analyzers are given back
        for link in self.links:
            try:
                with link.lock:
                    if link.analyzer.running:
                        link.analyzer.stop()
            except AnalyzerError as error:
                self._narration.problem(f"Analyzer {link.name}: could not stop its measurement: {error}")
        if self.recorder is None:
            return
        for link in self.links:
            try:
                self.recorder.drain(link.name)
            except (AnalyzerError, StorageError) as error:
                self._narration.problem(f"Analyzer {link.name}: its last samples could not be read: {error}")
        self.recorder.stop()

    def release(self) -> None:
        """Stop recording and give every analyzer back (a launched daemon is stopped)."""
        if self.recorder is not None:
            self.recorder.stop()
        if not self.is_open:
            return
        self.log_ptd()
        self.is_open = False
        for link in self.links:
            try:
                self.instrument(link.name).release(link)
            except AnalyzerError as error:
                self._narration.problem(f"Analyzer {link.name}: closing the connection failed: {error}")
        self._narration.ptd_exchanges(self.links, refresh=False)
        self.releasing = False

    def the_recorder(self) -> Recorder:
        if self.recorder is None:
            raise StorageError(f"{self.folder}: the session has no recorder (not open)")
        return self.recorder

    def log_ptd(self) -> None:
        """Copy new PTD exchanges into `server.log` (and a remote daemon's record into `ptd_logs.txt`)."""
        if self.is_open:
            self._narration.ptd_exchanges(self.links)

    def instrument(self, name: str) -> Instrument:
        return next(i for i in self.instruments if i.name == name)
