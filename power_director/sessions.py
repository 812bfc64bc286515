"""One session and its state machine: created → ranging → ranged → testing → tested → done.

    ranging start   initial ranges (`RR`), autorange (`SR,V,Auto`, `SR,A,Auto`), settle, `Go,…,<id>_ranging`
    ranging stop    settle, `Stop`, samples (`RL`), `Watts`, `Uncertainty`; ranges derived → `ranging/spl.txt`
    testing start   fixed ranges (`SR,V,<max V>`, `SR,A,<max A × factor>`), settle, `Go,…,<id>_testing`
    testing stop    as ranging stop → `run_1/spl.txt`
    done            initial ranges restored, links closed, `power/server.json` written

Testing may also start from `created` with known ranges (no ranging): the session is then marked
not submission-valid. `done` is accepted from any state that is not final (a running measurement is
stopped and its samples kept). An analyzer failure fails the session with its reason, restores
what it can and writes what it has; the director keeps serving.

From `open` to the end, a `Recorder` polls every analyzer into `recording/<analyzer>.arrows`; the
session's commands and the recorder's polls take turns on each link (`PtdLink.lock`). At each stop
the last samples are drained and the phase's `spl.txt` is written from the recording. A fault the
recorder sees between calls (an analyzer that died or went silent) fails the session at once, from
a thread of its own; the client learns it from its next call (409 with the reason). `session.json`
is rewritten at every change of state, so a restarted director can list the session again.

Phase stamps are the instants the client gets back: 0 when the start request arrived, 1 when the
analyzer acknowledged `Go`, 2 when the stop request arrived, 3 when the analyzer acknowledged `Stop`
and handed over its samples. Each API call a session records becomes one `messages` entry with the
same `{cmd, reply}` strings the reply's `exchange` carries.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyzers.base import AUTO, MeasurementStats, RangeRequest, Ranges
from analyzers.errors import AnalyzerError, RangesNotApplicable
from power_director.api import (
    SERVER_PROTOCOL,
    AlignmentSummary,
    AnalyzerSummary,
    Exchange,
    MarkEvent,
    MarkRecorded,
    Mode,
    PhaseStamp,
    PhaseStart,
    PhaseStarted,
    PhaseStopped,
    SessionDone,
    SessionInfo,
    SessionState,
)
from power_director.artifacts.files import list_files
from power_director.artifacts.server_json import build_server_json, result_checksums, write_server_json
from power_director.artifacts.server_log import SessionLog
from power_director.artifacts.sources import sha1_file
from power_director.config import SessionConfig
from power_director.errors import AnalyzerFailed, BadRequest, Conflict
from power_director.instruments import Instrument, PtdLink
from power_director.merge import Alignment
from power_director.phase_files import (
    PHASE_FOLDERS,
    trace_file_names,
    write_phase_spl_file,
    write_trace_files,
)
from power_director.ranging import RangeChoice, RangingError, ranges_from_maxima
from power_director.recorder import Recorder
from power_director.session_store import write_record
from power_director.stamps import NS_PER_S, as_reference_pair, stamp_now
from power_director.storage import StorageError

__all__ = ["PHASE_FOLDERS", "Session"]
FINAL_STATES = frozenset({"done", "failed", "closed"})
OK = "OK"


@dataclass
class Message:
    """One `messages` entry; times are the director's wall clock in seconds, as the reference writes."""

    cmd: str
    cmd_time: float
    reply: str
    reply_time: float

    def as_json(self) -> dict[str, Any]:
        return {
            "cmd": self.cmd,
            "cmd_time": self.cmd_time,
            "reply": self.reply,
            "reply_time": self.reply_time,
        }

    def exchange(self) -> Exchange:
        return Exchange(cmd=self.cmd, reply=self.reply)


@dataclass
class Phase:
    mode: Mode
    mark: str
    stamps: list[PhaseStamp]
    summaries: list[AnalyzerSummary] = field(default_factory=list)
    open_marks: set[str] = field(default_factory=set)
    alignment: list[Alignment] = field(default_factory=list)
    samples_written: bool = False


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _restorable(ranges: Ranges) -> tuple[RangeRequest, RangeRequest]:
    """The `SR` values that put a meter back where `RR` found it (auto when auto or unknown)."""
    volts = ranges.volts.value if ranges.volts.auto is False and ranges.volts.value else AUTO
    amps = ranges.amps.value if ranges.amps.auto is False and ranges.amps.value else AUTO
    return volts, amps


