"""The director's configuration: a TOML file parsed at the edge into frozen dataclasses.

Every problem is a `ConfigError` whose message is one sentence naming the file and the key, so the
CLI can print it and exit non-zero. The layout (see `examples/director.toml`):

    [server]    host, port, data_dir, token_file, min_free_mb
    [session]   era, settle_s, interval_ms, amps_range_factor, ranging_mode, max_amps_range,
                poll_interval_s, analyzer_stall_s, client_timeout_s, merge_tolerance_ms
    [[analyzers]]  name and exactly one of: driver (+ options), ptd = "ptd://host:port", [launch];
                   optionally certificate (+ certificate_source), see `power_director.calibration`
    [compat]    listen = "127.0.0.1:4950", clients = [...], allow_stop: the MLCommons reference
                protocol's door (`power_director.reference_door`), off unless `listen` is given
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from power_director.config_analyzers import AnalyzerConfig, parse_analyzers
from power_director.config_table import ConfigError, ConfigTable
from power_director.ptd_sequence import ERAS, Era, sequence_for

if TYPE_CHECKING:
    pass

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

TOKEN_ENV = "JOULEBENCH_TOKEN"
DEFAULT_PORT = 4950
DEFAULT_SETTLE_S = 10.0
"""The reference director waits 10 s after setting ranges and before `Stop`."""
DEFAULT_AMPS_RANGE_FACTOR = 1.1
"""Current rule (reference director since 2023): the testing current range is 1.1 × the ranging maximum."""
MIN_TOKEN_CHARS = 16
DEFAULT_POLL_INTERVAL_S = 0.25
"""Four reads a second: a director killed with kill -9 loses at most a quarter of a second."""
MAX_POLL_INTERVAL_S = 1.0
"""The recorder flushes at least every second, whatever the configuration."""
DEFAULT_MIN_FREE_MB = 64
MIN_STALL_S = 5.0
"""A meter that delivers nothing for 5 s (or five of its intervals) while measuring has stalled."""
DEFAULT_CLIENT_TIMEOUT_S = 60.0
"""Twelve missed heartbeats (the client beats every 5 s): a client that died, not one that is slow."""

RangingMode = Literal["auto", "max"]


@dataclass(frozen=True)
class SessionConfig:
    settle_s: float = DEFAULT_SETTLE_S
    interval_ms: int = 1000
    amps_range_factor: float = DEFAULT_AMPS_RANGE_FACTOR
    ranging_mode: RangingMode = "auto"
    era: Era = "current"
    """Which reference director's PTD command sequence sessions follow (`power_director.ptd_sequence`)."""
    max_amps_range: float | None = None
    """Current range used while ranging when `ranging_mode = "max"` (the meter's largest, e.g. 20 A)."""
    poll_interval_s: float = DEFAULT_POLL_INTERVAL_S
    """How often the recorder reads each analyzer's new samples (and flushes them to disk)."""
    analyzer_stall_s: float | None = None
    """No new sample for this long while measuring fails the session; None: 5 intervals, at least 5 s."""
    client_timeout_s: float = DEFAULT_CLIENT_TIMEOUT_S
    """A session with no call from its client (a heartbeat counts) for this long fails; 0: never."""
    merge_tolerance_ms: float | None = None
    """How far apart two analyzers' samples may be to share a merged line; None: half an interval."""

    @property
    def stall_s(self) -> float:
        if self.analyzer_stall_s is not None:
            return self.analyzer_stall_s
        return max(MIN_STALL_S, 5 * self.interval_ms / 1000)

    @property
    def merge_tolerance_ns(self) -> int:
        tolerance_ms = (
            self.merge_tolerance_ms if self.merge_tolerance_ms is not None else self.interval_ms / 2
        )
        return round(tolerance_ms * 1_000_000)


@dataclass(frozen=True)
class CompatConfig:
    """The reference protocol's door: where it listens, who may use it, whether `stop` is obeyed."""

    host: str
    port: int
    clients: tuple[str, ...] = ("127.0.0.1", "::1")
    allow_stop: bool = False


