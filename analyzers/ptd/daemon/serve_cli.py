"""`power-analyzer serve`: serve any driver over the PTD protocol, with PTDaemon's console and data logs.

Listens on 127.0.0.1 by default: the PTD protocol has no authentication, so exposing it on a network
is a decision the operator makes with `--host`.
"""

from __future__ import annotations

import argparse
import sys

from analyzers.ptd.daemon.main import DaemonOptions, run_daemon
from analyzers.ptd.daemon.server import DEFAULT_IDLE_TIMEOUT_S
from analyzers.ptd.wire import DEFAULT_PORT
from analyzers.source_spec import SourceSpecError, add_source_arguments, resolve_source


class _OptionError(ValueError):
    """A bad option value; the message is the sentence shown to the user."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve a power source over the PTDaemon protocol",
        epilog="Exit status: 0 after SIGTERM/SIGINT, 2 a bad option, a device that cannot be used or a port in use.",
    )
    add_source_arguments(parser, "rapl, yokogawa:/dev/ttyUSB0")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    # Numbers are parsed in the handler, so a bad one is one sentence rather than argparse's usage dump.
    parser.add_argument(
        "--port", default=str(DEFAULT_PORT), metavar="N", help=f"TCP port (default {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--channels", default=None, metavar="N", help="channel count (simulated meter option)"
    )
    parser.add_argument("-l", "--data-log", default=None, metavar="DATALOG", help="PTD data log file (-l)")
    parser.add_argument("--dc", action="store_true", help="answer as a DC meter (DC-RL instead of RL)")
    parser.add_argument(
        "--idle-timeout",
        default=f"{DEFAULT_IDLE_TIMEOUT_S:g}",
        metavar="S",
        help="close a client that sends nothing for S seconds outside a measurement; 0: never "
        f"(default {DEFAULT_IDLE_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--metrics-port",
        default=None,
        metavar="N",
        help="also serve Prometheus /metrics on --host:N (no authentication, like PTD itself)",
    )
    parser.set_defaults(handler=run)


def _whole(text: str, option: str, minimum: int, maximum: int) -> int:
    if not text.isdigit() or not minimum <= int(text) <= maximum:
        raise _OptionError(f"{option} must be a whole number from {minimum} to {maximum}, got {text!r}")
    return int(text)


def _seconds(text: str, option: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise _OptionError(f"{option} must be a number of seconds, 0 or more, got {text!r}")
    return value


def options_from_args(args: argparse.Namespace) -> DaemonOptions:
    port = _whole(args.port, "--port", 0, 65535)
    try:
        source = resolve_source(args.source, args.driver, args.device)
    except SourceSpecError as error:
        raise _OptionError(str(error)) from None
    driver_options: dict[str, object] = dict(source.options)
    if args.channels is not None:
        driver_options["channels"] = _whole(args.channels, "--channels", 1, 64)
    idle_s = _seconds(args.idle_timeout, "--idle-timeout")
    metrics_port = (
        None if args.metrics_port is None else _whole(args.metrics_port, "--metrics-port", 1, 65535)
    )
    return DaemonOptions(
        idle_timeout_s=idle_s or None,
        driver=source.driver,
        device=source.device,
        host=args.host,
        port=port,
        data_log=args.data_log,
        dc=args.dc,
        driver_options=driver_options,
        metrics_port=metrics_port,
    )


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM/SIGINT; a driver failure propagates as AnalyzerError (one sentence, exit 2)."""
    try:
        options = options_from_args(args)
    except _OptionError as error:
        print(f"power-analyzer serve: {error}", file=sys.stderr)
        return 2
    return run_daemon(options)
