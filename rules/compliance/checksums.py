"""Checksums: the tool's own sources against the MLCommons allow-list, and the sha1 of the result files.

A round's allow-list is every entry first seen on or before that round's checker date (cumulative).
A folder made by another tool (joulebench's director/client) is said to be so; its sources are never
compared as if they were the reference tool's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from analyzers.formats.mlperf_layout import CLIENT_JSON, REQUIRED_PATHS, SERVER_JSON
from rules.compliance.policy import CompliancePolicy
from rules.compliance.session_files import SessionRecord
from rules.compliance.verdict import Check, failed, noted, passed
from rules.result_files import ResultFiles

REFERENCE_HANDSHAKE = "mlcommons/power"
JOULEBENCH = "joulebench"
# The reference checker leaves its own session files out of the comparison (they cannot hold their own sha1).
_UNHASHED = (CLIENT_JSON, SERVER_JSON)


@dataclass(frozen=True)
class AllowListEntry:
    first_seen: dt.date
    sources: dict[str, str]


@dataclass(frozen=True)
class AllowList:
    entries: tuple[AllowListEntry, ...]
    per_file_any_of: dict[str, tuple[str, ...]]


@cache
def mlcommons_allow_list() -> AllowList:
    text = (
        resources.files("rules").joinpath("rulesets/data/mlcommons_sources_checksums.json").read_text("utf-8")
    )
    data = json.loads(text)
    entries = tuple(
        AllowListEntry(dt.date.fromisoformat(e["first_seen"]), dict(e["sources"])) for e in data["entries"]
    )
    per_file = {name: tuple(hashes) for name, hashes in data.get("per_file_any_of", {}).items()}
    return AllowList(entries, per_file)


def made_by_joulebench(record: SessionRecord) -> bool:
    """joulebench's director and client write a `joulebench` section into server.json and client.json
    (the reference has no such key): that, not the handshake string, is the origin marker."""
    return isinstance(record.raw.get("joulebench"), dict)


def tool_of(record: SessionRecord) -> str:
    """The tool that wrote the record: joulebench by its section, else the one the session's first
    message names (`mlcommons/power client v3` -> `mlcommons/power`)."""
    if made_by_joulebench(record):
        return JOULEBENCH
    handshake = record.handshake
    return handshake.split(" client ")[0].split(" server ")[0] if handshake else "an unnamed tool"


def check_sources(record: SessionRecord, side: str, policy: CompliancePolicy) -> Check:
    check_id = f"sources.{side}"
    where = f"{record.path}"
    tool = tool_of(record)
    if tool != REFERENCE_HANDSHAKE:
        return policy.judged(
            check_id,
            "foreign_tool",
            f"{where}: made by {tool} (first message {record.handshake!r}), not the MLCommons reference "
            "tool; its sources are its own and are not on the MLCommons allow-list",
        )
    allow = mlcommons_allow_list()
    matches = sorted(e.first_seen for e in allow.entries if e.sources == record.sources)
    cutoff = policy.checker_date or dt.date.max
    accepted = [d for d in matches if d <= cutoff]
    if accepted:
        return passed(check_id, f"{where}: sources match the allow-list entry first seen {accepted[0]}")
    if policy.sources_per_file_any_of and _per_file_match(record.sources, allow.per_file_any_of):
        return passed(
            check_id,
            f"{where}: every source file's sha1 is on the early-2021 per-file allow-list",
        )
    if matches:
        return policy.judged(
            check_id,
            "sources_later",
            f"{where}: sources match only the allow-list entry first seen {matches[0]}, after this round's "
            f"checker ({cutoff}); MLCommons accepted that tree later",
        )
    return failed(
        check_id,
        f"{where}: sources are on no MLCommons allow-list entry ({_nearest_difference(record.sources, allow)})",
    )


def _per_file_match(sources: dict[str, str], per_file: dict[str, tuple[str, ...]]) -> bool:
    return (
        bool(per_file) and set(sources) == set(per_file) and all(sources[k] in per_file[k] for k in sources)
    )


def _nearest_difference(sources: dict[str, str], allow: AllowList) -> str:
    def differing(entry: AllowListEntry) -> list[str]:
        names = set(entry.sources) | set(sources)
        return sorted(n for n in names if entry.sources.get(n) != sources.get(n))

    if not allow.entries:
        return "the allow-list is empty"
    nearest = min(allow.entries, key=lambda e: len(differing(e)))
    names = differing(nearest)
    return f"nearest entry ({nearest.first_seen}) differs in {len(names)} file(s): {', '.join(names[:4])}"


def check_results(files: ResultFiles, client: SessionRecord, server: SessionRecord) -> Check:
    """sha1 of each required result file against client.json/server.json `results` (others listed are ignored)."""
    required = [p for p in REQUIRED_PATHS if p not in _UNHASHED]
    problems: list[str] = []
    line_endings: list[str] = []
    for path in required:
        recorded = {
            side: r.results[path] for side, r in (("client", client), ("server", server)) if path in r.results
        }
        if not recorded:
            problems.append(f"{path}: no sha1 recorded in client.json or server.json")
            continue
        if len(set(recorded.values())) > 1:
            problems.append(f"{path}: client.json and server.json record different sha1")
            continue
        expected = next(iter(recorded.values()))
        if not files.is_file(path):
            problems.append(f"{path}: missing, cannot be hashed")
            continue
        actual = files.sha1(path)
        if actual == expected:
            continue
        kind = _line_ending_match(files.read(path), expected)
        if kind:
            line_endings.append(f"{path} ({kind})")
        else:
            problems.append(f"{path}: sha1 {actual} but {expected} recorded")
    ignored = sorted((set(client.results) | set(server.results)) - set(required) - set(_UNHASHED))
    note = (
        f"; {len(ignored)} other listed file(s) not required and not compared (e.g. {ignored[0]})"
        if ignored
        else ""
    )
    if problems:
        return failed("results.checksums", "; ".join(problems[:4]) + note)
    if line_endings:
        return noted(
            "results.checksums",
            f"{', '.join(line_endings)}: the recorded sha1 matches after line-ending normalisation only "
            f"(line endings changed after recording, e.g. by a repository; not a content change){note}",
        )
    return passed(
        "results.checksums",
        f"all {len(required)} required result files match their recorded sha1{note}",
    )


def _line_ending_match(content: bytes, expected: str) -> str:
    unix = content.replace(b"\r\n", b"\n")
    if hashlib.sha1(unix.replace(b"\n", b"\r\n")).hexdigest() == expected:
        return "recorded with CRLF line endings, LF here"
    if hashlib.sha1(unix).hexdigest() == expected:
        return "recorded with LF line endings, CRLF here"
    return ""
