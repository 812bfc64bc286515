"""`power-analyzer-ptd`: PTDaemon's own command line, so the MLCommons reference director can launch us.

    power-analyzer-ptd [-l LOG] [-p PORT] [-c CH] [-b BOARD] [-D] [-n|-g|-y|-U] DEVICE_TYPE DEVICE_PORT

`-c a,b` is the start channel and the channel count; a single number is the count for a WT500
(types 35, 48) and the one channel used otherwise. Device type 0 (PTD's dummy) is the simulated
meter; the Yokogawa types map to the `yokogawa` driver. The daemon always runs in UTC.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from analyzers.errors import AnalyzerError, UnknownDriverError
from analyzers.ptd.daemon.main import DaemonOptions, run_daemon
from analyzers.ptd.wire import DEFAULT_PORT

PROG = "power-analyzer-ptd"
SIMULATED_TYPE = 0
YOKOGAWA_AC_TYPES = frozenset({8, 35, 47, 48, 49, 52, 66, 77})
YOKOGAWA_DC_TYPES = frozenset({508, 549, 586})
WT500_TYPES = frozenset({35, 48})
INTERFACE_FLAGS = frozenset({"-n", "-g", "-y", "-U"})
USAGE = f"usage: {PROG} [-l LOG] [-p PORT] [-c CH] [-b BOARD] [-D] [-n|-g|-y|-U] DEVICE_TYPE DEVICE_PORT"


HELP = f"""{USAGE}

PTDaemon's own command line, so the MLCommons reference director can launch {PROG} in its place.
  DEVICE_TYPE   0: the simulated meter; Yokogawa (AC): {", ".join(str(t) for t in sorted(YOKOGAWA_AC_TYPES))};
                Yokogawa (DC): {", ".join(str(t) for t in sorted(YOKOGAWA_DC_TYPES))}
  DEVICE_PORT   the meter's serial port (or socket://host:port); ignored by the simulated meter
  -l LOG        the data log (PTD sample lines)        -p PORT   TCP port (default {DEFAULT_PORT})
  -c CH[,N]     channel, or first channel and count    -b BOARD  GPIB board (accepted, unused)
  -D            a DC meter (DC-RL)                     -n|-g|-y|-U  interface (accepted as PTDaemon's)
Exit status: 0 after SIGTERM/SIGINT, 2 for a bad command line or a meter that cannot be reached."""


class CommandLineError(ValueError):
    """The sentence shown for a command line we cannot run."""


@dataclass(frozen=True)
class PtdCommandLine:
    device_type: int
    device_port: str
    data_log: str | None = None
    port: int = DEFAULT_PORT
    channels: tuple[int, ...] | None = None
    board: int | None = None
    dc_flag: bool = False
    interface_flag: str | None = None

    @property
    def first_channel(self) -> int:
        if not self.channels or (len(self.channels) == 1 and self.device_type in WT500_TYPES):
            return 1
        return self.channels[0]

    @property
    def channel_count(self) -> int:
        if not self.channels:
            return 1
        if len(self.channels) == 2:
            return self.channels[1]
        return self.channels[0] if self.device_type in WT500_TYPES else 1


def _number(text: str, what: str, minimum: int = 0) -> int:
    if not text.isdigit() or int(text) < minimum:
        raise CommandLineError(f"{what} must be a whole number >= {minimum}, got {text!r}")
    return int(text)


def parse_command_line(argv: Sequence[str]) -> PtdCommandLine:
    """PTDaemon's options, in any order before the two positional arguments."""
    values: dict[str, str] = {}
    flags: set[str] = set()
    positional: list[str] = []
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg in ("-l", "-p", "-c", "-b"):
            if not args:
                raise CommandLineError(f"option {arg} needs a value")
            values[arg] = args.pop(0)
        elif arg == "-D" or arg in INTERFACE_FLAGS:
            flags.add(arg)
        elif arg.startswith("-") and len(arg) > 1 and not arg[1:].isdigit():
            raise CommandLineError(f"unknown option {arg}; {USAGE}")
        else:
            positional.append(arg)
    if len(positional) != 2:
        raise CommandLineError(f"expected DEVICE_TYPE and DEVICE_PORT; {USAGE}")
    interface = sorted(flags & INTERFACE_FLAGS)
    if len(interface) > 1:
        raise CommandLineError(f"give at most one of -n, -g, -y, -U, got {' '.join(interface)}")
    channels = None
    if "-c" in values:
        parts = values["-c"].split(",")
        if len(parts) > 2:
            raise CommandLineError(f"-c takes a channel or 'start,count', got {values['-c']!r}")
        channels = tuple(_number(part, "a -c value", minimum=1) for part in parts)
    return PtdCommandLine(
        device_type=_number(positional[0], "DEVICE_TYPE"),
        device_port=positional[1],
        data_log=values.get("-l"),
        port=_number(values["-p"], "-p PORT") if "-p" in values else DEFAULT_PORT,
        channels=channels,
        board=_number(values["-b"], "-b BOARD") if "-b" in values else None,
        dc_flag="-D" in flags,
        interface_flag=interface[0] if interface else None,
    )


def daemon_options(command: PtdCommandLine) -> DaemonOptions:
    """The driver behind a PTD device type."""
    common = {
        "data_log": command.data_log,
        "port": command.port,
        "first_channel": command.first_channel,
        "device_type": command.device_type,
    }
    if command.device_type == SIMULATED_TYPE:
        return DaemonOptions(
            driver="simulated",
            device="",
            dc=command.dc_flag,
            driver_options={"channels": command.channel_count},
            **common,  # type: ignore[arg-type]
        )
    if command.device_type in YOKOGAWA_AC_TYPES or command.device_type in YOKOGAWA_DC_TYPES:
        return DaemonOptions(
            driver="yokogawa",
            device=command.device_port,
            dc=command.dc_flag or command.device_type in YOKOGAWA_DC_TYPES,
            # `-c` picks the meter's elements; without it the driver reads every element it finds.
            driver_options=(
                {"first_element": command.first_channel, "channels": command.channel_count}
                if command.channels
                else {}
            ),
            **common,  # type: ignore[arg-type]
        )
    raise CommandLineError(
        f"device type {command.device_type} is not supported (0 = simulated meter; Yokogawa: "
        f"{', '.join(str(t) for t in sorted(YOKOGAWA_AC_TYPES | YOKOGAWA_DC_TYPES))})"
    )


def main(argv: Sequence[str] | None = None) -> int:
    # The reference director runs PTDaemon with TZ=UTC; our timestamps are UTC regardless, and this
    # keeps anything a driver formats with local time in UTC too.
    os.environ["TZ"] = "UTC"
    if hasattr(time, "tzset"):
        time.tzset()
    args = list(sys.argv[1:] if argv is None else argv)
    if any(arg in ("-h", "--help") for arg in args):
        print(HELP)
        return 0
    try:
        command = parse_command_line(args)
        options = daemon_options(command)
        return run_daemon(options)
    except CommandLineError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    except UnknownDriverError:
        print(
            f"{PROG}: driver not available: device type {command.device_type} needs the "
            f"'{options.driver}' driver, which is not installed.",
            file=sys.stderr,
        )
        return 2
    except AnalyzerError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
