"""The configured analyzers, and how a session reaches each one: always through the PTD protocol.

A session opens a `PtdLink` per analyzer and closes it at the end, as the reference director
launches PTDaemon per session. Whatever the configuration, the session drives a `PtdAnalyzer`
(`analyzers.ptd.client.analyzer`) over loopback or the network, so `ptd_messages` are the real
exchange and one code path serves every kind:

- `driver`: an in-process driver (e.g. `simulated`), served for the session's lifetime by our own
  PTD daemon (`analyzers.ptd`) on an ephemeral 127.0.0.1 port; its console log is `ptd_logs.txt`.
- `launch`: a PTDaemon-compatible executable started per session with PTDaemon's command line;
  its console output is `ptd_logs.txt`.
- `ptd`: a daemon someone else runs. Its console stays on its host, so `ptd_logs.txt` is the
  director's own record of the exchange, in PTDaemon's console format, and says so in its header.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from analyzers.base import Analyzer
from analyzers.errors import AnalyzerError
from analyzers.live_counters import LiveCounters
from analyzers.ptd.client.analyzer import PtdAnalyzer
from analyzers.ptd.client.protocol import RL_FORMS
from analyzers.ptd.client.replies import PtdMessage
from analyzers.ptd.client.transport import ConnectPolicy
from analyzers.ptd.daemon.handler import DaemonConfig, PtdCommandHandler
from analyzers.ptd.daemon.logs import ConsoleLog, banner
from analyzers.ptd.daemon.server import PtdServer
from analyzers.ptd.identity import daemon_version
from analyzers.registry import create_analyzer
from analyzers.trace import Trace
from power_director.config import AnalyzerConfig

GIVEN_UP = ConnectPolicy(connect_timeout_s=0.5, attempt_timeout_s=0.5, command_timeout_s=0.5)
"""How long the clean-up after an analyzer's fault waits on that analyzer, per exchange."""
AFTER_FAULT_S = 1.0
PTD_DATA_LOG = "ptd_data.log"
"""A launched daemon's `-l` data log, kept in the session folder next to (not inside) the MLPerf folders."""


class PtdLink:
    """One analyzer as one session sees it: a connected `Analyzer` plus its PTD record.

    `lock` serialises everything said to the analyzer: the session's commands and the recorder's
    polls. Polls (`poll`) read samples with `RL` while a measurement runs; their reads (and the
    `RL,*,*` refusal a one-channel daemon answers the first) are counted in `polls` and left out of
    `ptd_messages`, which would otherwise grow with the length of the run (thousands of `RL` lines
    an hour) and bury the exchange the reference director has, whose only reads follow `Stop`.
    Anything else a poll causes (a reconnect's `Hello`) stays.
    """

    def __init__(self, name: str, analyzer: Analyzer, ptd_config: dict[str, Any]) -> None:
        self.name = name
        self.analyzer = analyzer
        self.ptd_config = ptd_config
        self.lock = threading.RLock()
        self.polls = 0
        self.given_up = False
        """The analyzer failed: nothing more is asked of it that the clean-up does not need."""
        self.note: str | None = None
        """One sentence for the session's start about this analyzer's records (e.g. no console log)."""
        self.unlisted_messages: list[dict[str, str]] = []
        """Exchanges the session's era leaves out of `ptd_messages` (see `unlisted`), kept here."""

    @property
    def ptd(self) -> PtdAnalyzer | None:
        """The analyzer as a PTD client (every session analyzer is one; None only in unit tests)."""
        return self.analyzer if isinstance(self.analyzer, PtdAnalyzer) else None

    def ptd_messages(self) -> list[dict[str, str]]:
        with self.lock:
            messages = getattr(self.analyzer, "messages_json", None)
            return list(messages()) if callable(messages) else []

    @contextlib.contextmanager
    def unlisted(self) -> Iterator[None]:
        """The exchanges inside the block go to `unlisted_messages`, not `ptd_messages`: reads a
        2021-22 director took from PTD's data log instead of the wire."""
        with self.lock:
            messages = self._client_messages()
            before = len(messages)
            try:
                yield
            finally:
                self.unlisted_messages += [m.as_json() for m in messages[before:]]
                del messages[before:]

    def poll(self) -> Trace:
        """The samples not fetched yet (the recorder's periodic read)."""
        with self.lock:
            messages = self._client_messages()
            before = len(messages)
            try:
                return self.analyzer.fetch()
            finally:
                new = messages[before:]
                kept = [m for m in new if not _sample_read(m)]
                self.polls += len(new) - len(kept)
                messages[before:] = kept

    def _client_messages(self) -> list[PtdMessage]:
        ptd = self.ptd
        return ptd.client.messages if ptd is not None else []

    def give_up(self) -> None:
        """The analyzer failed: end any exchange still waiting on it, and let what is said to it from
        now on (the clean-up's `Stop`, `SR`, the release) fail within a second rather than retry for
        the configured connect timeout. An in-process driver has nothing to wait on."""
        self.given_up = True
        if self.ptd is not None:
            self.ptd.client.interrupt(GIVEN_UP)

    def daemon_exit(self) -> str | None:
        """For a daemon the director launched: None while it runs, else how it ended."""
        daemon = getattr(self.analyzer, "daemon", None)
        exit_reason = getattr(daemon, "exit_reason", None)
        return exit_reason() if callable(exit_reason) else None

    def record(self) -> None:
        """Bring the console record up to date (only a remote daemon needs the director to write it)."""

    def close(self) -> None:
        self.analyzer.close()


