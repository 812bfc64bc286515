"""`power/server.json`: every key the reference director writes, in its order, with our values.

Keys: version, timezone, modules, sources, messages, uuid, session_name, results, phases,
ptd_messages, ptd_config (a list, one entry per analyzer, analyzer 1 first, as the current reference
writes it and its checker iterates it); then `joulebench` (what the reference has no key for: marks, ranges,
validity, the Parquet trace). `timezone` is 0 because every time the director writes is UTC.
`results` hashes the result files of the MLPerf layout that exist (the files the checker compares),
never `server.json` itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from analyzers.formats.atomic import write_text_atomically
from analyzers.formats.mlperf_layout import CONSOLE_LOG, RANGING_SAMPLES, SERVER_LOG, TESTING_SAMPLES
from analyzers.ptd.identity import joulebench_version
from power_director.artifacts.sources import loaded_modules, sha1_file, source_checksums

RESULT_FILES = (CONSOLE_LOG, SERVER_LOG, RANGING_SAMPLES, TESTING_SAMPLES)
TIMEZONE_UTC = 0


def result_checksums(session_folder: Path) -> dict[str, str]:
    return {
        name: sha1_file(session_folder / name) for name in RESULT_FILES if (session_folder / name).is_file()
    }


def build_server_json(
    *,
    session_name: str,
    client_uuid: str,
    server_uuid: str,
    messages: Sequence[Mapping[str, Any]],
    phases: Mapping[str, Sequence[Sequence[float]]],
    ptd_messages: Sequence[Mapping[str, str]],
    ptd_config: Sequence[Mapping[str, Any]],
    results: Mapping[str, str],
    joulebench: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "version": joulebench_version(),
        "timezone": TIMEZONE_UTC,
        "modules": loaded_modules(),
        "sources": source_checksums(),
        "messages": [dict(m) for m in messages],
        "uuid": {"client": client_uuid, "server": server_uuid},
        "session_name": session_name,
        "results": dict(results),
        "phases": {mode: [list(stamp) for stamp in stamps] for mode, stamps in phases.items()},
        "ptd_messages": [dict(m) for m in ptd_messages],
        "ptd_config": [dict(entry) for entry in ptd_config],
        "joulebench": dict(joulebench),
    }


def write_server_json(path: Path, data: Mapping[str, Any]) -> None:
    write_text_atomically(path, json.dumps(data, indent=4) + "\n")
