"""Session identity: the same session seen from both sides (UUIDs, name, message lists, debug off)."""

from __future__ import annotations

import re
import uuid

from rules.compliance.policy import CompliancePolicy
from rules.compliance.session_files import SessionRecord
from rules.compliance.verdict import Check, failed, passed

_HANDSHAKE = re.compile(r"^(?P<tool>\S+) client v(?P<version>\d+)$")


def check_uuid(client: SessionRecord, server: SessionRecord) -> Check:
    problems = []
    for role in ("client", "server"):
        try:
            same = uuid.UUID(client.uuid.get(role, "")) == uuid.UUID(server.uuid.get(role, ""))
        except ValueError:
            problems.append(
                f"the {role} UUID is not a UUID ({client.uuid.get(role)!r} / {server.uuid.get(role)!r})"
            )
            continue
        if not same:
            problems.append(
                f"{role} UUID differs: client.json {client.uuid.get(role)}, server.json {server.uuid.get(role)}"
            )
    if problems:
        return failed("session.uuid", "; ".join(problems))
    return passed(
        "session.uuid",
        f"client {client.uuid['client']} and server {client.uuid['server']} UUIDs agree",
    )


def check_name(client: SessionRecord, server: SessionRecord) -> Check:
    if client.session_name != server.session_name:
        return failed(
            "session.name",
            f"session name differs: client.json {client.session_name!r}, server.json {server.session_name!r}",
        )
    return passed("session.name", f"session {client.session_name!r} on both sides")


def check_messages(client: SessionRecord, server: SessionRecord, policy: CompliancePolicy) -> Check:
    problems = []
    handshake = _HANDSHAKE.match(server.handshake)
    if handshake is None or handshake.group("tool") not in policy.handshakes:
        problems.append(
            f"first message {server.handshake!r} is not a {' or '.join(policy.handshakes)} client handshake"
        )
    elif server.messages[0].reply != f"{handshake.group('tool')} server v{handshake.group('version')}":
        problems.append(f"the director answered {server.messages[0].reply!r} to {server.handshake!r}")
    extra = server.messages[len(client.messages) :]
    if len(client.messages) != len(server.messages):
        legacy_upload = (
            not policy.messages_equal_length
            and len(server.messages) > len(client.messages)
            and all(",upload," in m.cmd for m in extra)
        )
        if not legacy_upload:
            problems.append(
                f"server.json has {len(server.messages)} messages, client.json {len(client.messages)}"
                + (
                    " (a 2021 director logged the client.json upload on its side only; "
                    f"{policy.ruleset} requires equal lists)"
                    if extra and all(",upload," in m.cmd for m in extra)
                    else ""
                )
            )
    for index, (mine, theirs) in enumerate(zip(client.messages, server.messages, strict=False)):
        if mine.cmd != theirs.cmd:
            problems.append(f"message {index}: client sent {mine.cmd!r}, server logged {theirs.cmd!r}")
            break
        if mine.cmd != "time" and mine.reply != theirs.reply:
            problems.append(
                f"message {index} ({mine.cmd!r}): client got {mine.reply!r}, server sent {theirs.reply!r}"
            )
            break
    if problems:
        return failed("session.messages", "; ".join(problems))
    tail = f" (+{len(extra)} server-side upload, allowed in this round)" if extra else ""
    return passed(
        "session.messages",
        f"{len(client.messages)} identical client/director exchanges{tail}, handshake {server.handshake!r}",
    )


def check_debug(server: SessionRecord) -> Check:
    if server.debug:
        return failed("session.debug", f"{server.path}: the director ran in debug mode")
    return passed("session.debug", f"{server.path}: debug off")