@dataclass(frozen=True)
class DirectorConfig:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    data_dir: Path = Path("director-data")
    token_file: Path | None = None
    min_free_mb: float = DEFAULT_MIN_FREE_MB
    """A session does not start when the data directory has less free space than this (507)."""
    session: SessionConfig = field(default_factory=SessionConfig)
    analyzers: tuple[AnalyzerConfig, ...] = ()
    compat: CompatConfig | None = None
    """The MLCommons reference protocol's door; None: closed."""
    source: str = "<config>"
    """Where the configuration came from, for messages."""


def load_config(path: str | Path) -> DirectorConfig:
    """Read and check a TOML configuration file."""
    where = str(path)
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{where}: no such configuration file.") from None
    except OSError as error:
        raise ConfigError(f"{where}: cannot read the configuration: {error.strerror or error}.") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{where}: not valid TOML: {error}.") from None
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{where}: not UTF-8 text (byte {error.start}); a configuration is a TOML file."
        ) from None
    base = Path(path).resolve().parent
    return parse_config(data, where, base)


def parse_config(data: dict[str, Any], where: str, base: Path | None = None) -> DirectorConfig:
    """Check an already-parsed TOML document; relative paths are taken from `base`."""
    root = ConfigTable(data, where, "")
    server = root.table("server") or ConfigTable({}, where, "server.")
    session = root.table("session") or ConfigTable({}, where, "session.")
    compat_table = root.table("compat")
    raw_analyzers = root.get("analyzers")
    root.reject_unknown()

    host = server.string("host", "127.0.0.1") or "127.0.0.1"
    port = server.whole("port", DEFAULT_PORT, 0, 65535)
    data_dir = Path(server.string("data_dir", "director-data") or "director-data")
    token_file_text = server.string("token_file")
    min_free_mb = server.number("min_free_mb", DEFAULT_MIN_FREE_MB, 0.0)
    server.reject_unknown()
    if base is not None and not data_dir.is_absolute():
        data_dir = base / data_dir
    token_file = None
    if token_file_text:
        token_file = Path(token_file_text)
        if base is not None and not token_file.is_absolute():
            token_file = base / token_file

    mode = session.string("ranging_mode", "auto")
    if mode not in ("auto", "max"):
        raise session.fail("ranging_mode", f'must be "auto" or "max", got {mode!r}')
    era = session.string("era", "current")
    if era not in ERAS:
        raise session.fail("era", f"must be {' or '.join(repr(e) for e in ERAS)}, got {era!r}")
    era_factor = sequence_for(era).amps_range_factor
    session_config = SessionConfig(
        settle_s=session.number("settle_s", DEFAULT_SETTLE_S, 0.0) or 0.0,
        interval_ms=session.whole("interval_ms", 1000, 1, 60_000) or 1000,
        amps_range_factor=session.number("amps_range_factor", era_factor, 1.0) or era_factor,
        ranging_mode=mode,  # type: ignore[arg-type]
        era=era,
        max_amps_range=session.number("max_amps_range", None, 0.0, above=True),
        poll_interval_s=session.number("poll_interval_s", DEFAULT_POLL_INTERVAL_S, 0.0, above=True)
        or DEFAULT_POLL_INTERVAL_S,
        # `sample_timeout_s` is the name this setting had before; configurations written then still work.
        analyzer_stall_s=session.number("analyzer_stall_s", None, 0.0, above=True)
        or session.number("sample_timeout_s", None, 0.0, above=True),
        client_timeout_s=session.number("client_timeout_s", DEFAULT_CLIENT_TIMEOUT_S, 0.0) or 0.0,
        merge_tolerance_ms=session.number("merge_tolerance_ms", None, 0.0),
    )
    if session_config.poll_interval_s > MAX_POLL_INTERVAL_S:
        raise session.fail(
            "poll_interval_s",
            f"must be at most {MAX_POLL_INTERVAL_S:g} (samples reach the disk at least every second), "
            f"got {session_config.poll_interval_s:g}",
        )
    session.reject_unknown()

    analyzers = parse_analyzers(raw_analyzers, where, base)
    if session_config.ranging_mode == "max" and session_config.max_amps_range is None:
        raise session.fail("max_amps_range", 'is required when ranging_mode = "max"')
    server_port = port if port is not None else DEFAULT_PORT
    compat = _compat(compat_table, host, server_port) if compat_table is not None else None
    return DirectorConfig(
        host=host,
        port=server_port,
        compat=compat,
        data_dir=data_dir,
        token_file=token_file,
        min_free_mb=min_free_mb if min_free_mb is not None else DEFAULT_MIN_FREE_MB,
        session=session_config,
        analyzers=analyzers,
        source=where,
    )


