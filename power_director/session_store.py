"""`session.json`: what a session is, kept on disk so the director lists it again after a restart.

Written (to a temporary name, then renamed) whenever the session changes state, so after a crash it
says what the session was doing. At start-up the director reads every `<data_dir>/sessions/*/
session.json`; a session still marked active was cut short by the crash (see `recovery`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analyzers.formats.atomic import write_text_atomically
from power_director.api import SessionInfo

SESSION_FILE = "session.json"
FORMAT = "joulebench/director-session v1"


@dataclass
class StoredSession:
    """A session folder found on disk, with the record it holds."""

    folder: Path
    info: SessionInfo
    analyzers: list[str]
    phases: dict[str, str]  # mode -> PTD mark
    interval_ms: int


def write_record(
    folder: Path, info: SessionInfo, analyzers: list[str], phases: dict[str, str], interval_ms: int
) -> None:
    data: dict[str, Any] = {
        "format": FORMAT,
        **info.model_dump(),
        "analyzers": analyzers,
        "phases": phases,
        "interval_ms": interval_ms,
    }
    write_text_atomically(folder / SESSION_FILE, json.dumps(data, indent=2) + "\n")


def read_record(folder: Path) -> StoredSession:
    """The record of one folder; ValueError with one sentence naming the file when unreadable."""
    path = folder / SESSION_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: cannot read the session record ({error})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} record")
    try:
        info = SessionInfo.model_validate({k: v for k, v in data.items() if k in SessionInfo.model_fields})
        analyzers = [str(a) for a in data["analyzers"]]
        phases = {str(k): str(v) for k, v in data["phases"].items()}
        interval_ms = int(data["interval_ms"])
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ValueError(f"{path}: incomplete session record ({error})") from None
    return StoredSession(folder, info, analyzers, phases, interval_ms)


def scan(sessions_dir: Path) -> tuple[list[StoredSession], list[str]]:
    """Every readable record under `sessions_dir`, oldest first, and a sentence per unreadable one."""
    found: list[StoredSession] = []
    problems: list[str] = []
    if not sessions_dir.is_dir():
        return found, problems
    for folder in sorted(p for p in sessions_dir.iterdir() if p.is_dir()):
        if folder.is_symlink():  # it may point anywhere: a session folder is never a link
            problems.append(f"{folder}: a symbolic link, not a session folder; not served")
            continue
        if not (folder / SESSION_FILE).exists():
            continue  # a folder of a director before session records: still served by id
        try:
            found.append(read_record(folder))
        except ValueError as error:
            problems.append(str(error))
    found.sort(key=lambda stored: stored.info.created_ns)
    return found, problems
