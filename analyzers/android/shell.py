"""What runs on the phone, and how adb is asked to run it.

Two scripts for the device's `sh` (mksh on Android, any POSIX sh on the fake): a probe that lists the
power supplies once, and a sampling loop that prints one line per interval on one `adb shell`
session, so a sample costs no adb round trip. Supply names and the serial are checked before they
go into a command line: kernel supply names are `[A-Za-z0-9_.-]`.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

from analyzers.errors import AnalyzerConnectionError, AnalyzerError

SUPPLIES = "/sys/class/power_supply"
_NAME = re.compile(r"[A-Za-z0-9_.:-]+")
_NOT_CHARGERS = ("Battery", "BMS", "Unknown")

PROBE = (
    f"cd {SUPPLIES} || exit 3; "
    'for s in *; do printf "S %s %s %s %s %s %s\\n" "$s" '
    '"$(cat "$s/type" 2>/dev/null || echo -)" "$(cat "$s/online" 2>/dev/null || echo -)" '
    '"$(cat "$s/current_now" 2>/dev/null || echo -)" "$(cat "$s/voltage_now" 2>/dev/null || echo -)" '
    '"$(cat "$s/status" 2>/dev/null || echo -)"; done'
)


@dataclass(frozen=True)
class Supply:
    name: str
    type: str
    online: bool | None
    current: float | None
    voltage: float | None
    status: str

    @property
    def is_charger(self) -> bool:
        return self.online is not None and self.type not in _NOT_CHARGERS


def checked_name(device: str, name: str, what: str) -> str:
    if not _NAME.fullmatch(name):
        raise AnalyzerError(device, f"{what} {name!r} has characters a shell would read as syntax")
    return name


def adb_argv(adb: str, serial: str, *command: str) -> list[str]:
    return [adb, "-s", serial, *command]


def run_adb(adb: str, serial: str, script: str, timeout_s: float) -> str:
    """`adb -s SERIAL shell SCRIPT`'s output; AnalyzerConnectionError with adb's own words if it fails."""
    try:
        done = subprocess.run(
            adb_argv(adb, serial, "shell", script), capture_output=True, text=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired:
        raise AnalyzerConnectionError(
            serial, f"adb did not answer within {timeout_s:g} s", "is the device awake and authorised?"
        ) from None
    if done.returncode != 0:
        said = (done.stderr.strip() or done.stdout.strip()).splitlines()
        raise AnalyzerConnectionError(
            serial,
            f"adb failed (exit status {done.returncode}): {said[-1] if said else 'no message'}",
            "is it listed by `adb devices` and authorised?",
        )
    return done.stdout


def parse_probe(device: str, output: str) -> list[Supply]:
    supplies = []
    for line in output.splitlines():
        fields = line.split(" ", 6)
        if len(fields) != 7 or fields[0] != "S":
            continue
        _tag, name, kind, online, current, voltage, status = fields
        supplies.append(
            Supply(
                name,
                kind,
                None if online == "-" else online.strip() == "1",
                _number(current),
                _number(voltage),
                status.strip(),
            )
        )
    if not supplies:
        raise AnalyzerError(
            device, f"{SUPPLIES} lists no power supply", "is this an Android device with a fuel gauge?"
        )
    return supplies


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def sampling_loop(battery: str, chargers: list[str], interval_s: float) -> str:
    """The loop: `J <uptime> <current> <voltage> <charge|-> <online of each charger>;<status>` per tick.

    The tick's `sleep` runs in the background while the reads happen, and `wait` ends the tick: the
    period is the interval, not the interval plus the reads. Each line carries the device's uptime
    (10 ms resolution), so sample times do not depend on how adb buffered the line."""
    b = f"{SUPPLIES}/{battery}"
    online = " ".join(f"$(cat {SUPPLIES}/{c}/online 2>/dev/null || echo -)" for c in chargers)
    return (
        f"b={b}; while :; do sleep {interval_s:g} & read up idle < /proc/uptime; "
        f'echo "J $up $(cat $b/current_now) $(cat $b/voltage_now) '
        f'$(cat $b/charge_counter 2>/dev/null || echo -) {online};$(cat $b/status)"; '
        "wait; done"
    )