def _compat(table: ConfigTable, server_host: str, server_port: int) -> CompatConfig | None:
    import ipaddress

    listen = table.string("listen")
    clients = table.get("clients")
    allow_stop = table.boolean("allow_stop", False)
    table.reject_unknown()
    if listen is None:
        if clients is not None or allow_stop:
            raise table.fail("listen", "is missing: the other [compat] keys apply to the door it opens")
        return None
    host, sep, port_text = listen.rpartition(":")
    host = host.strip("[]")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535 or not host:
        raise table.fail("listen", f'must look like "127.0.0.1:4950", got {listen!r}')
    port = int(port_text)
    wildcard = {"0.0.0.0", "::", ""}
    if (
        port == server_port
        and port != 0
        and (host == server_host or host in wildcard or server_host in wildcard)
    ):
        raise table.fail(
            "listen",
            f"collides with the HTTP API on {server_host}:{server_port} (key 'server.port'); "
            "give one of them another port",
        )
    allowed: tuple[str, ...] = ("127.0.0.1", "::1")
    if clients is not None:
        if not isinstance(clients, list) or not all(isinstance(c, str) for c in clients):
            raise table.fail("clients", "must be a list of IP addresses or networks")
        for client in clients:
            try:
                ipaddress.ip_network(client, strict=False)
            except ValueError:
                raise table.fail("clients", f"holds {client!r}, not an IP address or network") from None
        allowed = tuple(clients)
    return CompatConfig(host=host, port=port, clients=allowed, allow_stop=allow_stop)


def check_supported(config: DirectorConfig) -> None:
    """What this director version can run: one or more analyzers per session.

    Several analyzers are recorded side by side and merged by time into the summed `spl.txt` form."""
    if not config.analyzers:
        raise ConfigError(f"{config.source}: key 'analyzers' is empty; add one [[analyzers]] table.")


# -- the token ---------------------------------------------------------------------------------


def load_token(config: DirectorConfig, environ: dict[str, str] | None = None) -> str:
    """The bearer token: `$JOULEBENCH_TOKEN`, else the first line of `server.token_file`."""
    env = os.environ if environ is None else environ
    token = env.get(TOKEN_ENV, "").strip()
    origin = f"${TOKEN_ENV}"
    if not token and config.token_file is not None:
        origin = str(config.token_file)
        try:
            lines = config.token_file.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise ConfigError(
                f"{config.token_file}: cannot read the token file: {error.strerror or error}."
            ) from None
        except UnicodeDecodeError:
            raise ConfigError(f"{config.token_file}: the token file is not UTF-8 text.") from None
        token = lines[0].strip() if lines else ""
        if not token:
            raise ConfigError(
                f"{config.token_file}: the token file (key 'server.token_file') has no token on its first line."
            )
    if not token:
        raise ConfigError(
            f"{config.source}: no token: set ${TOKEN_ENV} or key 'server.token_file' "
            "(every state-changing call needs it)."
        )
    if len(token) < MIN_TOKEN_CHARS:
        raise ConfigError(f"{origin}: the token is shorter than {MIN_TOKEN_CHARS} characters.")
    return token
