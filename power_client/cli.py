"""`power-client`: measure a benchmark's energy through a joulebench director.

    power-client run --director URL --output DIR --loadgen-logs DIR [--label L]
                     [--no-ranging --max-volts V --max-amps A] -- COMMAND...
    power-client offset --director URL
    power-client abort --director URL [--session ID] [--reason TEXT]

The token comes from JOULEBENCH_TOKEN or --token-file, never from the command line. Exit statuses
are `EXIT_STATUSES` (also in `--help`); a run that fails after its session opened aborts that
session on the director first, so the next run can start.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from power_client.clock import Clock, SkewedClock, SystemClock
from power_client.clock_offset import InconsistentRounds, measure_offset
from power_client.errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    ClientError,
    ClockOutOfBounds,
    NoOpenSession,
    Stopped,
    UsageError,
)
from power_client.ntp_check import check_ntp
from power_client.session_client import DirectorClient
from power_client.session_run import ClockLimits, RunOutcome, RunRequest, run_session
from power_client.signals import stop_on_signals
from power_director.api import FINAL_STATES, LABEL_PATTERN, PhaseStart

TOKEN_ENV = "JOULEBENCH_TOKEN"
EXIT_STATUSES = """exit status of run (and offset):
  0    done: the folder is complete and its file lists are exactly MLPerf's
  2    bad usage (options, an output folder that is not empty, an unreadable token file)
  3    the director is unreachable
  4    the director refused the token
  5    clock out of bounds
  6    the workload failed to start or exited non-zero
  7    no LoadGen log from a run (none, or more than one)
  8    the director answered with an error, or its files do not fit
  10   the director failed the session during a run (an analyzer died or stalled)
  130  interrupted (SIGINT)    143  terminated (SIGTERM)
  A run that fails after its session opened aborts the session first (the reason is recorded).
exit status of abort:
  0 the session was aborted, 2 bad usage, 3 unreachable, 4 token refused,
  8 the director refused (e.g. the session has ended already), 9 no open session"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="power-client",
        description="Run a benchmark twice (ranging, testing) under a joulebench director and assemble "
        "the MLPerf power folder.",
        epilog=EXIT_STATUSES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="action", required=True)
    run = _command(commands, "run", "a full session: ranging and testing runs of COMMAND")
    _director_options(run)
    run.add_argument(
        "--output", required=True, type=Path, help="the performance folder to create (new or empty)"
    )
    run.add_argument("--loadgen-logs", required=True, type=Path, help="where COMMAND writes its LoadGen logs")
    run.add_argument("--label", default="run", help="session label, [-_A-Za-z0-9] (default: run)")
    run.add_argument(
        "--extras", type=Path, help="folder for files outside the MLPerf layout (default: OUTPUT-extras)"
    )
    run.add_argument(
        "--no-ranging", action="store_true", help="skip ranging; needs --max-volts and --max-amps"
    )
    run.add_argument("--max-volts", type=float, help="known voltage range for --no-ranging")
    run.add_argument("--max-amps", type=float, help="known current range for --no-ranging")
    run.add_argument("--show-workload-output", action="store_true", help="let COMMAND print to this terminal")
    _timeout_option(run)
    run.add_argument(
        "--on-analyzer-failure",
        choices=("stop", "finish"),
        default="stop",
        help="when the director fails the session mid-run (a meter died): stop the workload at once "
        "(default), or let it finish; the run fails either way (exit 10)",
    )
    run.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]: the benchmark to run")
    offset = _command(commands, "offset", "measure the clock offset to the director and check it")
    _director_options(offset)
    _timeout_option(offset, default_s=10.0)
    abort = _command(
        commands, "abort", "end a session left open (e.g. by a client that was killed), as failed"
    )
    _connection_options(abort)
    _timeout_option(abort, default_s=60.0)
    abort.add_argument("--session", metavar="ID", help="the session (default: the director's open one)")
    abort.add_argument(
        "--reason", default="ended by hand with power-client abort", help="recorded as the failure"
    )
    return parser


