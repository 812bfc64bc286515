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

import threading
from pathlib import Path
from typing import Any

from analyzers.base import Analyzer
from analyzers.errors import AnalyzerError
from analyzers.live_counters import LiveCounters
from analyzers.ptd.daemon.handler import PtdCommandHandler
from analyzers.ptd.daemon.logs import ConsoleLog, banner
from analyzers.ptd.daemon.requests import DaemonConfig
from analyzers.ptd.daemon.server import PtdServer
from analyzers.ptd.identity import daemon_version
from analyzers.registry import create_analyzer
from analyzers.trace import Trace
from power_director.config_analyzers import AnalyzerConfig
from power_director.ptd_links import LocalDaemonLink, PtdLink, RemoteLink

AFTER_FAULT_S = 1.0
"""How long a session start waits on an analyzer that just failed (not the connect timeout meant
for a daemon still starting)."""
PTD_DATA_LOG = "ptd_data.log"
"""A launched daemon's `-l` data log, kept in the session folder next to (not inside) the MLPerf folders."""


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
            return RemoteLink(self.name, analyzer, ptd_config, console, config.ptd)
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
        return LocalDaemonLink(self.name, analyzer, ptd_config, server, console)

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


def _channel_options(channel: tuple[int, ...] | None) -> dict[str, Any]:
    """PTD's `-c start,count` numbers the channels from `start` in `SR`/`RR`."""
    if channel and len(channel) == 2:
        return {"first_channel": channel[0]}
    return {}