class _LocalDaemonLink(PtdLink):
    """An in-process driver behind our PTD daemon on an ephemeral loopback port."""

    def __init__(
        self, name: str, analyzer: Analyzer, ptd_config: dict[str, Any], server: PtdServer, console: TextIO
    ) -> None:
        super().__init__(name, analyzer, ptd_config)
        self._server = server
        self._console = console

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._server.close()  # ends the daemon session; the driver itself stays open
            self._console.close()


class _RemoteLink(PtdLink):
    """A daemon the director does not run.

    joulebench's daemon (`power-analyzer serve`, `power-analyzer-ptd`) hands its console over
    (`JB-Console`, unrecorded): `ptd_logs.txt` is its preamble, then its lines from the session's
    connection on, fetched after every session step and before the link closes, as a per-session
    PTDaemon's console would read. Any other daemon (SPEC PTDaemon answers `Unknown command`) keeps
    its console on its host: `ptd_logs.txt` is then the director's own record of the exchange, in
    PTDaemon's console format, says so in its first lines, and `note` says so for the session's start.
    """

    def __init__(
        self, name: str, analyzer: Analyzer, ptd_config: dict[str, Any], console: TextIO, endpoint: str
    ) -> None:
        super().__init__(name, analyzer, ptd_config)
        self._console_file = console
        self._console = ConsoleLog(console)
        self._written = 0
        self._console_connections = 0
        self._console_next = self._start_console()
        if self._console_next is None:
            console.write(
                f"joulebench power-director: record of its exchange with the PTD daemon at {endpoint}.\n"
                "This is not the daemon's own console log, which stays on the host that runs it.\n\n"
            )
            console.flush()
            self.note = (
                f"Analyzer {name}: the PTD daemon at {endpoint} does not hand over its console log (SPEC "
                "PTDaemon does not), so power/ptd_logs.txt will hold the director's record of the exchange; "
                "to have PTDaemon's own console there, let the director launch it ([analyzers.launch]) on "
                "the host its meter is wired to"
            )
        self.record()

    def _start_console(self) -> int | None:
        """The daemon's preamble into `ptd_logs.txt` and its console position; None: it keeps none."""
        ptd = self.ptd
        if ptd is None:
            return None
        try:
            preamble = ptd.client.console("preamble")
            since = ptd.client.console("connection") if preamble is not None else None
        except AnalyzerError:
            return None
        if preamble is None or since is None:
            return None
        # As a per-session PTDaemon's console reads: its start, then this client's connection on.
        self._console.raw(preamble[1] + since[1])
        self._console_connections = len(ptd.client.connections)
        return int(since[0]) + len(since[1])

    def record(self) -> None:
        with self.lock:
            if self._console_next is None:
                self._record()
            else:
                self._fetch_console()

    def _fetch_console(self) -> None:
        assert self._console_next is not None and self.ptd is not None
        client = self.ptd.client
        if self.given_up or not client.connected:
            return  # a failed or closed daemon: no reconnecting just for its console
        which = str(self._console_next)
        if len(client.connections) != self._console_connections:
            # Connected anew (the daemon may have restarted and numbers its lines afresh).
            self._console_connections = len(client.connections)
            self._console_file.write(
                "joulebench power-director: connected to the daemon again; its console from that connection on:\n"
            )
            which = "connection"
        try:
            fetched = client.console(which)
        except AnalyzerError as error:
            self._console_file.write(
                f"joulebench power-director: the daemon's console is incomplete here ({error})\n"
            )
            self._console_file.flush()
            return
        if fetched is None:
            return
        first, lines = int(fetched[0]), fetched[1]
        if which != "connection" and first > self._console_next:
            self._console_file.write(
                f"joulebench power-director: {first - self._console_next} console lines were no longer kept by the daemon\n"
            )
        self._console.raw(lines)
        self._console_next = first + len(lines)

    def _record(self) -> None:
        messages = self.ptd_messages()
        for message in messages[self._written :]:
            command, reply = message["cmd"], message["reply"]
            if command.upper().startswith("GO,") and not reply.lower().startswith("error"):
                parts = command.split(",")
                self._console.log(f"Go with mark '{parts[3] if len(parts) > 3 else 'notset'}'")
            self._console.log(f"Request from the director: {command}")
            self._console.log(f"Response to client sent: {reply}")
            if command.upper() == "STOP" and reply.startswith("Stopping"):
                self._console.log("Completed test")
        self._written = len(messages)

    def close(self) -> None:
        try:
            self.record()  # the daemon's last lines, while the connection is still there
            super().close()
        finally:
            if self._console_next is None:
                self.record()
            self._console_file.close()