def _command(commands: Any, name: str, summary: str) -> argparse.ArgumentParser:
    """A subcommand whose --help ends with the exit statuses."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=summary,
        description=summary[0].upper() + summary[1:] + ".",
        epilog=EXIT_STATUSES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def _timeout(args: argparse.Namespace) -> float:
    if not 0 < args.timeout < float("inf"):
        raise UsageError(f"--timeout must be a positive number of seconds, got {args.timeout}")
    return float(args.timeout)


def _timeout_option(parser: argparse.ArgumentParser, default_s: float = 600.0) -> None:
    why = ": a phase call waits for the director's settling" if default_s >= 60 else ""
    parser.add_argument(
        "--timeout",
        type=float,
        default=default_s,
        metavar="S",
        help=f"seconds to wait for one director call (default {default_s:g}{why})",
    )


def _connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--director", required=True, metavar="URL", help="e.g. http://127.0.0.1:4950")
    parser.add_argument("--token-file", type=Path, help=f"file holding the token (default: ${TOKEN_ENV})")


def _director_options(parser: argparse.ArgumentParser) -> None:
    _connection_options(parser)
    parser.add_argument(
        "--rounds", type=int, default=32, help="time rounds per offset measurement (default 32)"
    )
    parser.add_argument(
        "--max-clock-offset",
        type=float,
        default=0.2,
        metavar="S",
        help="limit of |director − client| (default 0.2 s)",
    )
    parser.add_argument(
        "--max-clock-uncertainty",
        type=float,
        default=0.05,
        metavar="S",
        help="limit of its uncertainty (default 0.05 s)",
    )
    parser.add_argument(
        "--ntp-server", metavar="HOST[:PORT]", help="also check this machine's clock against NTP"
    )
    parser.add_argument(
        "--ntp-timeout", type=float, default=2.0, metavar="S", help="seconds to wait for NTP (default 2)"
    )
    parser.add_argument(
        "--simulate-clock-skew",
        type=float,
        default=0.0,
        metavar="S",
        help="testing aid: act as if this machine's clock ran S seconds ahead (default 0)",
    )
    parser.add_argument(
        "--max-ntp-offset",
        type=float,
        default=0.4,
        metavar="S",
        help="limit of |NTP − client| (default 0.4 s)",
    )


def main(argv: Sequence[str] | None = None, clock: Clock | None = None) -> int:
    """The console script; `clock` lets tests run the client on a skewed clock."""
    args = build_parser().parse_args(argv)
    if clock is None:
        skew = getattr(args, "simulate_clock_skew", 0.0)
        clock = SkewedClock(skew) if skew else SystemClock()
    try:
        if args.action == "offset":
            return _offset(args, clock)
        if args.action == "abort":
            return _abort(args, clock)
        with stop_on_signals():
            outcome = run_session(_run_request(args), clock)
    except ClientError as error:
        print(f"power-client: {error}", file=sys.stderr)
        return error.exit_code
    except Stopped as stopped:
        print(f"power-client: stopped by {stopped.signal_name}", file=sys.stderr)
        return stopped.exit_code
    except KeyboardInterrupt:
        print("power-client: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    _print_outcome(outcome)
    return EXIT_OK


def _run_request(args: argparse.Namespace) -> RunRequest:
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise UsageError("no workload: put the benchmark command after --, e.g. -- python bench.py")
    if not re.fullmatch(LABEL_PATTERN, args.label):
        raise UsageError(f"the label {args.label!r} may only hold letters, digits, '-' and '_' (1 to 64)")
    ranges = None
    if args.no_ranging:
        if args.max_volts is None or args.max_amps is None or args.max_volts <= 0 or args.max_amps <= 0:
            raise UsageError("--no-ranging needs positive --max-volts and --max-amps")
        ranges = PhaseStart(max_volts=args.max_volts, max_amps=args.max_amps)
    elif args.max_volts is not None or args.max_amps is not None:
        raise UsageError("--max-volts and --max-amps are for --no-ranging; ranging measures them")
    return RunRequest(
        director_url=args.director,
        token=_token(args.token_file),
        output=args.output,
        loadgen_logs=args.loadgen_logs,
        command=tuple(command),
        label=args.label,
        known_ranges=ranges,
        extras=args.extras,
        clock_limits=_limits(args),
        show_workload_output=args.show_workload_output,
        timeout_s=_timeout(args),
        on_analyzer_failure=args.on_analyzer_failure,
    )


def _limits(args: argparse.Namespace) -> ClockLimits:
    if args.rounds < 1:
        raise UsageError("--rounds must be at least 1")
    server, port = None, 123
    if args.ntp_server:
        server, _, port_text = args.ntp_server.partition(":")
        if port_text:
            if not port_text.isdigit():
                raise UsageError(f"--ntp-server {args.ntp_server!r}: the port is not a number")
            port = int(port_text)
    return ClockLimits(
        max_offset_s=args.max_clock_offset,
        max_uncertainty_s=args.max_clock_uncertainty,
        rounds=args.rounds,
        ntp_server=server,
        ntp_port=port,
        max_ntp_offset_s=args.max_ntp_offset,
        ntp_timeout_s=args.ntp_timeout,
    )


def _token(token_file: Path | None) -> str | None:
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise UsageError(f"cannot read the token file {token_file}: {error.strerror or error}") from None
        except UnicodeDecodeError:
            raise UsageError(f"the token file {token_file} is not UTF-8 text") from None
        if not token:
            raise UsageError(f"the token file {token_file} is empty")
        return token
    return os.environ.get(TOKEN_ENV) or None


def _offset(args: argparse.Namespace, clock: Clock) -> int:
    limits = _limits(args)
    if limits.ntp_server:
        reading = check_ntp(
            limits.ntp_server, limits.max_ntp_offset_s, port=limits.ntp_port, timeout_s=limits.ntp_timeout_s
        )
        print(f"NTP {reading.server}: this clock is {-reading.offset_s * 1e3:+.3f} ms off")
    with DirectorClient(args.director, _token(args.token_file), clock, timeout_s=_timeout(args)) as director:
        try:
            estimate = measure_offset(director.time_round, limits.rounds)
        except InconsistentRounds as error:
            raise ClockOutOfBounds(f"clock offset to the director: {error}") from None
    print(
        f"director − client: {estimate.offset_s * 1e3:+.3f} ms ± {estimate.uncertainty_s * 1e3:.3f} ms "
        f"(fastest round trip {estimate.min_delay_ns / 1e6:.3f} ms, {estimate.rounds_used}/{estimate.rounds} rounds used)"
    )
    if abs(estimate.offset_s) > limits.max_offset_s or estimate.uncertainty_s > limits.max_uncertainty_s:
        raise ClockOutOfBounds(
            f"the offset is outside ±{limits.max_offset_s * 1e3:.0f} ms or its uncertainty above "
            f"{limits.max_uncertainty_s * 1e3:.0f} ms"
        )
    return EXIT_OK


def _abort(args: argparse.Namespace, clock: Clock) -> int:
    if not args.reason.strip():
        raise UsageError("--reason must say something: it is recorded as the session's failure")
    with DirectorClient(args.director, _token(args.token_file), clock, timeout_s=_timeout(args)) as director:
        session_id = args.session
        if session_id is None:
            open_ones = [s.session_id for s in director.sessions() if s.state not in FINAL_STATES]
            if not open_ones:
                raise NoOpenSession(f"the director at {args.director} has no open session")
            session_id = open_ones[-1]  # a director has one open session at a time
        info = director.abort(session_id, args.reason)
    print(f"session {info.session_id} is {info.state}: {info.failure}")
    return EXIT_OK


def _print_outcome(outcome: RunOutcome) -> None:
    record = outcome.record
    layout = ", ".join(f"{name}/ {len(files)}" for name, files in sorted(outcome.layout.items()))
    print(f"session {record.session_id}: folder {outcome.output} ({layout} files)")
    print(
        f"clock offset director − client: {outcome.offset.offset_s * 1e3:+.3f} ms "
        f"± {outcome.offset.uncertainty_s * 1e3:.3f} ms"
    )
    for mode, summaries in record.summaries.items():
        for summary in summaries:
            watts = "n/a" if summary.avg_power_w is None else f"{summary.avg_power_w:.2f} W"
            print(f"{mode}: {summary.name}: {summary.samples} samples, average {watts}")
    if not record.submission_valid:
        print("not submission-valid: testing ran with given ranges, without ranging")
    print(f"other files: {outcome.extras}")


if __name__ == "__main__":
    sys.exit(main())
