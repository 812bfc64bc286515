"""How one session sees one analyzer: a `PtdLink`, the connected `PtdAnalyzer` plus the PTD record.

Three kinds (see `instruments`): a plain link to a daemon whose console the session has (launched
per session), `LocalDaemonLink` (an in-process driver behind our daemon on a loopback port) and
`RemoteLink` (a daemon someone else runs: `ptd_logs.txt` is then its console record fetched over
`JB-Console`, or the director's own record of the exchange, read from the client's typed record).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from analyzers.base import Analyzer
from analyzers.errors import AnalyzerError
from analyzers.ptd.client.analyzer import PtdAnalyzer
from analyzers.ptd.client.replies import PtdMessage
from analyzers.ptd.client.transport import ConnectPolicy
from analyzers.ptd.daemon.logs import ConsoleLog
from analyzers.ptd.daemon.server import PtdServer
from analyzers.trace import Trace

GIVEN_UP = ConnectPolicy(connect_timeout_s=0.5, attempt_timeout_s=0.5, command_timeout_s=0.5)
"""How long the clean-up after an analyzer's fault waits on that analyzer, per exchange."""


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
            return self.ptd.messages_json() if self.ptd is not None else []

    def exchanges(self) -> list[PtdMessage]:
        with self.lock:
            return self.ptd.client.record.exchanges() if self.ptd is not None else []

    @contextlib.contextmanager
    def unlisted(self) -> Iterator[None]:
        """The exchanges inside the block go to `unlisted_messages`, not `ptd_messages`: reads a
        2021-22 director took from PTD's data log instead of the wire."""
        with self.lock:
            moved: list[PtdMessage] = []
            try:
                with self._aside(lambda _message: True) as moved:
                    yield
            finally:
                self.unlisted_messages += [m.as_json() for m in moved]

    def poll(self) -> Trace:
        """The samples not fetched yet (the recorder's periodic read)."""
        with self.lock:
            reads: list[PtdMessage] = []
            try:
                with self._aside(lambda message: message.read) as reads:
                    return self.analyzer.fetch()
            finally:
                self.polls += len(reads)

    def _aside(
        self, which: Callable[[PtdMessage], bool]
    ) -> contextlib.AbstractContextManager[list[PtdMessage]]:
        return self.ptd.client.record.aside(which) if self.ptd is not None else contextlib.nullcontext([])

    def give_up(self) -> None:
        """The analyzer failed: end any exchange still waiting on it, and let what is said to it from
        now on (the clean-up's `Stop`, `SR`, the release) fail within a second rather than retry for
        the configured connect timeout. An in-process driver has nothing to wait on."""
        self.given_up = True
        if self.ptd is not None:
            self.ptd.client.interrupt(GIVEN_UP)

    def daemon_exit(self) -> str | None:
        """For a daemon the director launched: None while it runs, else how it ended."""
        return self.ptd.daemon_exit() if self.ptd is not None else None

    def record(self) -> None:
        """Bring the console record up to date (only a remote daemon needs the director to write it)."""

    def close(self) -> None:
        self.analyzer.close()


class LocalDaemonLink(PtdLink):
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


class RemoteLink(PtdLink):
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
        messages = self.exchanges()
        for message in messages[self._written :]:
            if message.started is not None:
                self._console.log(f"Go with mark '{message.started}'")
            self._console.log(f"Request from the director: {message.cmd}")
            self._console.log(f"Response to client sent: {message.reply}")
            if message.completed:
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
