"""The director's HTTP API from the client's side: typed calls, recorded exchanges, one-sentence errors.

Every call that the director records in `server.json` `messages` is recorded here too, with the same
`{cmd, reply}` strings (the reply's `exchange`) and this client's own send/receive times, so that
`client.json` can carry the identical list.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from analyzers.formats.units import NS_PER_S
from power_client.clock import Clock
from power_client.clock_offset import TimeRound
from power_client.errors import DirectorFailed, DirectorRefused, DirectorUnreachable
from power_director.api import (
    API_PREFIX,
    AnalyzerInfo,
    ErrorReply,
    Exchange,
    FileList,
    Mode,
    PhaseStart,
    PhaseStarted,
    PhaseStopped,
    SessionAbort,
    SessionCreate,
    SessionCreated,
    SessionDone,
    SessionInfo,
    TimeReply,
)

Model = TypeVar("Model", bound=BaseModel)
Item = TypeVar("Item", bound=BaseModel)
_ANALYZER_LIST = TypeAdapter(list[AnalyzerInfo])
_SESSION_LIST = TypeAdapter(list[SessionInfo])
log = logging.getLogger("power_client")


@dataclass(frozen=True)
class RecordedMessage:
    """One `messages` entry: the director's strings, this client's times (epoch seconds, as MLPerf writes)."""

    cmd: str
    cmd_time: float
    reply: str
    reply_time: float

    def to_json(self) -> dict[str, Any]:
        return {
            "cmd": self.cmd,
            "cmd_time": self.cmd_time,
            "reply": self.reply,
            "reply_time": self.reply_time,
        }


class DirectorClient:
    """One director at `base_url` (e.g. `http://127.0.0.1:4950`); `token` goes in a Bearer header."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        clock: Clock,
        timeout_s: float = 300.0,
        connect_timeout_s: float = 5.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.clock = clock
        self.messages: list[RecordedMessage] = []
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        # Phase calls block for the director's settle times and the sample fetch, so reads may be long;
        # a director that is down must still be reported quickly, hence the separate connect timeout.
        timeout = httpx.Timeout(timeout_s, connect=connect_timeout_s)
        self._http = httpx.Client(base_url=self.base_url + API_PREFIX, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> DirectorClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- calls -------------------------------------------------------------------------------------

    def time_round(self) -> TimeRound:
        sent_ns = self.clock.wall_ns()
        response = self._send("GET", "/time")
        returned_ns = self.clock.wall_ns()
        reply = self._parse(response, TimeReply)
        return TimeRound(sent_ns, reply.receive_ns, reply.transmit_ns, returned_ns)

    def create_session(self, label: str, client_uuid: str) -> SessionCreated:
        body = SessionCreate(label=label, client_uuid=client_uuid)
        return self._recorded("POST", "/sessions", SessionCreated, body)

    def start_phase(self, session_id: str, mode: Mode, ranges: PhaseStart | None = None) -> PhaseStarted:
        path = f"/sessions/{quote(session_id)}/{mode}/start"
        return self._recorded("POST", path, PhaseStarted, ranges or PhaseStart())

    def stop_phase(self, session_id: str, mode: Mode) -> PhaseStopped:
        return self._recorded("POST", f"/sessions/{quote(session_id)}/{mode}/stop", PhaseStopped, None)

    def done(self, session_id: str) -> SessionDone:
        return self._recorded("POST", f"/sessions/{quote(session_id)}/done", SessionDone, None)

    def heartbeat(self, session_id: str) -> SessionInfo:
        """Not recorded: a sign of life only (the director fails a session whose client went quiet)."""
        return self._parse(self._send("POST", f"/sessions/{quote(session_id)}/heartbeat"), SessionInfo)

    def abort(self, session_id: str, reason: str) -> SessionInfo:
        """End the session as failed with `reason`; not recorded (no `client.json` follows)."""
        body = SessionAbort(reason=reason[:2000])
        return self._parse(self._send("POST", f"/sessions/{quote(session_id)}/abort", body), SessionInfo)

    def session(self, session_id: str) -> SessionInfo:
        return self._parse(self._send("GET", f"/sessions/{quote(session_id)}"), SessionInfo)

    def sessions(self) -> list[SessionInfo]:
        return self._parse_list(self._send("GET", "/sessions"), _SESSION_LIST)

    def files(self, session_id: str) -> FileList:
        return self._parse(self._send("GET", f"/sessions/{quote(session_id)}/files"), FileList)

    def download(self, session_id: str, path: str) -> bytes:
        response = self._send("GET", f"/sessions/{quote(session_id)}/files/{quote(path)}")
        self._raise_for_status(response)
        return response.content

    def analyzers(self) -> list[AnalyzerInfo]:
        return self._parse_list(self._send("GET", "/analyzers"), _ANALYZER_LIST)

    # --- plumbing ----------------------------------------------------------------------------------

    def _recorded(self, method: str, path: str, model: type[Model], body: BaseModel | None) -> Model:
        cmd_ns = self.clock.wall_ns()
        reply = self._parse(self._send(method, path, body), model)
        reply_ns = self.clock.wall_ns()
        exchange = getattr(reply, "exchange", None)
        if not isinstance(exchange, Exchange):
            raise DirectorFailed(f"the director's reply to {method} {path} carries no exchange record")
        log.info("Sending command to the server: %r", exchange.cmd)
        log.info("Got response: %r", exchange.reply)
        self.messages.append(
            RecordedMessage(exchange.cmd, cmd_ns / NS_PER_S, exchange.reply, reply_ns / NS_PER_S)
        )
        return reply

    def _send(self, method: str, path: str, body: BaseModel | None = None) -> httpx.Response:
        content = body.model_dump_json().encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if content is not None else None
        try:
            return self._http.request(method, path, content=content, headers=headers)
        except httpx.TimeoutException:
            raise DirectorUnreachable(
                f"the director at {self.base_url} did not answer {method} {API_PREFIX}{path} in time"
            ) from None
        except httpx.TransportError as error:
            raise DirectorUnreachable(
                f"cannot reach the director at {self.base_url}: {_reason(error)}"
            ) from None

    def _parse(self, response: httpx.Response, model: type[Model]) -> Model:
        self._raise_for_status(response)
        try:
            return model.model_validate_json(response.content)
        except ValidationError:
            raise self._unexpected(response) from None

    def _parse_list(self, response: httpx.Response, adapter: TypeAdapter[list[Item]]) -> list[Item]:
        self._raise_for_status(response)
        try:
            return adapter.validate_json(response.content)
        except ValidationError:
            raise self._unexpected(response) from None

    def _raise_for_status(self, response: httpx.Response) -> None:
        if response.is_success:
            return
        request = f"{response.request.method} {response.request.url.path}"
        detail = _detail(response)
        if response.status_code in (401, 403):
            raise DirectorRefused(
                f"the director at {self.base_url} refused {request} (HTTP {response.status_code}: {detail}); "
                "check JOULEBENCH_TOKEN or --token-file"
            )
        raise DirectorFailed(
            f"the director at {self.base_url} answered HTTP {response.status_code} to {request}: {detail}"
        )

    def _unexpected(self, response: httpx.Response) -> DirectorFailed:
        request = f"{response.request.method} {response.request.url.path}"
        return DirectorFailed(
            f"the director at {self.base_url} sent a reply to {request} that does not fit the API "
            f"(is it a joulebench director of API {API_PREFIX}?): {response.text[:120]!r}"
        )


def _detail(response: httpx.Response) -> str:
    try:
        return ErrorReply.model_validate_json(response.content).detail
    except ValidationError:
        return response.text.strip()[:200] or response.reason_phrase


def _reason(error: httpx.TransportError) -> str:
    # httpx's text is the OS error ("[Errno 111] Connection refused"); some errors have none.
    return str(error) or type(error).__name__
