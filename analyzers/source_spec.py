"""The source grammar every command that takes a power source understands: `DRIVER[:DEVICE][,key=value]...`

    simulated                          the embedded default
    nvml:0                             driver nvml, device "0"
    rapl                               no device
    ptd://127.0.0.1:8888               a PTD daemon (the URL is the device of driver ptd)
    yokogawa:/dev/ttyUSB0,channels=3   a device and a driver option
    yokogawa:socket://10.0.0.5:10001   a device that itself has colons: only the first one splits
    redfish:https://bmc,chassis=1

Option values become numbers or booleans when they read as one (`channels=3` is the int 3,
`strict=true` is True); anything else stays a string. Parsed here once, so `power-measure --source`,
`power-analyzer read --source` and the `Monitor` API agree; `--driver`/`--device` remain as aliases.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field

from analyzers.base import Analyzer
from analyzers.registry import DEFAULT_DRIVER, create_analyzer, driver_names

_DRIVER = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class SourceSpecError(ValueError):
    """A source text that does not follow the grammar; the message is one sentence naming it."""


@dataclass(frozen=True)
class SourceSpec:
    driver: str
    device: str = ""
    options: dict[str, object] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """How results name the source: `driver:device` (the URL alone for PTD), no options."""
        if self.driver == "ptd" and self.device.startswith("ptd://"):
            return self.device
        return f"{self.driver}:{self.device}" if self.device else self.driver

    def open(self) -> Analyzer:
        """The driver instance (`AnalyzerError` when it cannot be made)."""
        return create_analyzer(self.driver, self.device, **self.options)


def parse_source(text: str) -> SourceSpec:
    raw = text.strip()
    if not raw:
        raise SourceSpecError(
            "a source is empty: give DRIVER[:DEVICE][,key=value]..., e.g. simulated or nvml:0"
        )
    head, *option_texts = raw.split(",")
    if head.startswith("ptd://"):
        driver, device = "ptd", head
    else:
        driver, _, device = head.partition(":")
    if not _DRIVER.fullmatch(driver):
        raise SourceSpecError(
            f"source {text!r}: {driver!r} is not a driver name (DRIVER[:DEVICE][,key=value]...)"
        )
    options: dict[str, object] = {}
    for option in option_texts:
        key, equals, value = option.partition("=")
        key = key.strip()
        if not equals or not _KEY.fullmatch(key):
            raise SourceSpecError(f"source {text!r}: option {option!r} is not key=value")
        if key in options:
            raise SourceSpecError(f"source {text!r}: option {key!r} is given twice")
        options[key] = _typed(value.strip())
    return SourceSpec(driver, device, options)


def source_from_aliases(driver: str | None, device: str | None) -> SourceSpec:
    """`--driver D --device X`, the older spelling of `--source D:X`."""
    return SourceSpec(driver or DEFAULT_DRIVER, device or "")


def add_source_command(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    *,
    help: str,
    epilog: str,
    examples: str,
) -> argparse.ArgumentParser:
    """A subcommand taking one source: `--source` and its aliases `--driver`/`--device`, as every such
    command has them (read back with `resolve_source(args.source, args.driver, args.device)`)."""
    parser = subparsers.add_parser(name, help=help, epilog=epilog)
    parser.add_argument(
        "--source",
        default=None,
        metavar="S",
        help=f"DRIVER[:DEVICE][,key=value]... e.g. {examples} (default {DEFAULT_DRIVER})",
    )
    parser.add_argument(
        "--driver",
        default=None,
        help=f"driver (alias of --source DRIVER): {', '.join(driver_names())} (default {DEFAULT_DRIVER})",
    )
    parser.add_argument("--device", default=None, help="device: port, URL, GPU index (with --driver)")
    return parser


def resolve_source(source: str | None, driver: str | None, device: str | None) -> SourceSpec:
    """A command's one source from `--source`, or from its aliases `--driver`/`--device`."""
    if source is not None:
        if driver is not None or device is not None:
            raise SourceSpecError("give --source, or --driver and --device, not both")
        return parse_source(source)
    return source_from_aliases(driver, device)


def _typed(value: str) -> object:
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            continue
    return value