class Instrument:
    """A configured analyzer. An in-process driver is created once and kept; PTD endpoints per session."""

    def __init__(self, config: AnalyzerConfig) -> None:
        self.config = config
        self._driver: Analyzer | None = None
        self._lock = threading.Lock()
        self.link: PtdLink | None = None
        self.model: str | None = None
        self.channels: int | None = None
        self.error: str | None = None
        self.live = LiveCounters()
        """Kept for the director's lifetime, across sessions: the dashboard's and /metrics' figures."""

    @property
    def name(self) -> str:
        return self.config.name

    def start(self) -> None:
        """Create an in-process driver now, so a wrong driver or option fails at start-up."""
        if self.config.kind == "driver":
            self._driver = create_analyzer(str(self.config.driver), self.config.device, **self.config.options)
            identity = self._driver.identify()
            self.model = identity.model
            self.channels = self._driver.channel_count

    def open(self, session_dir: Path, ptd_logs: Path) -> PtdLink:
        """Connect for one session; `ptd_logs` receives the daemon's console (or our record of it)."""
        with self._lock:
            try:
                link = self._open(session_dir, ptd_logs)
            except AnalyzerError as error:
                self.error = str(error)
                raise
            self.error = None
            self.link = link
            self.model = link.analyzer.identify().model
            self.channels = link.analyzer.channel_count
            return link

    def release(self, link: PtdLink | None = None) -> None:
        """Close `link` (default: the current one); a session only ever closes its own link."""
        with self._lock:
            if link is None:
                link = self.link
            if self.link is link:
                self.link = None
        if link is not None:
            link.close()

    def note_chunk(self, chunk: Trace) -> None:
        """Samples the recorder wrote, into the live counters (which hold the last valid reading)."""
        self.live.observe(chunk)

    def close(self) -> None:
        self.release()
        if self._driver is not None:
            self._driver.close()
            self._driver = None

    # -- per kind --------------------------------------------------------------------------------

    def _open(self, session_dir: Path, ptd_logs: Path) -> PtdLink:
        config = self.config
        if config.kind == "driver":
            return self._open_local(ptd_logs)
        if config.kind == "launch":
            return self._open_launched(session_dir, ptd_logs)
        assert config.ptd is not None
        channel = config.channel
        # An analyzer that just failed gets a second to answer, not the connect timeout meant for a
        # daemon still starting: a new session is refused at once while it is still dead or frozen.
        hurry = {"first_contact_timeout_s": AFTER_FAULT_S} if self.error else {}
        analyzer = create_analyzer("ptd", config.ptd, **_channel_options(channel), **hurry)
        ptd_config: dict[str, Any] = {
            "command": [],
            "device_type": config.device_type,
            "interface_flag": "",
            "device_port": config.ptd,
            "channel": list(channel) if channel else None,
        }
        console = ptd_logs.open("a", encoding="utf-8")
        try:
            return _RemoteLink(self.name, analyzer, ptd_config, console, config.ptd)
        except BaseException:
            console.close()
            analyzer.close()
            raise

    def _open_local(self, ptd_logs: Path) -> PtdLink:
        driver = self._driver
        if driver is None:
            raise AnalyzerError(self.name, "the in-process driver is not started")
        console = ptd_logs.open("a", encoding="utf-8")
        try:
            log = ConsoleLog(console)
            source = f"joulebench driver '{self.config.driver}', in the director's process"
            log.raw(banner(daemon_version(), driver.identify().model, source, None))
            session = PtdCommandHandler(driver, log, config=DaemonConfig(idle_interval_ms=None))
            session.announce()
            server = PtdServer(session, "127.0.0.1", 0)
        except BaseException:
            console.close()
            raise
        try:
            log.log(f"Establishing the listener on port {server.port}...")
            server.serve_in_thread()
            analyzer = create_analyzer("ptd", f"ptd://127.0.0.1:{server.port}")
        except BaseException:
            server.close()
            console.close()
            raise
        # Re-serving an upstream PTD daemon (driver "ptd"), the meter is that daemon's: its address,
        # and the device type the configuration names for it.
        upstream = self.config.driver == "ptd"
        ptd_config: dict[str, Any] = {
            "command": [],
            "device_type": self.config.device_type,
            "interface_flag": "",
            "device_port": self.config.device if upstream else self.config.endpoint,
            "channel": list(self.config.channel) if self.config.channel else None,
        }
        return _LocalDaemonLink(self.name, analyzer, ptd_config, server, console)

    def _open_launched(self, session_dir: Path, ptd_logs: Path) -> PtdLink:
        launch = self.config.launch
        assert launch is not None
        command = [launch.executable, "-l", str(session_dir / PTD_DATA_LOG), "-p", str(launch.network_port)]
        if launch.gpib_board is not None:
            command += ["-b", str(launch.gpib_board)]
        if launch.channel:
            command += ["-c", ",".join(str(c) for c in launch.channel)]
        if launch.dc:
            command.append("-D")
        if launch.interface_flag:
            command.append(launch.interface_flag)
        command += [str(launch.device_type), launch.device_port]
        analyzer = create_analyzer(
            "ptd",
            f"ptd://127.0.0.1:{launch.network_port}",
            launch=command,
            console_log=str(ptd_logs),
            connect_timeout_s=launch.startup_timeout_s,
            **_channel_options(launch.channel),
        )
        ptd_config: dict[str, Any] = {
            "command": command,
            "device_type": launch.device_type,
            "interface_flag": launch.interface_flag,
            "dc_flag": "-D" if launch.dc else None,
            "device_port": launch.device_port,
            "channel": list(launch.channel) if launch.channel else None,
        }
        return PtdLink(self.name, analyzer, ptd_config)


def _sample_read(message: PtdMessage) -> bool:
    """A poll's `RL` exchange: a read (`Last N samples`) or a form the daemon refused."""
    return message.cmd in RL_FORMS


def _channel_options(channel: tuple[int, ...] | None) -> dict[str, Any]:
    """PTD's `-c start,count` numbers the channels from `start` in `SR`/`RR`."""
    if channel and len(channel) == 2:
        return {"first_channel": channel[0]}
    return {}