class Session:
    """A session's state, its files and its analyzer links. Every operation holds `lock`."""

    def __init__(
        self,
        session_id: str,
        label: str,
        client_uuid: str,
        server_uuid: str,
        folder: Path,
        instruments: Sequence[Instrument],
        config: SessionConfig,
        sleep: Callable[[float], None] = time.sleep,
        fsync_interval_s: float = 1.0,
    ) -> None:
        self.session_id = session_id
        self.label = label
        self.client_uuid = client_uuid
        self.server_uuid = server_uuid
        self.created_ns = time.time_ns()
        self.folder = folder
        self.instruments = list(instruments)
        self.config = config
        self._sleep = sleep
        self.lock = threading.RLock()
        self.state: SessionState = "created"
        self.failure: str | None = None
        self.submission_valid = True
        self.messages: list[Message] = []
        self.phases: dict[str, Phase] = {}
        self.marks: list[dict[str, Any]] = []
        self.links: list[PtdLink] = []
        self.initial_ranges: dict[str, Ranges] = {}
        self.testing_ranges: dict[str, tuple[float, float]] = {}
        self.range_choices: dict[str, RangeChoice] = {}
        self._logged_ptd: dict[str, int] = {}
        self._links_open = False
        self.recorder: Recorder | None = None
        self.releasing = False
        """True while a failed session still stops, restores and closes its analyzers."""
        self._fsync_interval_s = fsync_interval_s
        self.last_call = time.monotonic()
        self.power_folder = folder / "power"
        self.power_folder.mkdir(parents=True, exist_ok=True)
        self.log = SessionLog(self.power_folder / "server.log")
        self.persist()

    # -- lifecycle -------------------------------------------------------------------------------

    def open(self, handshake: str, arrived: PhaseStamp) -> Exchange:
        """Connect every analyzer and record the handshake as `messages[0]`."""
        self.log.info(f"Got command from the client {handshake!r}")
        try:
            for instrument in self.instruments:
                link = instrument.open(self.folder, self.power_folder / "ptd_logs.txt")
                self.links.append(link)
                self._links_open = True
                self.log.info(f"Connected to analyzer {instrument.name} ({instrument.config.endpoint})")
        finally:
            self._log_ptd()
        self.recorder = Recorder(
            self.folder,
            self.links,
            {i.name: i.config.endpoint for i in self.instruments},
            on_fault=self._analyzer_fault,
            poll_interval_s=self.config.poll_interval_s,
            sample_timeout_s=self.config.sample_timeout,
            fsync_interval_s=self._fsync_interval_s,
            on_reading=lambda name, time_ns, watts: self._instrument(name).note_reading(time_ns, watts),
        )
        self.recorder.start()
        self.log.info(
            f"Recording every {self.config.poll_interval_s:g} s into "
            + ", ".join(
                self.recorder.path(link.name).relative_to(self.folder).as_posix() for link in self.links
            )
        )
        exchange = Exchange(cmd=handshake, reply=SERVER_PROTOCOL)
        self._record(exchange, arrived)
        self.log.info(f"Session {self.session_id}: client {self.client_uuid}, server {self.server_uuid}")
        return exchange

    @property
    def active(self) -> bool:
        return self.state not in FINAL_STATES

    def touch(self) -> None:
        """The client called: it is still there (see `session.client_timeout_s`)."""
        self.last_call = time.monotonic()

    def persist(self) -> None:
        """`session.json` as the session is now (what a restarted director lists)."""
        write_record(
            self.folder,
            self.info(),
            [i.name for i in self.instruments],
            {mode: phase.mark for mode, phase in self.phases.items()},
            self.config.interval_ms,
        )

    def info(self) -> SessionInfo:
        return SessionInfo(
            session_id=self.session_id,
            label=self.label,
            state=self.state,
            created_ns=self.created_ns,
            client_uuid=self.client_uuid,
            server_uuid=self.server_uuid,
            submission_valid=self.submission_valid,
            failure=self.failure,
        )

    # -- phases ----------------------------------------------------------------------------------

    def start_phase(self, mode: Mode, request: PhaseStart, arrived: PhaseStamp) -> PhaseStarted:
        with self.lock:
            known = request.max_volts is not None or request.max_amps is not None
            command = f"session,{self.session_id},start,{mode}"
            if known:
                command += f",{request.max_volts},{request.max_amps}"
            self.log.info(f"Got command from the client {command!r}")
            self._check_start(mode, request, known)
            mark = f"{self.session_id}_{mode}"
            try:
                self._read_initial_ranges()
                if mode == "ranging":
                    self._set_ranging_ranges()
                else:
                    self._set_testing_ranges(request if known else None)
                self._settle("before Go")
                self.log.info(f"Starting {mode} mode")
                for link in self.links:
                    with link.lock:
                        link.analyzer.start(self.config.interval_ms / 1000, mark)
                started = stamp_now()
                self.phases[mode] = Phase(mode=mode, mark=mark, stamps=[arrived, started])
                # A first read at once: it settles which `RL` form the daemon takes right after `Go`,
                # so the record of the exchange does not depend on when the recorder's thread runs.
                for link in self.links:
                    self._recorder().drain(link.name)
                self._log_ptd()
            except AnalyzerError as error:
                raise self.fail(f"{mode} start failed: {error}") from None
            except StorageError as error:
                raise self.fail(f"{mode} start failed: samples cannot be recorded: {error}") from None
            finally:
                self._log_ptd()
            if known:
                self.submission_valid = False
            self.state = mode
            self.persist()
            exchange = Exchange(cmd=command, reply=OK)
            self._record(exchange, arrived, started)
            return PhaseStarted(
                session_id=self.session_id,
                mode=mode,
                mark=mark,
                before_start=arrived,
                sampling_started=started,
                exchange=exchange,
            )

    def _check_start(self, mode: Mode, request: PhaseStart, known: bool) -> None:
        if not self.active:
            raise Conflict(f"session {self.session_id} is {self.state}{self._because()}")
        if known and (request.max_volts is None or request.max_amps is None):
            raise BadRequest("give both max_volts and max_amps, or neither")
        if mode == "ranging":
            if known:
                raise BadRequest("known ranges (max_volts, max_amps) apply to testing, not ranging")
            if self.state != "created":
                raise Conflict(
                    f"ranging starts from a new session; session {self.session_id} is {self.state}"
                )
            return
        if self.state == "ranged" and not known:
            return
        if self.state == "created" and known:
            return
        if self.state == "created":
            raise Conflict("testing needs a ranging run first, or known ranges (max_volts and max_amps)")
        if self.state == "ranged":
            raise Conflict(
                "this session has ranged: testing uses the ranges derived from it, leave out max_volts and max_amps"
            )
        raise Conflict(f"testing cannot start: session {self.session_id} is {self.state}")

    def stop_phase(self, mode: Mode, arrived: PhaseStamp) -> PhaseStopped:
        with self.lock:
            command = f"session,{self.session_id},stop,{mode}"
            self.log.info(f"Got command from the client {command!r}")
            if self.state != mode:
                raise Conflict(
                    f"no {mode} run to stop: session {self.session_id} is {self.state}{self._because()}"
                )
            phase = self.phases[mode]
            phase.stamps.append(arrived)
            try:
                self._settle("before Stop")
                try:
                    stopped = self._stop_analyzers(phase)
                finally:
                    self._write_samples(phase)  # whatever arrived, also when the analyzer failed
                    self._log_ptd()
                phase.summaries = [self._summary(link, phase) for link in self.links]
                self._log_ptd()
                if mode == "ranging":
                    self._derive_testing_ranges(phase)
            except AnalyzerError as error:
                raise self.fail(f"{mode} stop failed: {error}") from None
            except StorageError as error:
                raise self.fail(f"{mode} stop failed: samples cannot be recorded: {error}") from None
            except RangingError as error:
                raise self.fail(f"ranging gave no usable ranges: {error}") from None
            finally:
                self._log_ptd()
            self.state = "ranged" if mode == "ranging" else "tested"
            self.persist()
            exchange = Exchange(cmd=command, reply=OK)
            self._record(exchange, arrived)
            return PhaseStopped(
                session_id=self.session_id,
                mode=mode,
                stop_received=arrived,
                sampling_stopped=stopped,
                analyzers=phase.summaries,
                exchange=exchange,
            )

    def _stop_analyzers(self, phase: Phase) -> PhaseStamp:
        """`Stop` on every analyzer, stamped as the last one returns; then its last samples are read."""
        for link in self.links:
            with link.lock:
                if link.analyzer.running:
                    link.analyzer.stop()
        stopped = stamp_now()
        if len(phase.stamps) == 3:
            phase.stamps.append(stopped)
        for link in self.links:
            self._recorder().drain(link.name)
        return stopped

    def _summary(self, link: PtdLink, phase: Phase) -> AnalyzerSummary:
        tally = self._recorder().tally(link.name, phase.mark)
        with link.lock:
            stats: MeasurementStats = link.analyzer.stats()
        alignment = next((a for a in phase.alignment if a.name == link.name), None)
        return AnalyzerSummary(
            name=link.name,
            samples=tally.samples,
            errors=tally.error + tally.missed,
            avg_watts=_finite(stats.avg_w),
            min_watts=_finite(stats.min_w),
            max_watts=_finite(stats.max_w),
            max_volts=tally.max_volts,
            max_amps=tally.max_amps,
            uncertainty_max=_finite(stats.uncertainty_max),
            uncertainty_invalid=stats.uncertainty_invalid,
            alignment=_alignment_summary(alignment) if alignment is not None else None,
        )

    def _write_samples(self, phase: Phase) -> None:
        """The phase's `spl.txt` and the Parquet trace(s), from what the recorder stored."""
        names = [i.name for i in self.instruments]
        lines, alignment = write_phase_spl_file(
            self.folder, names, phase.mode, phase.mark, self.config.merge_tolerance_ns
        )
        phase.alignment = alignment or []
        phase.samples_written = True
        self.log.info(f"Wrote {lines} sample lines to {PHASE_FOLDERS[phase.mode]}/spl.txt")
        for item in phase.alignment[1:]:
            self.log.info(
                f"Analyzer {item.name} aligned with {item.matched} of {item.matched + item.missing} lines "
                f"(max error {item.max_abs_error_s * 1000:.3f} ms, {item.unused} of its samples unused)"
            )
        write_trace_files(self.folder, names)

    # -- ranges ----------------------------------------------------------------------------------

    def _read_initial_ranges(self) -> None:
        for link in self.links:
            if link.name in self.initial_ranges or not link.analyzer.supports_ranges:
                continue
            with link.lock:
                ranges = link.analyzer.get_ranges()
            self.initial_ranges[link.name] = ranges
            self._log_ptd()
            volts, amps = _restorable(ranges)
            self.log.info(f"Initial range for Amps is {_range_text(amps)} for Volts is {_range_text(volts)}")

    def _set_ranges(self, link: PtdLink, volts: RangeRequest, amps: RangeRequest) -> None:
        if not link.analyzer.supports_ranges:
            self.log.info(f"Analyzer {link.name} has no settable ranges; ranges left as they are")
            return
        try:
            with link.lock:
                link.analyzer.set_volts_range(volts)
                link.analyzer.set_amps_range(amps)
        except RangesNotApplicable as error:
            self.log.info(f"Ranges not applicable: {error}")
        finally:
            self._log_ptd()

    def _set_ranging_ranges(self) -> None:
        amps: RangeRequest = AUTO
        if self.config.ranging_mode == "max" and self.config.max_amps_range is not None:
            amps = self.config.max_amps_range
        for link in self.links:
            self._set_ranges(link, AUTO, amps)

    def _set_testing_ranges(self, known: PhaseStart | None) -> None:
        for link in self.links:
            if known is not None:
                assert known.max_volts is not None and known.max_amps is not None
                self.testing_ranges[link.name] = (known.max_volts, known.max_amps)
            volts, amps = self.testing_ranges[link.name]
            self.log.info(f"Analyzer {link.name}: testing ranges {volts:.6f} V, {amps:.6f} A")
            self._set_ranges(link, volts, amps)

    def _derive_testing_ranges(self, phase: Phase) -> None:
        for link in self.links:
            tally = self._recorder().tally(link.name, phase.mark)
            choice = ranges_from_maxima(
                tally.max_volts, tally.max_amps, tally.samples, self.config.amps_range_factor
            )
            self.range_choices[link.name] = choice
            self.testing_ranges[link.name] = (choice.volts_range, choice.amps_range)
            self.log.info(
                f"Analyzer {link.name}: ranging max {choice.max_volts:.6f} V, {choice.max_amps:.6f} A "
                f"over {choice.samples} samples; testing ranges {choice.volts_range:.6f} V, "
                f"{choice.amps_range:.6f} A (x{self.config.amps_range_factor:g})"
            )

    def _restore_ranges(self) -> None:
        for link in self.links:
            ranges = self.initial_ranges.get(link.name)
            if ranges is None:
                continue
            volts, amps = _restorable(ranges)
            self.log.info(f"Restoring the initial ranges of analyzer {link.name}")
            self._set_ranges(link, volts, amps)
            self.log.info(f"Set initial values for Amps {_range_text(amps)} and Volts {_range_text(volts)}")

    # -- marks -----------------------------------------------------------------------------------

    def add_mark(self, name: str, event: MarkEvent, arrived: PhaseStamp) -> MarkRecorded:
        with self.lock:
            command = f"session,{self.session_id},mark,{name},{event}"
            self.log.info(f"Got command from the client {command!r}")
            if self.state not in ("ranging", "testing"):
                raise Conflict(
                    f"marks belong inside a ranging or testing run; session {self.session_id} is {self.state}"
                )
            phase = self.phases[self.state]
            if event == "begin":
                if name in phase.open_marks:
                    raise Conflict(f"mark {name!r} has already begun in this {phase.mode} run")
                phase.open_marks.add(name)
            else:
                if name not in phase.open_marks:
                    raise Conflict(f"mark {name!r} has not begun in this {phase.mode} run")
                phase.open_marks.discard(name)
            self.marks.append({"name": name, "event": event, "mode": phase.mode, "time_ns": arrived.wall_ns})
            exchange = Exchange(cmd=command, reply=OK)
            self._record(exchange, arrived)
            return MarkRecorded(name=name, event=event, time_ns=arrived.wall_ns, exchange=exchange)

    # -- the end ---------------------------------------------------------------------------------

    def finish(self, arrived: PhaseStamp) -> SessionDone:
        with self.lock:
            command = f"session,{self.session_id},done"
            self.log.info(f"Got command from the client {command!r}")
            if not self.active:
                raise Conflict(f"session {self.session_id} is already {self.state}{self._because()}")
            self._end("done", arrived)
            exchange = Exchange(cmd=command, reply=OK)
            self._record(exchange, arrived)
            self._write_summary()
            self.persist()
            files = [path for path, _size, _sha1 in list_files(self.folder)]
            return SessionDone(session_id=self.session_id, files=files, exchange=exchange)

    def close_inactive(self, silent_s: float) -> bool:
        """Close a session whose client has not called for `silent_s`: as `done`, state `closed`.

        Returns False when the session ended meanwhile (or the client called after all)."""
        with self.lock:
            if not self.active or time.monotonic() - self.last_call < silent_s:
                return False
            reason = (
                f"closed: no call from the client for {silent_s:g} s (session.client_timeout_s); "
                "its samples and files are kept"
            )
            self.log.warning(reason)
            try:
                self._end("closed", stamp_now())
            except AnalyzerFailed:
                return True  # failed while closing; the failure is the session's reason now
            self.failure = reason
            self._write_summary()
            self.persist()
            return True

    def _end(self, state: SessionState, arrived: PhaseStamp) -> None:
        """Stop a running measurement (keeping its samples), restore ranges, release the analyzers."""
        try:
            if self.state in ("ranging", "testing"):
                self.log.warning(f"{state} during the {self.state} run: stopping it, its samples are kept")
                phase = self.phases[self.state]
                phase.stamps.append(arrived)
                try:
                    self._stop_analyzers(phase)
                finally:
                    self._write_samples(phase)
            self._restore_ranges()
        except AnalyzerError as error:
            raise self.fail(f"{state} failed: {error}") from None
        except StorageError as error:
            raise self.fail(f"{state} failed: samples cannot be recorded: {error}") from None
        finally:
            self._log_ptd()
        self._release_links()
        self.state = state

    def fail(self, reason: str) -> AnalyzerFailed:
        """Fail the session: stop and restore what can be, keep every file, and say why."""
        running = self.phases.get(self.state) if self.state in ("ranging", "testing") else None
        # Failed from now on, but its analyzers are busy until released: no new session before that.
        self.releasing = self._links_open
        self.state = "failed"
        self.failure = reason
        self.log.error(reason)
        for link in self.links:
            try:
                with link.lock:
                    if link.analyzer.running:
                        link.analyzer.stop()
            except AnalyzerError as error:
                self.log.error(f"Analyzer {link.name}: could not stop its measurement: {error}")
        if self.recorder is not None:
            for link in self.links:
                try:
                    self.recorder.drain(link.name)
                except (AnalyzerError, StorageError) as error:
                    self.log.error(f"Analyzer {link.name}: its last samples could not be read: {error}")
            self.recorder.stop()
        if running is not None and not running.samples_written:
            try:
                self._write_samples(running)  # what arrived before the fault
            except OSError as error:
                self.log.error(f"Could not write the samples of the {running.mode} run: {error}")
        try:
            self._restore_ranges()
        except AnalyzerError as error:
            self.log.error(f"Could not restore the initial ranges: {error}")
        self._log_ptd()
        self._release_links()
        self._write_summary()
        self.persist()
        return AnalyzerFailed(f"session {self.session_id} failed: {reason}")

    def _analyzer_fault(self, name: str, reason: str) -> None:
        """The recorder saw an analyzer fail between calls: fail the session from a thread of its own
        (the recorder's threads must be free to end while `fail` stops them)."""

        def fail_now() -> None:
            with self.lock:
                if self.active:
                    mode = self.state if self.state in ("ranging", "testing") else "session"
                    self.fail(f"{mode} run: {reason}" if mode != "session" else reason)

        threading.Thread(target=fail_now, name=f"fault-{self.session_id}", daemon=True).start()

    def _recorder(self) -> Recorder:
        if self.recorder is None:
            raise StorageError(f"{self.folder}: session {self.session_id} has no recorder (not open)")
        return self.recorder

    def _release_links(self) -> None:
        if self.recorder is not None:
            self.recorder.stop()
        if not self._links_open:
            return
        self._log_ptd()
        self._links_open = False
        for link in self.links:
            try:
                self._instrument(link.name).release(link)
            except AnalyzerError as error:
                self.log.error(f"Analyzer {link.name}: closing the connection failed: {error}")
        self._log_ptd(after_close=True)
        self.releasing = False

    def _write_summary(self) -> None:
        """`power/server.json` (after `server.log` is closed, so its checksum is final)."""
        # The reference's keys describe analyzer 1 (the merged file's time base), in the shape its
        # checker reads; every analyzer's own record is in `joulebench.analyzers_ptd`.
        link = self.links[0] if self.links else None
        ptd_messages = link.ptd_messages() if link is not None else []
        ptd_config = link.ptd_config if link is not None else {}
        self.log.close()
        data = build_server_json(
            session_name=self.session_id,
            client_uuid=self.client_uuid,
            server_uuid=self.server_uuid,
            messages=[m.as_json() for m in self.messages],
            phases={
                mode: [as_reference_pair(s) for s in phase.stamps] for mode, phase in self.phases.items()
            },
            ptd_messages=ptd_messages,
            ptd_config=ptd_config,
            results=result_checksums(self.folder),
            joulebench=self._extra(),
        )
        write_server_json(self.power_folder / "server.json", data)

    def _extra(self) -> dict[str, Any]:
        names = [i.name for i in self.instruments]
        traces = {
            name: {"path": file, "sha1": sha1_file(self.folder / file)}
            for name, file in trace_file_names(names).items()
            if (self.folder / file).is_file()
        }
        return {
            "state": self.state,
            "failure": self.failure,
            "submission_valid": self.submission_valid,
            "label": self.label,
            "interval_ms": self.config.interval_ms,
            "settle_s": self.config.settle_s,
            "amps_range_factor": self.config.amps_range_factor,
            "analyzers": [
                {"name": i.name, "endpoint": i.config.endpoint, "model": i.model, "channels": i.channels}
                for i in self.instruments
            ],
            "ranging": {
                name: {
                    "max_volts": c.max_volts,
                    "max_amps": c.max_amps,
                    "volts_range": c.volts_range,
                    "amps_range": c.amps_range,
                    "samples": c.samples,
                }
                for name, c in self.range_choices.items()
            },
            "testing_ranges": {name: list(r) for name, r in self.testing_ranges.items()},
            "phase_stamps_ns": {
                mode: [[s.wall_ns, s.monotonic_ns] for s in phase.stamps]
                for mode, phase in self.phases.items()
            },
            "summaries": {
                mode: [s.model_dump() for s in phase.summaries] for mode, phase in self.phases.items()
            },
            "marks": self.marks,
            "trace": traces.get(names[0]) if len(names) == 1 else None,
            "traces": traces,
            "recorder": self._recorder_record(),
            "alignment": {
                mode: {
                    "tolerance_s": self.config.merge_tolerance_ns / NS_PER_S,
                    "analyzers": [a.as_json() for a in phase.alignment],
                }
                for mode, phase in self.phases.items()
                if phase.alignment
            },
            "analyzers_ptd": [
                {"name": link.name, "ptd_config": link.ptd_config, "ptd_messages": link.ptd_messages()}
                for link in self.links
            ],
        }

    def _recorder_record(self) -> dict[str, Any] | None:
        recorder = self.recorder
        if recorder is None:
            return None
        return {
            "poll_interval_s": self.config.poll_interval_s,
            "format": "Arrow IPC stream, one record batch per poll",
            "analyzers": [
                {
                    "name": link.name,
                    "path": recorder.path(link.name).relative_to(self.folder).as_posix(),
                    "samples": recorder.rows(link.name),
                    "polls": recorder.polls(link.name),
                }
                for link in self.links
            ],
        }

    # -- helpers ---------------------------------------------------------------------------------

    def _record(self, exchange: Exchange, arrived: PhaseStamp, replied: PhaseStamp | None = None) -> None:
        reply_ns = (replied or stamp_now()).wall_ns
        self.messages.append(
            Message(exchange.cmd, arrived.wall_ns / NS_PER_S, exchange.reply, reply_ns / NS_PER_S)
        )
        self.log.info(f"Sending reply to client {exchange.reply!r}")

    def _settle(self, why: str) -> None:
        if self.config.settle_s > 0:
            self.log.info(f"Waiting {self.config.settle_s:g} s for the analyzer to settle ({why})")
            self._sleep(self.config.settle_s)

    def _log_ptd(self, after_close: bool = False) -> None:
        """Copy new PTD exchanges into `server.log` (and a remote daemon's record into `ptd_logs.txt`)."""
        if not self._links_open and not after_close:
            return
        for link in self.links:
            if not after_close:
                link.record()
            messages = link.ptd_messages()
            for message in messages[self._logged_ptd.get(link.name, 0) :]:
                self.log.info(f"Sending to ptd: {message['cmd']!r}")
                self.log.info(f"Reply from ptd: {message['reply']!r}")
            self._logged_ptd[link.name] = len(messages)

    def _instrument(self, name: str) -> Instrument:
        return next(i for i in self.instruments if i.name == name)

    def _because(self) -> str:
        return f" ({self.failure})" if self.failure else ""


def _alignment_summary(alignment: Alignment) -> AlignmentSummary:
    return AlignmentSummary(
        samples=alignment.samples,
        matched=alignment.matched,
        missing=alignment.missing,
        unused=alignment.unused,
        max_abs_error_s=alignment.max_abs_error_s,
        mean_abs_error_s=alignment.mean_abs_error_s,
        mean_offset_s=alignment.mean_offset_s,
    )


def _range_text(value: RangeRequest) -> str:
    return "Auto" if value == AUTO else f"{value:.6f}"
