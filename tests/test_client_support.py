"""A small fake director for the client tests: the api.py wire schemas over real HTTP on 127.0.0.1.

It follows the director contract as far as the client can see it: bearer token on every POST, the
four phase stamps, `exchange` records that it also writes into `server.json` `messages`, and a
session folder with the MLPerf files plus one extra (a Parquet placeholder). `/v1/time` can delay
each direction at random, to exercise the offset estimator. No test functions live here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import re
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from analyzers.formats.ptd_time import format_ptd_time
from power_director.api import (
    CLIENT_PROTOCOL,
    SERVER_PROTOCOL,
    AnalyzerInfo,
    AnalyzerSummary,
    ErrorReply,
    Exchange,
    FileEntry,
    FileList,
    PhaseStamp,
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

TOKEN = "s3cret-token"


@dataclass
class FakeSession:
    session_id: str
    label: str
    client_uuid: str
    server_uuid: str
    state: str = "created"
    submission_valid: bool = True
    failure: str | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    phases: dict[str, list[PhaseStamp]] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)


@dataclass
class FakeDirector:
    """State and knobs of the fake; tests read `sessions` and `calls` afterwards."""

    token: str = TOKEN
    delay_max_s: float = 0.0  # random extra delay before the receive stamp and after the transmit stamp
    watts: float = 123.5
    drop_file: str | None = None  # a file the session folder lacks
    extra_server_message: bool = False  # server.json gets one message the client never saw
    sessions: dict[str, FakeSession] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    def stamp(self) -> PhaseStamp:
        return PhaseStamp(wall_ns=time.time_ns(), monotonic_ns=time.monotonic_ns())

    def record(self, session: FakeSession, cmd: str, reply: str, cmd_ns: int) -> Exchange:
        session.messages.append(
            {"cmd": cmd, "cmd_time": cmd_ns / 1e9, "reply": reply, "reply_time": time.time_ns() / 1e9}
        )
        return Exchange(cmd=cmd, reply=reply)

    def delay(self) -> None:
        if self.delay_max_s:
            with self.lock:
                seconds = self.rng.uniform(0.0, self.delay_max_s)
            time.sleep(seconds)

    # --- routes ------------------------------------------------------------------------------------

    def handle(self, method: str, path: str, body: bytes, authorised: bool) -> tuple[int, bytes, str]:
        self.calls.append(f"{method} {path}")
        if method == "POST" and not authorised:
            return _json(401, ErrorReply(detail="missing or wrong bearer token"))
        if method == "GET" and path == "/v1/analyzers":
            info = AnalyzerInfo(
                name="sim", endpoint="ptd://127.0.0.1:1", connected=True, last_watts=self.watts
            )
            return 200, json.dumps([info.model_dump()]).encode(), "application/json"
        if method == "POST" and path == "/v1/sessions":
            return self.create(SessionCreate.model_validate_json(body))
        if method == "GET" and path == "/v1/sessions":  # as the director: it needs the token
            if not authorised:
                return _json(401, ErrorReply(detail="missing or wrong bearer token"))
            listed = [self.info(session).model_dump() for session in self.sessions.values()]
            return 200, json.dumps(listed).encode(), "application/json"
        match = re.fullmatch(r"/v1/sessions/([^/]+)(?:/(.*))?", path)
        if not match or match.group(1) not in self.sessions:
            return _json(404, ErrorReply(detail=f"no such session or route: {path}"))
        session = self.sessions[match.group(1)]
        rest = match.group(2) or ""
        if method == "GET" and rest == "":
            return _json(200, self.info(session))
        if method == "GET" and rest == "files":
            entries = [
                FileEntry(path=name, size=len(data), sha1=hashlib.sha1(data).hexdigest())
                for name, data in sorted(session.files.items())
            ]
            return _json(200, FileList(session_id=session.session_id, files=entries))
        if method == "GET" and rest.startswith("files/"):
            data = session.files.get(rest[len("files/") :])
            if data is None:
                return _json(404, ErrorReply(detail="no such file"))
            return 200, data, "application/octet-stream"
        phase = re.fullmatch(r"(ranging|testing)/(start|stop)", rest)
        if method == "POST" and phase:
            mode, action = phase.groups()
            if action == "start":
                return self.start(session, mode, PhaseStart.model_validate_json(body or b"{}"))
            return self.stop(session, mode)
        if method == "POST" and rest == "done":
            return self.done(session)
        if method == "POST" and rest in ("abort", "heartbeat"):
            if session.state in ("done", "failed"):
                return _json(409, ErrorReply(detail=f"session {session.session_id} is {session.state}"))
            if rest == "abort":
                session.state = "failed"
                session.failure = f"aborted by the client: {SessionAbort.model_validate_json(body).reason}"
            return _json(200, self.info(session))
        return _json(404, ErrorReply(detail=f"no route {method} {path}"))

    def create(self, request: SessionCreate) -> tuple[int, bytes, str]:
        cmd_ns = time.time_ns()
        now = dt.datetime.now(dt.timezone.utc)
        session_id = f"{now:%Y-%m-%d_%H-%M-%S}_{request.label}"
        session = FakeSession(session_id, request.label, request.client_uuid, str(uuid.uuid4()))
        self.sessions[session_id] = session
        exchange = self.record(session, CLIENT_PROTOCOL, SERVER_PROTOCOL, cmd_ns)
        return _json(
            200, SessionCreated(session_id=session_id, server_uuid=session.server_uuid, exchange=exchange)
        )

    def start(self, session: FakeSession, mode: str, ranges: PhaseStart) -> tuple[int, bytes, str]:
        first = self.stamp()
        if ranges.max_volts is not None:
            session.submission_valid = False
        time.sleep(0.01)  # the settle time, shortened
        second = self.stamp()
        session.phases[mode] = [first, second]
        session.state = mode
        exchange = self.record(session, f"session,{session.session_id},start,{mode}", "OK", first.wall_ns)
        started = PhaseStarted(
            session_id=session.session_id,
            mode=mode,  # type: ignore[arg-type]
            mark=f"{session.session_id}_{mode}",
            before_start=first,
            sampling_started=second,
            exchange=exchange,
        )
        return _json(200, started)

    def stop(self, session: FakeSession, mode: str) -> tuple[int, bytes, str]:
        third = self.stamp()
        time.sleep(0.01)
        fourth = self.stamp()
        session.phases[mode] += [third, fourth]
        session.state = "ranged" if mode == "ranging" else "tested"
        folder = "ranging" if mode == "ranging" else "run_1"
        session.files[f"{folder}/spl.txt"] = self.spl(session, mode)
        exchange = self.record(session, f"session,{session.session_id},stop,{mode}", "OK", third.wall_ns)
        summary = AnalyzerSummary(
            name="sim",
            samples=3,
            errors=0,
            avg_power_w=self.watts,
            min_power_w=self.watts,
            max_power_w=self.watts,
            max_volts=230.0,
            max_amps=1.0,
        )
        stopped = PhaseStopped(
            session_id=session.session_id,
            mode=mode,  # type: ignore[arg-type]
            stop_received=third,
            sampling_stopped=fourth,
            analyzers=[summary],
            exchange=exchange,
        )
        return _json(200, stopped)

    def spl(self, session: FakeSession, mode: str) -> bytes:
        begin, end = session.phases[mode][1].wall_ns, session.phases[mode][3].wall_ns
        lines = []
        for at_ns in range(begin, end, 100_000_000):
            lines.append(
                f"Time,{format_ptd_time(at_ns)},Watts,{self.watts:.6f},Volts,230.000000,Amps,1.000000,"
                f"PF,0.990000,Mark,{session.session_id}_{mode}"
            )
        return ("\n".join(lines) + "\n").encode()

    def done(self, session: FakeSession) -> tuple[int, bytes, str]:
        cmd_ns = time.time_ns()
        exchange = self.record(session, f"session,{session.session_id},done", "OK", cmd_ns)
        messages = list(session.messages)
        if self.extra_server_message:
            messages.append({"cmd": "upload", "cmd_time": 0.0, "reply": "OK", "reply_time": 0.0})
        server = {
            "version": "1.0",
            "timezone": 0,
            "messages": messages,
            "uuid": {"client": session.client_uuid, "server": session.server_uuid},
            "session_name": session.session_id,
            "phases": {
                mode: [[s.wall_ns / 1e9, s.monotonic_ns / 1e9] for s in stamps]
                for mode, stamps in session.phases.items()
            },
        }
        session.files["power/server.json"] = json.dumps(server, indent=4).encode()
        session.files["power/server.log"] = b"server 2024-01-01 00:00:00,000 [INFO] fake\n"
        session.files["power/ptd_logs.txt"] = b"01-01-2024 00:00:00.000: fake\n"
        session.files["trace.parquet"] = b"PAR1 not really PAR1"
        if self.drop_file:
            session.files.pop(self.drop_file, None)
        session.state = "done"
        return _json(
            200, SessionDone(session_id=session.session_id, files=sorted(session.files), exchange=exchange)
        )

    def info(self, session: FakeSession) -> SessionInfo:
        return SessionInfo(
            session_id=session.session_id,
            label=session.label,
            state=session.state,  # type: ignore[arg-type]
            created_ns=0,
            client_uuid=session.client_uuid,
            server_uuid=session.server_uuid,
            submission_valid=session.submission_valid,
            failure=session.failure,
        )


def _json(status: int, model: BaseModel) -> tuple[int, bytes, str]:
    return status, model.model_dump_json().encode(), "application/json"


def _handler(director: FakeDirector) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real server: time rounds reuse the connection
        # One write per reply and no Nagle delay: headers and body in separate segments would otherwise
        # wait for the client's delayed ACK (~40 ms), an asymmetry no real server has.
        wbufsize = 1 << 16
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            if self.path == "/v1/time":
                self.time_reply()
            else:
                self.route("GET")

        def do_POST(self) -> None:
            self.route("POST")

        def time_reply(self) -> None:
            director.delay()
            received = time.time_ns()
            transmitted = time.time_ns()
            payload = TimeReply(receive_ns=received, transmit_ns=transmitted).model_dump_json().encode()
            director.delay()
            self.send(200, payload, "application/json")

        def route(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            authorised = self.headers.get("Authorization") == f"Bearer {director.token}"
            try:
                status, payload, kind = director.handle(method, self.path, body, authorised)
            except ValidationError as error:
                status, payload, kind = _json(422, ErrorReply(detail=str(error)))
            self.send(status, payload, kind)

        def send(self, status: int, payload: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


@contextmanager
def fake_director(director: FakeDirector | None = None) -> Iterator[tuple[FakeDirector, str]]:
    """A running fake on an ephemeral loopback port: (state, base URL)."""
    state = director or FakeDirector()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# A LoadGen stand-in that starts fast (stdlib only): two MLLOG lines with the power window, a summary.
_LOADGEN_WRITER = """
import datetime as dt, json, pathlib, sys, time
folder, seconds = pathlib.Path(sys.argv[1]), float(sys.argv[2])
skew = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
stamp = lambda t: dt.datetime.fromtimestamp(t + skew, dt.timezone.utc).strftime("%m-%d-%Y %H:%M:%S.%f")[:-3]
begin = time.time(); time.sleep(seconds); end = time.time()
folder.mkdir(parents=True, exist_ok=True)
lines = [":::MLLOG " + json.dumps({"key": k, "value": v, "time_ms": 0.0}) for k, v in
         (("power_begin", stamp(begin)), ("power_end", stamp(end)), ("result_query_count", 10))]
(folder / "mlperf_log_detail.txt").write_text("\\n".join(lines) + "\\n")
(folder / "mlperf_log_summary.txt").write_text("Result is : VALID\\n")
"""


def workload_command(logs: Path, duration_s: float = 0.2, skew_s: float = 0.0) -> list[str]:
    """A short workload without a meter: it only writes LoadGen-format logs into `logs`."""
    return [sys.executable, "-c", _LOADGEN_WRITER, str(logs), str(duration_s), str(skew_s)]


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
