"""The director's shared state: its configured analyzers and its sessions (one active at a time).

One instance per app (`create_app` puts it in `app.state`); nothing module-level. Sessions of this
run live in memory; those of earlier runs are found at start-up from their `session.json` (see
`session_store`), the interrupted ones marked failed (`recovery`), and listed and served as well.
A watchdog thread fails a session whose client went quiet (`session.client_timeout_s`: no call,
not even a heartbeat); stopping the director fails the open session with that reason, never `done`.
The data directory is checked before every new session (`disk`).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from analyzers.errors import AnalyzerError
from analyzers.formats.mlperf_layout import POWER_DIR
from power_director.api import (
    CLIENT_PROTOCOL,
    AnalyzerInfo,
    Exchange,
    PhaseStamp,
    SessionCreate,
    SessionInfo,
    TrainingExport,
    TrainingExported,
)
from power_director.calibration import session_corrections
from power_director.config import ConfigError, DirectorConfig
from power_director.disk import MIB, check_data_dir
from power_director.errors import AnalyzerUnavailable, BadRequest, Conflict, NotFound
from power_director.instruments import Instrument
from power_director.recovery import recover_all
from power_director.reference_door import ReferenceDoor
from power_director.session_store import StoredSession, read_record, scan
from power_director.sessions import Session
from power_director.storage import StorageError
from power_director.training_export import ExportError, ExportWindow, NoSuchRun, export_training

SESSIONS_DIR = "sessions"
RELEASE_WAIT_S = 1.0
"""A new session waits this long for a failed one to give its analyzers back (usually milliseconds)."""
TRAINING_DIR = "training"
_SESSION_ID = re.compile(r"^\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d_[-_A-Za-z0-9]{1,64}$")

log = logging.getLogger("power_director")


class Director:
    def __init__(self, config: DirectorConfig, sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config
        self.instruments = [Instrument(analyzer) for analyzer in config.analyzers]
        self.sessions: dict[str, Session] = {}
        self.stored: dict[str, StoredSession] = {}
        self._lock = threading.Lock()
        self._sleep = sleep
        self.sessions_dir = config.data_dir / SESSIONS_DIR
        self._started = False
        self._closing = threading.Event()
        self._watchdog: threading.Thread | None = None
        self.release_wait_s = RELEASE_WAIT_S
        self.door: ReferenceDoor | None = None
        self.on_stop: Callable[[], None] | None = None
        """What a reference client's `stop` does once it has gone (the CLI: end the process)."""

    @property
    def closing(self) -> bool:
        """True once `close` began: long-lived responses (the dashboard's event stream) end."""
        return self._closing.is_set()

    def start(self) -> None:
        """Create the data folder, find earlier sessions, start in-process drivers (once);
        raises OSError or AnalyzerError."""
        if self._started:
            return
        self.sessions_dir.mkdir(parents=True, exist_ok=True)
        found, problems = scan(self.sessions_dir)
        for problem in problems:
            log.warning("%s", problem)
        for stored in recover_all(found, self.config.session.merge_tolerance_ms):
            self.stored[stored.info.session_id] = stored
        for index, instrument in enumerate(self.instruments):  # as the configuration's keys count
            try:
                instrument.start()
            except AnalyzerError as error:
                raise ConfigError(
                    f"{self.config.source}: analyzer {instrument.name!r} (key 'analyzers[{index}]', driver "
                    f"{instrument.config.driver!r}) could not start: {error}"
                ) from None
        if self.config.session.client_timeout_s > 0:
            self._watchdog = threading.Thread(target=self._watch_clients, name="client-watchdog", daemon=True)
            self._watchdog.start()
        if self.config.compat is not None:
            self.door = ReferenceDoor(self, self.config.compat, on_stop=self._stop_requested)
            try:
                self.door.start()
            except OSError as error:
                raise ConfigError(
                    f"{self.config.source}: cannot listen on {self.config.compat.host}:{self.config.compat.port} "
                    f"(key 'compat.listen'): {error.strerror or error}"
                ) from None
        self._started = True

    def _stop_requested(self) -> None:
        if self.on_stop is not None:
            self.on_stop()

    def close(self) -> None:
        self._closing.set()
        if self.door is not None:
            self.door.close()
        if self._watchdog is not None:
            self._watchdog.join()
        for session in list(self.sessions.values()):
            try:
                session.shut_down()
            except Exception as error:  # closing down: report every session, stop for none
                log.warning("session %s could not be ended cleanly: %s", session.session_id, error)
        for instrument in self.instruments:
            instrument.close()

    # -- sessions --------------------------------------------------------------------------------

    def create_session(
        self, request: SessionCreate, arrived: PhaseStamp, handshake: Exchange | None = None
    ) -> Session:
        """A new session; `handshake` is what opened it when not the HTTP API's (the reference door's)."""
        if request.client_protocol != CLIENT_PROTOCOL:
            raise BadRequest(
                f"handshake failed: this director speaks {CLIENT_PROTOCOL!r}, the client {request.client_protocol!r}"
            )
        try:
            uuid.UUID(request.client_uuid)
        except ValueError:
            raise BadRequest(f"client_uuid {request.client_uuid!r} is not a UUID") from None
        # Before anything is connected or created: a session must not fail half-way for want of disk.
        check_data_dir(self.sessions_dir, round(self.config.min_free_mb * MIB))
        with self._lock:
            releasing = next((s for s in self.sessions.values() if s.releasing), None)
            if releasing is not None and not releasing.wait_released(self.release_wait_s):
                raise Conflict(
                    f"session {releasing.session_id} {releasing.state} and is still releasing its "
                    "analyzers; retry in a few seconds"
                )
            active = next((s for s in self.sessions.values() if s.active), None)
            if active is not None:
                raise Conflict(
                    f"session {active.session_id} is still {active.state}; end it with: "
                    f"power-client abort --session {active.session_id}"
                )
            moment = dt.datetime.fromtimestamp(arrived.wall_ns / 1e9, tz=dt.timezone.utc)
            session_id = f"{moment:%Y-%m-%d_%H-%M-%S}_{request.label}"
            folder = self.sessions_dir / session_id
            if session_id in self.sessions or session_id in self.stored or folder.exists():
                raise Conflict(f"session {session_id} exists already; retry in a second")
            folder.mkdir(parents=True)
            session = Session(
                session_id=session_id,
                label=request.label,
                client_uuid=request.client_uuid,
                server_uuid=str(uuid.uuid4()),
                folder=folder,
                instruments=self.instruments,
                config=self.config.session,
                sleep=self._sleep,
            )
            self.sessions[session_id] = session
        with session.lock:
            try:
                if handshake is None:
                    session.open(request.client_protocol, arrived)
                else:
                    session.open(handshake.cmd, arrived, handshake.reply)
            except AnalyzerError as error:
                session.fail(f"an analyzer could not be reached: {error}")
                raise AnalyzerUnavailable(f"session {session_id} could not start: {error}") from None
            except StorageError as error:
                session.fail(f"samples cannot be recorded: {error}")
                raise AnalyzerUnavailable(f"session {session_id} could not start: {error}") from None
        log.info("session %s created for client %s", session_id, request.client_uuid)
        return session

    def session(self, session_id: str) -> Session:
        """A session of this run; every call naming it counts as a sign of life from its client."""
        session = self.sessions.get(session_id)
        if session is None:
            if session_id in self.stored:
                stored = self.stored[session_id].info
                raise Conflict(
                    f"session {session_id} belongs to an earlier run of the director and is {stored.state}"
                    + (f" ({stored.failure})" if stored.failure else "")
                )
            raise NotFound(f"no session {session_id!r} on this director")
        session.touch()
        return session

    def session_info(self, session_id: str) -> SessionInfo:
        if session_id in self.stored and session_id not in self.sessions:
            return self.stored[session_id].info
        return self.session(session_id).info()

    def session_infos(self) -> list[SessionInfo]:
        """Every session: earlier runs' first (oldest first), then this run's."""
        earlier = [s.info for name, s in self.stored.items() if name not in self.sessions]
        return [*earlier, *(session.info() for session in self.sessions.values())]

    def forget_session(self, session_id: str) -> None:
        """Remove an ended session and its folder (the reference protocol's `cleanup`)."""
        with self._lock:
            session = self.sessions.get(session_id)
            if session is not None and (session.active or session.releasing):
                raise Conflict(f"session {session_id} is still {session.state}; end it before cleaning it up")
            folder = self.session_folder(session_id)
            self.sessions.pop(session_id, None)
            self.stored.pop(session_id, None)
        shutil.rmtree(folder, ignore_errors=True)
        log.info("session %s removed (cleanup)", session_id)

    def session_folder(self, session_id: str) -> Path:
        """A session's folder, also for sessions of an earlier run of the director still on disk."""
        if session_id in self.sessions:
            self.sessions[session_id].touch()
            return self.sessions[session_id].folder
        if session_id in self.stored:
            return self.stored[session_id].folder
        folder = self.sessions_dir / session_id
        if _SESSION_ID.match(session_id) and folder.is_dir() and not folder.is_symlink():
            return folder
        raise NotFound(f"no session {session_id!r} on this director")

    # -- exports ---------------------------------------------------------------------------------

    def export_training(self, session_id: str, request: TrainingExport) -> TrainingExported:
        """Write `<session>/training/power/result_<i>/node_<k>.txt` (replacing an earlier export)."""
        folder = self.session_folder(session_id)
        try:
            record = read_record(folder)
        except ValueError as error:
            raise NotFound(f"session {session_id} has no recording to export: {error}") from None
        try:
            window = ExportWindow.of(
                record,
                request.mode or "testing",
                request.begin_ns,
                request.end_ns,
                request.result_index,
                request.per_channel,
            )
        except NoSuchRun as missing:
            raise Conflict(f"session {session_id} has no {missing.mode} run to export") from None
        try:
            corrections = {} if request.raw else session_corrections(folder, record.analyzers)
        except ValueError as error:
            raise Conflict(f"session {session_id} cannot be exported corrected: {error}") from None
        target = folder / TRAINING_DIR
        # Each run index is its own export: replace that run's node files, keep the others.
        shutil.rmtree(target / POWER_DIR / f"result_{request.result_index}", ignore_errors=True)
        try:
            result = export_training(record, target, window, corrections)
        except ExportError as error:
            raise BadRequest(str(error)) from None
        return TrainingExported(
            session_id=session_id,
            files=[path.relative_to(folder).as_posix() for path in result.files],
            readings=result.readings,
            corrected=result.corrected,
        )

    # -- clients that vanished -------------------------------------------------------------------

    def _watch_clients(self) -> None:
        timeout_s = self.config.session.client_timeout_s
        while not self._closing.wait(min(1.0, timeout_s / 4)):
            for session in list(self.sessions.values()):
                if session.active and session.time_out(timeout_s):
                    log.warning("session %s failed: no word from its client", session.session_id)

    # -- analyzers -------------------------------------------------------------------------------

    def analyzer_infos(self) -> list[AnalyzerInfo]:
        return [
            AnalyzerInfo(
                name=i.name,
                endpoint=i.config.endpoint,
                connected=i.link is not None or (i.config.kind == "driver" and i.model is not None),
                model=i.model,
                channels=i.channels,
                last_reading_ns=view.last_reading_ns,
                last_watts=view.watts,
                error=i.error,
            )
            for i, view in ((i, i.live.view()) for i in self.instruments)
        ]
