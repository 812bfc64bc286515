"""`power-analyzer serve`: serve any driver over the PTD protocol, with PTDaemon's console and data logs.

Listens on 127.0.0.1 by default: the PTD protocol has no authentication, so exposing it on a network
is a decision the operator makes with `--host`.
"""

from __future__ import annotations

import argparse
import sys

from analyzers.option_values import OptionError, seconds, source_option, whole_number
from analyzers.ptd.daemon.main import DaemonOptions, run_daemon
from analyzers.ptd.daemon.server import DEFAULT_IDLE_TIMEOUT_S
from analyzers.ptd.wire import DEFAULT_PORT
from analyzers.source_spec import add_source_command


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_source_command(
        subparsers,
        "serve",
        help="serve a power source over the PTDaemon protocol",
        epilog="Exit status: 0 after SIGTERM/SIGINT, 2 a bad option, a device that cannot be used or a port in use.",
        examples="rapl, yokogawa:/dev/ttyUSB0",
    )
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


def options_from_args(args: argparse.Namespace) -> DaemonOptions:
    port = whole_number(args.port, "--port", 0, 65535)
    source = source_option(args)
    driver_options: dict[str, object] = dict(source.options)
    if args.channels is not None:
        driver_options["channels"] = whole_number(args.channels, "--channels", 1, 64)
    idle_s = seconds(args.idle_timeout, "--idle-timeout")
    metrics_port = (
        None if args.metrics_port is None else whole_number(args.metrics_port, "--metrics-port", 1, 65535)
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
    except OptionError as error:
        print(f"power-analyzer serve: {error}", file=sys.stderr)
        return 2
    return run_daemon(options)
