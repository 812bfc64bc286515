"""A session's `power/server.json`: the reference director's keys, then the `joulebench` section.

The reference's keys describe analyzer 1 (the merged file's time base), in the shape its checker
reads, except `ptd_config`, which lists every analyzer (analyzer 1 first) as the current reference does; every analyzer's own PTD record, the ranges, marks, validity, traces, the recorder and the
time alignment of a multi-analyzer merge are in `joulebench`, which the reference has no key for.
Written when the session ends (done or failed), after `server.log` is closed so its checksum is final.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from analyzers.formats.mlperf_layout import SERVER_JSON_NAME
from analyzers.formats.units import NS_PER_S
from power_director.artifacts.server_json import build_server_json, result_checksums, write_server_json
from power_director.artifacts.sources import sha1_file
from power_director.artifacts.traces import corrected_trace_name, trace_file_names
from power_director.calibration import session_calibrations
from power_director.stamps import as_reference_pair

if TYPE_CHECKING:
    from power_director.sessions import Session


def write_session_summary(session: Session) -> None:
    links = session.analyzers.links
    link = links[0] if links else None
    session.narration.close()
    data = build_server_json(
        session_name=session.session_id,
        client_uuid=session.client_uuid,
        server_uuid=session.server_uuid,
        messages=[m.as_json() for m in session.messages],
        phases={mode: [as_reference_pair(s) for s in phase.stamps] for mode, phase in session.phases.items()},
        ptd_messages=link.ptd_messages() if link is not None else [],
        ptd_config=[each.ptd_config for each in links],
        results=result_checksums(session.folder),
        joulebench=joulebench_section(session),
    )
    write_server_json(session.power_folder / SERVER_JSON_NAME, data)


def joulebench_section(session: Session) -> dict[str, Any]:
    config = session.config
    names = [i.name for i in session.instruments]
    traces = {
        name: {"path": file, "sha1": sha1_file(session.folder / file)}
        for name, file in trace_file_names(names).items()
        if (session.folder / file).is_file()
    }
    return {
        "state": session.state,
        "failure": session.failure,
        "submission_valid": session.submission_valid,
        "label": session.label,
        "era": config.era,
        "interval_ms": config.interval_ms,
        "settle_s": config.settle_s,
        "amps_range_factor": config.amps_range_factor,
        "analyzers": [
            {"name": i.name, "endpoint": i.config.endpoint, "model": i.model, "channels": i.channels}
            for i in session.instruments
        ],
        "ranging": {
            name: {
                "max_volts": c.max_volts,
                "max_amps": c.max_amps,
                "volts_range": c.volts_range,
                "amps_range": c.amps_range,
                "samples": c.samples,
            }
            for name, c in session.ranges.choices.items()
        },
        "testing_ranges": {name: list(r) for name, r in session.ranges.testing.items()},
        "phase_stamps_ns": {
            mode: [[s.wall_ns, s.monotonic_ns] for s in phase.stamps]
            for mode, phase in session.phases.items()
        },
        "summaries": {
            mode: [s.model_dump() for s in phase.summaries] for mode, phase in session.phases.items()
        },
        "marks": session.marks,
        "trace": traces.get(names[0]) if len(names) == 1 else None,
        "traces": traces,
        "calibration": _calibration_record(session, names),
        "recorder": _recorder_record(session),
        "alignment": {
            mode: {
                "tolerance_s": config.merge_tolerance_ns / NS_PER_S,
                "analyzers": [a.as_json() for a in phase.alignment],
            }
            for mode, phase in session.phases.items()
            if phase.alignment
        },
        "analyzers_ptd": [
            {
                "name": link.name,
                "ptd_config": link.ptd_config,
                "ptd_messages": link.ptd_messages(),
                # What the era's director did not say on the wire (it read PTD's data log instead).
                "unlisted_messages": link.unlisted_messages,
            }
            for link in session.analyzers.links
        ],
    }


def _calibration_record(session: Session, names: list[str]) -> dict[str, Any]:
    """Per certified analyzer: its certificate (the session's copy), the correction, the corrected trace."""
    files = trace_file_names(names)
    records: dict[str, Any] = {}
    for name, record in session_calibrations(session.folder, names).items():
        entry = {k: v for k, v in record.items() if k != "correction"}
        corrected = corrected_trace_name(files[name])
        if (session.folder / corrected).is_file():
            entry["corrected_trace"] = {"path": corrected, "sha1": sha1_file(session.folder / corrected)}
        records[name] = entry
    return records


def _recorder_record(session: Session) -> dict[str, Any] | None:
    recorder = session.analyzers.recorder
    if recorder is None:
        return None
    return {
        "poll_interval_s": session.config.poll_interval_s,
        "format": "Arrow IPC stream, one record batch per poll",
        "analyzers": [
            {
                "name": link.name,
                "path": recorder.path(link.name).relative_to(session.folder).as_posix(),
                "samples": recorder.rows(link.name),
                "polls": recorder.polls(link.name),
            }
            for link in session.analyzers.links
        ],
    }
