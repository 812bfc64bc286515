"""The LPM01A ("PowerShield") command set as data, and the lines it sends back.

Command names and value syntax follow ST's UM2269 (PowerShield firmware user manual) and the
sequence EEMBC's EnergyRunner sends for MLPerf Tiny; see docs/INSTRUMENTS_DRIVERS.md for what was
checked against a fake only. Replies come as `PowerShield > ack <command> [value]`, or
`PowerShield > error ...` followed by `Error detail: ...`.
"""

from __future__ import annotations

import re
from types import MappingProxyType

PROMPT = "PowerShield > "
DEFAULT_BAUDRATE = 3_686_400

# Sampling frequencies the firmware accepts (`freq <token>`), in Hz.
FREQUENCIES = MappingProxyType(
    {
        100_000: "100k",
        50_000: "50k",
        20_000: "20k",
        10_000: "10k",
        5_000: "5k",
        2_000: "2k",
        1_000: "1k",
        500: "500",
        200: "200",
        100: "100",
        50: "50",
        20: "20",
        10: "10",
        5: "5",
        2: "2",
        1: "1",
    }
)
# ASCII output cannot keep up above 10 kHz (UM2269: higher rates need the binary format).
ASCII_MAX_HZ = 10_000
VOLTS_MIN, VOLTS_MAX = 1.8, 3.3
OUTPUTS = ("energy", "current")

TAKE_CONTROL = "htc"
RELEASE_CONTROL = "hrc"
START = "start"
STOP = "stop"


def setup_commands(volts: float, output: str, acquisition_time_s: float | None) -> list[str]:
    """What is sent after `htc`, in EnergyRunner's order; `freq` and `start` come with each measurement."""
    acqtime = "inf" if acquisition_time_s is None else _seconds_token(acquisition_time_s)
    return [
        "pwr off",
        f"acqtime {acqtime}",
        "trigdelay 0",
        "trigsrc sw",
        "eventsrc d7 fal",  # GPIO D7 falling edges become `event` lines: the inference window marks
        f"output {output}",
        "format ascii_dec",
        f"volt {round(volts * 1000)}m",
        "pwr on nostatus",
    ]


def _seconds_token(seconds: float) -> str:
    if seconds < 1:
        return f"{round(seconds * 1e6)}u"
    return f"{seconds:g}"


# -- lines from the board -------------------------------------------------------------------------

TIMESTAMP = re.compile(r"TimeStamp:\s*(\d+)s\s*(\d+)ms,\s*buff\s*(\d+)%")
EVENT = re.compile(r"event\s+(\d+)\s+(ris|fal)", re.IGNORECASE)


def strip_prompt(line: str) -> str:
    text = line.strip()
    while text.startswith(PROMPT.strip()):
        text = text[len(PROMPT.strip()) :].strip()
    return text


def is_ack(text: str, command: str) -> bool:
    return text.lower().startswith(f"ack {command.split()[0]}".lower())


def is_error(text: str) -> bool:
    return text.lower().startswith("error")
