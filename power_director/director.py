"""The director's shared state: its configured analyzers and its sessions (one active at a time).

One instance per app (`create_app` puts it in `app.state`); nothing module-level. Sessions live in
memory for now; their folders under `<data_dir>/sessions/` hold everything they produced (issue 8
adds listing them again after a restart).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from analyzers.errors import AnalyzerError
from power_director.api import CLIENT_PROTOCOL, AnalyzerInfo, PhaseStamp, SessionCreate
from power_director.config import DirectorConfig
from power_director.errors import AnalyzerUnavailable, BadRequest, Conflict, NotFound
from power_director.instruments import Instrument
from power_director.sessions import Session
from power_director.stamps import stamp_now

SESSIONS_DIR = "sessions"
_SESSION_ID = re.compile(r"^\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d_[-_A-Za-z0-9]{1,64}$")

log = logging.getLogger("power_director")


class Director:
    def __init__(self, config: DirectorConfig, sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config
        self.instruments = [Instrument(analyzer) for analyzer in config.analyzers]
        self.sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._sleep = sleep
        self.sessions_dir = config.data_dir / SESSIONS_DIR
        self._started = False

    def start(self) -> None:
        """Create the data folder and in-process drivers (once); raises OSError or AnalyzerError."""
        if self._started:
            return
        self.sessions_dir.mkdir(parents=True, exist_ok=True)
        for instrument in self.instruments:
            instrument.start()
        self._started = True

    def close(self) -> None:
        for session in list(self.sessions.values()):
            if session.active:
                try:
                    session.finish(stamp_now())
                except Exception as error:  # closing down: report every session, stop for none
                    log.warning("session %s could not be closed cleanly: %s", session.session_id, error)
        for instrument in self.instruments:
            instrument.close()

    # -- sessions --------------------------------------------------------------------------------

    def create_session(self, request: SessionCreate, arrived: PhaseStamp) -> Session:
        if request.client_protocol != CLIENT_PROTOCOL:
            raise BadRequest(
                f"handshake failed: this director speaks {CLIENT_PROTOCOL!r}, the client {request.client_protocol!r}"
            )
        try:
            uuid.UUID(request.client_uuid)
        except ValueError:
            raise BadRequest(f"client_uuid {request.client_uuid!r} is not a UUID") from None
        with self._lock:
            active = next((s for s in self.sessions.values() if s.active), None)
            if active is not None:
                raise Conflict(
                    f"session {active.session_id} is still {active.state}; end it with POST "
                    f"/v1/sessions/{active.session_id}/done first"
                )
            moment = dt.datetime.fromtimestamp(arrived.wall_ns / 1e9, tz=dt.timezone.utc)
            session_id = f"{moment:%Y-%m-%d_%H-%M-%S}_{request.label}"
            folder = self.sessions_dir / session_id
            if session_id in self.sessions or folder.exists():
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
                session.open(request.client_protocol, arrived)
            except AnalyzerError as error:
                session.fail(f"an analyzer could not be reached: {error}")
                raise AnalyzerUnavailable(f"session {session_id} could not start: {error}") from None
        log.info("session %s created for client %s", session_id, request.client_uuid)
        return session

    def session(self, session_id: str) -> Session:
        session = self.sessions.get(session_id)
        if session is None:
            raise NotFound(f"no session {session_id!r} on this director")
        return session

    def session_folder(self, session_id: str) -> Path:
        """A session's folder, also for sessions of an earlier run of the director still on disk."""
        if session_id in self.sessions:
            return self.sessions[session_id].folder
        folder = self.sessions_dir / session_id
        if _SESSION_ID.match(session_id) and folder.is_dir():
            return folder
        raise NotFound(f"no session {session_id!r} on this director")

    # -- analyzers -------------------------------------------------------------------------------

    def analyzer_infos(self) -> list[AnalyzerInfo]:
        return [
            AnalyzerInfo(
                name=i.name,
                endpoint=i.config.endpoint,
                connected=i.link is not None or (i.config.kind == "driver" and i.model is not None),
                model=i.model,
                channels=i.channels,
                last_reading_ns=i.last_reading_ns,
                last_watts=i.last_watts,
                error=i.error,
            )
            for i in self.instruments
        ]
