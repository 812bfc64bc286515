"""The dashboard's picture of the director: sessions, the running phase, every analyzer's live figures.

One JSON-ready dict, built from what the director already holds (sessions in memory, the
`LiveCounters` of each analyzer): the page renders it, the event stream sends it whenever it changes.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from power_director.director import Director
    from power_director.sessions import Session

RECENT_SESSIONS = 20


def snapshot(director: Director) -> dict[str, Any]:
    now_ns = time.time_ns()
    infos = director.session_infos()[-RECENT_SESSIONS:]
    live = {s.session_id: s for s in director.sessions.values()}
    sessions = []
    for info in reversed(infos):
        entry: dict[str, Any] = {
            "session_id": info.session_id,
            "label": info.label,
            "state": info.state,
            "failure": info.failure,
        }
        session = live.get(info.session_id)
        if session is not None:
            entry.update(_running(session, now_ns))
        sessions.append(entry)
    analyzers = []
    errors: list[tuple[int, str, str]] = []
    for instrument in director.instruments:
        view = instrument.live.view()
        analyzers.append(
            {
                "name": instrument.name,
                "endpoint": instrument.config.endpoint,
                "model": instrument.model,
                "watts": view.watts,
                "channel_watts": list(view.channel_watts),
                "last_reading_ns": view.last_reading_ns,
                "age_s": None if view.last_reading_ns is None else (now_ns - view.last_reading_ns) / 1e9,
                "samples": view.samples,
                "flagged": view.flagged,
                "lost": view.lost,
                "stalls": view.stalls,
                "errors": view.errors,
            }
        )
        errors += [(at, instrument.name, text) for at, text in view.faults]
    errors.sort()
    return {
        "time_ns": now_ns,
        "sessions": sessions,
        "analyzers": analyzers,
        "errors": [{"time_ns": at, "analyzer": name, "text": text} for at, name, text in errors[-10:]],
    }


def _running(session: Session, now_ns: int) -> dict[str, Any]:
    figures: dict[str, Any] = {"clock_offset_s": session.clock_offset_s}
    if session.state in ("ranging", "testing") and session.state in session.phases:
        started = session.phases[session.state].stamps[1]
        figures["phase"] = session.state
        figures["phase_elapsed_s"] = (now_ns - started.wall_ns) / 1e9
    return figures
