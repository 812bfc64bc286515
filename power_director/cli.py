"""`power-director`: run the director, or import a reference `server.conf`.

    power-director --config director.toml [--host 127.0.0.1] [--port 4950]
    power-director import-conf server.conf > director.toml
    power-director export-training SESSION_FOLDER OUT [--mode testing | --begin-ns N --end-ns N]
                                   [--result 1] [--per-channel] [--certificate [ANALYZER=]FILE | --raw]

A bad configuration, a port in use or an analyzer that cannot start: one sentence on stderr and
exit status 2. The token comes from $JOULEBENCH_TOKEN or `server.token_file`, never the command line.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import signal
import socket
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType

import uvicorn

from analyzers.errors import AnalyzerError
from power_director.app import create_app
from power_director.calibration import read_calibration, session_corrections
from power_director.config import ConfigError, DirectorConfig, check_supported, load_config, load_token
from power_director.config_import import import_server_conf, render_toml
from power_director.director import Director
from power_director.http_protocol import JoinedWritesH11Protocol
from power_director.session_store import read_record
from power_director.training_export import ExportWindow, export_training
from rules.calibration.certificate import Correction

PROG = "power-director"
EXIT_USAGE = 2


class _Server(uvicorn.Server):
    """uvicorn, except that SIGTERM/SIGINT end the director with status 0 (uvicorn re-raises them)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {
            number: signal.signal(number, self._request_exit) for number in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

    def _request_exit(self, _number: int, _frame: FrameType | None) -> None:
        self.should_exit = True


def _fail(message: str) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return EXIT_USAGE


def import_conf(path: str) -> int:
    try:
        result = import_server_conf(path)
    except ConfigError as error:
        return _fail(str(error))
    for warning in result.warnings:
        print(f"{PROG}: warning: {warning}", file=sys.stderr)
    header = (
        f"joulebench power-director configuration, imported from {path}.\n"
        "Each [[analyzers]] entry launches PTDaemon per session, as the reference director does."
    )
    sys.stdout.write(render_toml(result.config, header))
    return 0


def export_training_cli(args: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog=f"{PROG} export-training",
        description="A session's recorded samples as MLPerf Training power logs: OUT/power/result_<i>/node_<k>.txt",
    )
    parser.add_argument("session_folder", metavar="SESSION_FOLDER", type=Path)
    parser.add_argument("out", metavar="OUT", type=Path)
    parser.add_argument("--mode", choices=("ranging", "testing"), default="testing")
    parser.add_argument(
        "--begin-ns", type=int, default=None, help="time range instead of a phase (UTC epoch ns)"
    )
    parser.add_argument("--end-ns", type=int, default=None)
    parser.add_argument("--result", type=int, default=1, help="run index i of result_<i> (default 1)")
    parser.add_argument("--per-channel", action="store_true", help="one node file per channel")
    parser.add_argument(
        "--certificate",
        action="append",
        default=[],
        metavar="[ANALYZER=]FILE",
        help="correct an analyzer by a power-calibrate certificate (the session's own ones apply anyway)",
    )
    parser.add_argument("--raw", action="store_true", help="write what the meters said, uncorrected")
    parsed = parser.parse_args(args)
    if parsed.raw and parsed.certificate:
        return _fail("export-training: --raw and --certificate contradict each other; give one")
    try:
        record = read_record(parsed.session_folder)
        corrections = {} if parsed.raw else session_corrections(parsed.session_folder, record.analyzers)
        for given in parsed.certificate:
            name, correction = _given_correction(given, record.analyzers)
            corrections[name] = correction
        window = ExportWindow.of(
            record, parsed.mode, parsed.begin_ns, parsed.end_ns, parsed.result, parsed.per_channel
        )
        result = export_training(record, parsed.out, window, corrections)
    except (ValueError, OSError) as error:
        return _fail(str(error))
    for path in result.files:
        print(path)
    corrected = f", {', '.join(result.corrected)} corrected" if result.corrected else ""
    print(
        f"{PROG}: {result.readings} readings in {len(result.files)} node file(s){corrected}", file=sys.stderr
    )
    return 0


def _given_correction(given: str, analyzers: list[str]) -> tuple[str, Correction]:
    """`ANALYZER=FILE`, or `FILE` for a session of one analyzer; ValueError naming what is wrong."""
    name, sep, file = given.partition("=")
    if not sep:
        if len(analyzers) != 1:
            raise ValueError(
                f"--certificate {given}: the session has {len(analyzers)} analyzers "
                f"({', '.join(analyzers)}); say which: ANALYZER=FILE"
            )
        name, file = analyzers[0], given
    if name not in analyzers:
        raise ValueError(
            f"--certificate {given}: the session has no analyzer {name!r} ({', '.join(analyzers)})"
        )
    return name, read_calibration(Path(file), name).correction


def _listen(config: DirectorConfig) -> socket.socket:
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio turns Nagle off only on accepted sockets whose protocol says TCP, and
    # with Nagle on every kept-alive reply (head and body sent apart) waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((config.host, config.port))
    except OSError as error:
        sock.close()
        raise ConfigError(
            f"{config.source}: cannot listen on {config.host}:{config.port}: {error.strerror or error}"
            " (key 'server.host' / 'server.port', or --host / --port)."
        ) from None
    sock.listen(64)
    return sock


def serve(config_path: str, host: str | None, port: int | None) -> int:
    try:
        config = load_config(config_path)
        config = dataclasses.replace(
            config, host=host or config.host, port=config.port if port is None else port
        )
        check_supported(config)
        token = load_token(config)
        director = Director(config)
        # A reference client's `stop` (when `compat.allow_stop`): end as SIGTERM ends the director.
        director.on_stop = lambda: os.kill(os.getpid(), signal.SIGTERM)
        director.start()
    except ConfigError as error:
        return _fail(str(error))
    except AnalyzerError as error:
        return _fail(f"analyzer could not start: {error}")
    except OSError as error:
        return _fail(f"{config.data_dir}: cannot create the data directory: {error.strerror or error}")
    try:
        sock = _listen(config)
    except ConfigError as error:
        director.close()
        return _fail(str(error))
    bound_host, bound_port = sock.getsockname()[:2]
    print(
        f"{PROG}: listening on http://{bound_host}:{bound_port}, data in {config.data_dir}", file=sys.stderr
    )
    if director.door is not None:
        print(
            f"{PROG}: MLCommons reference protocol on {director.door.config.host}:{director.door.port}",
            file=sys.stderr,
        )
    app = create_app(config, token, director)
    # A dashboard's event stream never ends by itself: on SIGTERM it gets 5 s, then it is cut.
    settings = uvicorn.Config(
        app, log_level="info", access_log=False, http=JoinedWritesH11Protocol, timeout_graceful_shutdown=5
    )
    server = _Server(settings)
    server.run(sockets=[sock])
    return 0


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"must be a whole number from 0 to 65535, got {text!r}")
    return int(text)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "export-training":
        return export_training_cli(args[1:])
    if args and args[0] == "import-conf":
        parser = argparse.ArgumentParser(prog=f"{PROG} import-conf", description="server.conf (INI) to TOML")
        parser.add_argument("server_conf", metavar="SERVER_CONF")
        return import_conf(parser.parse_args(args[1:]).server_conf)
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="The joulebench power director (HTTP API on 127.0.0.1 by default). Also: "
        f"{PROG} import-conf SERVER_CONF (a reference director's server.conf as TOML), "
        f"{PROG} export-training SESSION_FOLDER OUT (a session's samples as MLPerf Training power logs).",
        epilog="Exit status: 0 after SIGTERM/SIGINT (an open session is recorded failed), "
        "2 for a bad configuration, a port in use or an analyzer that cannot start.",
    )
    parser.add_argument("--config", required=True, metavar="FILE", help="TOML configuration")
    parser.add_argument(
        "--host", default=None, help="address to listen on (default: the config's, 127.0.0.1)"
    )
    parser.add_argument("--port", default=None, type=_port, help="TCP port (default: the config's, 4950)")
    parsed = parser.parse_args(args)
    return serve(parsed.config, parsed.host, parsed.port)


if __name__ == "__main__":
    sys.exit(main())
