"""One session: it orchestrates the phases (ranging → testing → done) and every way a session ends.

Which call may change the state is `transitions`; the work has rooms of its own: the analyzers
(`session_analyzers`), a run on the meters (`phase_runner`), PTD ranges (`session_ranges`), the
`server.log` sentences (`session_narration`), `server.json` (`session_summary`). A session ends
`done` when its client says so and `failed` on every other path (analyzer fault, the client's
abort, a client gone quiet, the director stopped), always through `fail`: the run is stopped and
its samples written, ranges restored, analyzers released, both records written with the reason.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from analyzers.errors import AnalyzerError
from analyzers.formats.mlperf_layout import CONSOLE_LOG_NAME, POWER_DIR, SERVER_LOG_NAME
from power_director.api import (
    SERVER_PROTOCOL,
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
from power_director.calibration import calibrations_of, write_calibrations
from power_director.config import SessionConfig
from power_director.errors import AnalyzerFailed
from power_director.instruments import Instrument
from power_director.phase_runner import PhaseRunner
from power_director.ranging import RangingError
from power_director.session_analyzers import SessionAnalyzers
from power_director.session_narration import SessionNarration
from power_director.session_phase import Message, Phase, StartRequest
from power_director.session_ranges import SessionRanges
from power_director.session_store import write_record
from power_director.session_summary import write_session_summary
from power_director.stamps import stamp_now
from power_director.storage import StorageError
from power_director.transitions import ENDING_REASONS, FINAL_STATES, Action, allowed, next_state

OK = "OK"
RUNNING: tuple[SessionState, ...] = ("ranging", "testing")


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
        self.session_id, self.label = session_id, label
        self.client_uuid, self.server_uuid = client_uuid, server_uuid
        self.created_ns = time.time_ns()
        self.folder = folder
        self.instruments = list(instruments)
        self.config = config
        self.lock = threading.RLock()
        self.state: SessionState = "created"
        self.failure: str | None = None
        self.submission_valid = True
        self.messages: list[Message] = []
        self.phases: dict[str, Phase] = {}
        self.marks: list[dict[str, Any]] = []
        self.clock_offset_s: float | None = None  # the client's, as it said at its last phase start
        self.last_call = time.monotonic()
        self.power_folder = folder / POWER_DIR
        self.power_folder.mkdir(parents=True, exist_ok=True)
        # Before any sample: whatever becomes of the session, its folder says how it is corrected.
        write_calibrations(folder, calibrations_of(self.instruments))
        self.narration = SessionNarration(self.power_folder / SERVER_LOG_NAME)
        self.analyzers = SessionAnalyzers(folder, instruments, config, self.narration, fsync_interval_s)
        self.ranges = SessionRanges(config, self.narration, self.analyzers.log_ptd)
        self.runner = PhaseRunner(folder, config, self.analyzers, self.ranges, self.narration, sleep)
        self.persist()

    def open(self, handshake: str, arrived: PhaseStamp, reply: str = SERVER_PROTOCOL) -> Exchange:
        """Connect every analyzer, start the recorder, record the handshake as `messages[0]`."""
        self.narration.command(handshake)
        self.analyzers.open(self.power_folder / CONSOLE_LOG_NAME, self._analyzer_fault)
        exchange = Exchange(cmd=handshake, reply=reply)
        self._record(exchange, arrived)
        self.narration.opened(self.session_id, self.client_uuid, self.server_uuid)
        return exchange

    @property
    def releasing(self) -> bool:
        """True while a failed session still stops, restores and closes its analyzers."""
        return self.analyzers.releasing

    def wait_released(self, timeout_s: float) -> bool:
        """True once a failing session has given its analyzers back (within `timeout_s`)."""
        deadline = time.monotonic() + timeout_s
        if self.lock.acquire(timeout=timeout_s):  # `fail` holds it until the release has begun
            self.lock.release()
            # With a faulted analyzer the release goes on in a thread of its own after `fail` returns.
            self.analyzers.join(max(0.0, deadline - time.monotonic()))
        return not self.releasing

    @property
    def active(self) -> bool:
        return self.state not in FINAL_STATES

    def touch(self) -> None:
        """The client called: it is still there (see `session.client_timeout_s`)."""
        self.last_call = time.monotonic()

    def persist(self) -> None:
        """`session.json` as the session is now (what a restarted director lists)."""
        phases = {mode: phase.mark for mode, phase in self.phases.items()}
        names = [i.name for i in self.instruments]
        write_record(self.folder, self.info(), names, phases, self.config.interval_ms)

    def info(self) -> SessionInfo:
        return SessionInfo.model_validate(self, from_attributes=True)

    # -- the client's calls ----------------------------------------------------------------------

    def start_phase(self, mode: Mode, request: PhaseStart, arrived: PhaseStamp) -> PhaseStarted:
        start = StartRequest(self.session_id, mode, request)
        with self.lock:
            self.narration.command(start.command)
            if not self.active:
                self._next(start.action)  # refused: the session has ended
            start.check()
            target = self._next(start.action)
            mark = f"{self.session_id}_{mode}"
            with self._failing_on_error(f"{mode} start failed"):
                phase = self.phases[mode] = self.runner.begin(mode, mark, start.known_ranges, arrived)
            started = phase.stamps[1]
            if request.clock_offset_s is not None:
                self.clock_offset_s = request.clock_offset_s
            self.submission_valid = self.submission_valid and start.known_ranges is None
            self.state = target
            self.persist()
            exchange = self._record(Exchange(cmd=start.command, reply=OK), arrived, started)
            return PhaseStarted(
                session_id=self.session_id,
                mode=mode,
                mark=mark,
                before_start=arrived,
                sampling_started=started,
                exchange=exchange,
            )

    def stop_phase(self, mode: Mode, arrived: PhaseStamp) -> PhaseStopped:
        with self.lock:
            command = f"session,{self.session_id},stop,{mode}"
            self.narration.command(command)
            target = self._next(Action.STOP_RANGING if mode == "ranging" else Action.STOP_TESTING)
            phase = self.phases[mode]
            with self._failing_on_error(f"{mode} stop failed"):
                stopped = self.runner.end(phase, arrived)
            self.state = target
            self.persist()
            exchange = self._record(Exchange(cmd=command, reply=OK), arrived)
            return PhaseStopped(
                session_id=self.session_id,
                mode=mode,
                stop_received=arrived,
                sampling_stopped=stopped,
                analyzers=phase.summaries,
                exchange=exchange,
            )

    def add_mark(self, name: str, event: MarkEvent, arrived: PhaseStamp) -> MarkRecorded:
        with self.lock:
            command = f"session,{self.session_id},mark,{name},{event}"
            self.narration.command(command)
            self._next(Action.MARK)
            phase = self.phases[self.state]
            phase.mark_event(name, event)
            self.marks.append({"name": name, "event": event, "mode": phase.mode, "time_ns": arrived.wall_ns})
            exchange = self._record(Exchange(cmd=command, reply=OK), arrived)
            return MarkRecorded(name=name, event=event, time_ns=arrived.wall_ns, exchange=exchange)

    def heartbeat(self) -> SessionInfo:
        """Refused once the session ended; no lock: a beat must not wait for a settling phase call."""
        self._next(Action.HEARTBEAT)
        return self.info()

    def finish(self, arrived: PhaseStamp) -> SessionDone:
        """`done`: a running measurement is stopped (its samples kept), ranges restored, links closed."""
        with self.lock:
            command = f"session,{self.session_id},done"
            self.narration.command(command)
            target = self._next(Action.DONE)
            with self._failing_on_error("done failed"):
                if self.state in RUNNING:
                    self.runner.cut_short(self.phases[self.state], arrived)
                self.runner.close()
            self.analyzers.release()
            self.state = target
            exchange = self._record(Exchange(cmd=command, reply=OK), arrived)
            self._write_records()
            files = [path for path, _size, _sha1 in list_files(self.folder)]
            return SessionDone(session_id=self.session_id, files=files, exchange=exchange)

    # -- the other endings: each one is `fail` with its reason -----------------------------------

    def abort(self, reason: str) -> SessionInfo:
        """The client gave up (its workload failed, it was interrupted, …): failed, with its reason."""
        with self.lock:
            self.narration.command(f"session,{self.session_id},abort")
            self._next(Action.ABORT)
            self.fail(ENDING_REASONS[Action.ABORT].format(reason=reason), Action.ABORT)
            return self.info()

    def time_out(self, silent_s: float) -> bool:
        """Fail the session if its client has been silent for `silent_s`; False if it was not."""
        with self.lock:
            if not allowed(self.state, Action.CLIENT_TIMEOUT) or time.monotonic() - self.last_call < silent_s:
                return False
            self.fail(ENDING_REASONS[Action.CLIENT_TIMEOUT].format(silent_s=silent_s), Action.CLIENT_TIMEOUT)
            return True

    def shut_down(self) -> None:
        """The director is stopping (SIGTERM, SIGINT): failed, never `done` — nobody said done."""
        with self.lock:
            if allowed(self.state, Action.SHUTDOWN):
                during = self.state if self.state in RUNNING else f"the session (it was {self.state})"
                self.fail(ENDING_REASONS[Action.SHUTDOWN].format(during=during), Action.SHUTDOWN)
        self.analyzers.join()  # a release still closing a failed analyzer: its records come last

    def fail(self, reason: str, action: Action = Action.FAULT) -> AnalyzerFailed:
        """Stop and restore what can be, keep every sample and file, and say why (in every record)."""
        running = self.phases.get(self.state) if self.state in RUNNING else None
        reason = self.analyzers.first_fault or reason  # the first cause seen is the one to record
        self.state, self.failure = self._next(action), reason
        self.narration.failed(reason)
        self.analyzers.wind_down()
        if running is not None and not running.samples_written:
            try:
                self.runner.write_samples(running)  # what arrived before the end
            except OSError as error:
                self.narration.problem(f"Could not write the samples of the {running.mode} run: {error}")
        self.ranges.restore_quietly(self.analyzers.healthy())
        self.persist()  # failed from now on, also if the director dies before the release is done
        self.analyzers.release(then=self._write_records)
        return AnalyzerFailed(f"session {self.session_id} failed: {reason}")

    def _analyzer_fault(self, name: str, reason: str) -> None:
        """The recorder saw an analyzer fail: give it up now (a call blocked on it ends), and fail the
        session from a thread of its own (the recorder's threads must be free to end meanwhile)."""
        first = self.analyzers.note_fault(name, reason, self.state if self.state in RUNNING else None)

        def fail_now() -> None:
            with self.lock:
                if allowed(self.state, Action.FAULT):
                    self.fail(first)

        threading.Thread(target=fail_now, name=f"fault-{self.session_id}", daemon=True).start()

    # -- helpers ---------------------------------------------------------------------------------

    def _next(self, action: Action) -> SessionState:
        return next_state(self.state, action, self.session_id, self.failure)

    @contextmanager
    def _failing_on_error(self, what: str) -> Iterator[None]:
        """An analyzer, storage or ranging error inside fails the session, raised as AnalyzerFailed."""
        try:
            yield
        except AnalyzerError as error:
            raise self.fail(f"{what}: {error}") from None
        except StorageError as error:
            raise self.fail(f"{what}: samples cannot be recorded: {error}") from None
        except RangingError as error:
            raise self.fail(f"ranging gave no usable ranges: {error}") from None
        finally:
            self.analyzers.log_ptd()

    def record_exchange(self, exchange: Exchange, arrived: PhaseStamp, replied: PhaseStamp) -> None:
        """An exchange the session did not handle itself (the reference protocol's `time`, `new`, …),
        in `messages` as the reference records every command of its connection."""
        with self.lock:
            self.messages.append(Message.of(exchange, arrived, replied))

    def _record(self, exchange: Exchange, arrived: PhaseStamp, replied: PhaseStamp | None = None) -> Exchange:
        self.messages.append(Message.of(exchange, arrived, replied or stamp_now()))
        self.narration.reply(exchange.reply)
        return exchange

    def _write_records(self) -> None:
        """At the end: `server.json` (closing `server.log`), then `session.json`."""
        write_session_summary(self)
        self.persist()
