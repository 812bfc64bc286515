"""`power/client.json` and `power/server.json`, parsed once into typed records the checks read.

Both files share the reference tool's keys (PTD_AND_MLPERF_POWER.md §4). A file that is not JSON, or
lacks a required key, raises `SessionFileError` with one sentence naming the file and the key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyzers.formats.units import NS_PER_S

REQUIRED_KEYS = (
    "version",
    "timezone",
    "modules",
    "sources",
    "messages",
    "uuid",
    "session_name",
    "results",
    "phases",
)


class SessionFileError(ValueError):
    """client.json / server.json cannot be judged; the message names the file and why."""


@dataclass(frozen=True)
class Message:
    cmd: str
    reply: str
    cmd_time: float | None
    reply_time: float | None


@dataclass(frozen=True)
class PtdExchange:
    cmd: str
    reply: str


@dataclass(frozen=True)
class ClockOffset:
    """director clock − client clock, as the client measured it (joulebench's client records it)."""

    offset_ns: int
    uncertainty_ns: int


@dataclass
class SessionRecord:
    path: Path
    timezone_s: int
    sources: dict[str, str]
    messages: list[Message]
    uuid: dict[str, str]
    session_name: str
    results: dict[str, str]
    phases: dict[str, list[float]]  # mode -> the four wall times (UTC epoch s)
    ptd_messages: list[PtdExchange] | None = None
    ptd_configs: list[dict[str, Any]] = field(default_factory=list)
    """`ptd_config`, one entry per analyzer: the current reference writes a list, 2021-25 directors
    one object (read as a list of one)."""
    debug: bool = False
    clock_offset: ClockOffset | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def handshake(self) -> str:
        return self.messages[0].cmd if self.messages else ""


def read_session_record(path: Path) -> SessionRecord:
    """client.json or server.json, read from `path`."""
    return session_record(path, load_session_json(path))


def load_session_json(path: Path, content: bytes | None = None) -> dict[str, Any]:
    """The file's JSON object, whatever keys it holds; SessionFileError naming the file if it is none."""
    try:
        data = json.loads((content if content is not None else path.read_bytes()).decode("utf-8"))
    except OSError as error:
        raise SessionFileError(f"{path}: cannot read: {error.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise SessionFileError(f"{path}: not JSON ({error})") from None
    if not isinstance(data, dict):
        raise SessionFileError(f"{path}: not a JSON object")
    return data


def session_record(path: Path, data: dict[str, Any]) -> SessionRecord:
    """The record of a loaded session file; SessionFileError naming a missing or misshapen key."""
    missing = [key for key in REQUIRED_KEYS if key not in data]
    if missing:
        raise SessionFileError(f"{path}: required key(s) {', '.join(missing)} missing")
    try:
        return SessionRecord(
            path=path,
            timezone_s=int(data["timezone"]),
            sources={str(k): str(v) for k, v in dict(data["sources"]).items()},
            messages=[_message(m) for m in data["messages"]],
            uuid={str(k): str(v) for k, v in dict(data["uuid"]).items()},
            session_name=str(data["session_name"]),
            results={str(k): str(v) for k, v in dict(data["results"]).items()},
            phases={
                str(mode): [float(stamp[0]) for stamp in stamps]
                for mode, stamps in dict(data["phases"]).items()
            },
            ptd_messages=_ptd_messages(data.get("ptd_messages")),
            ptd_configs=_ptd_configs(data.get("ptd_config")),
            debug=bool(data.get("debug", False)),
            clock_offset=_clock_offset(data.get("joulebench")),
            raw=data,
        )
    except (TypeError, ValueError, KeyError, IndexError) as error:
        raise SessionFileError(
            f"{path}: a required key has the wrong shape ({type(error).__name__}: {error})"
        ) from None


def _ptd_configs(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [entry for entry in value if isinstance(entry, dict)]
    return []


def _message(entry: Any) -> Message:
    def time(key: str) -> float | None:
        value = entry.get(key)
        return float(value) if isinstance(value, int | float) else None

    return Message(str(entry["cmd"]), str(entry.get("reply", "")), time("cmd_time"), time("reply_time"))


def _ptd_messages(entries: Any) -> list[PtdExchange] | None:
    if not isinstance(entries, list):
        return None
    return [PtdExchange(str(e["cmd"]), str(e.get("reply", ""))) for e in entries]


def _clock_offset(entry: Any) -> ClockOffset | None:
    """joulebench's client records `"joulebench": {"clock_offset_s", "clock_offset_uncertainty_s", "rounds"}`."""
    if not isinstance(entry, dict) or not isinstance(entry.get("clock_offset_s"), int | float):
        return None
    uncertainty = entry.get("clock_offset_uncertainty_s", 0.0)
    return ClockOffset(
        round(float(entry["clock_offset_s"]) * NS_PER_S),
        round(float(uncertainty if isinstance(uncertainty, int | float) else 0.0) * NS_PER_S),
    )
