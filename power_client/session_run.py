"""One measured benchmark: a director session with a ranging and a testing run of the workload.

Order of events (each phase bracketed by an offset measurement, as the MLPerf flow brackets it by a
time check): clock check → session → [offset → start ranging → workload → stop → offset → LoadGen logs]
→ the same for testing → done → download → `client.log`, `client.json` → exact layout check.

From the session's creation to `done` a heartbeat thread tells the director this client is alive,
and any failure on the way — a client error, SIGINT or SIGTERM (`Stopped`), even a bug — aborts the
session with one sentence saying what failed before the error goes on to the caller. So no path
leaves the director holding an open session.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from analyzers.formats.mlperf_layout import (
    CLIENT_JSON,
    CLIENT_LOG,
    DETAIL_LOG,
    POWER_DIR,
    RANGING_DIR,
    SERVER_JSON,
    SUMMARY_LOG,
    TESTING_DIR,
)
from power_client.client_json import PhaseRecord, build_client_json, client_phases, sha1_of, write_client_json
from power_client.clock import Clock
from power_client.clock_offset import InconsistentRounds, OffsetEstimate, combine, measure_offset
from power_client.errors import ClientError, ClockOutOfBounds, DirectorFailed, Stopped
from power_client.folder import check_layout, place_director_files, place_run_logs
from power_client.heartbeat import Heartbeat
from power_client.loadgen_logs import find_run_logs
from power_client.ntp_check import check_ntp
from power_client.preflight import ClientLog, check_workload, make_folders, remove_created
from power_client.progress import Progress
from power_client.session_client import DirectorClient
from power_client.session_watch import OnAnalyzerFailure, SessionWatch
from power_client.workload import WorkloadRun, run_workload
from power_director.api import AnalyzerSummary, Mode, PhaseStart, PhaseStarted, PhaseStopped

log = logging.getLogger("power_client")
RUN_DIRS: dict[Mode, str] = {"ranging": RANGING_DIR, "testing": TESTING_DIR}


@dataclass(frozen=True)
class ClockLimits:
    max_offset_s: float = 0.2  # the strictest phase-time tolerance any MLPerf round used
    max_uncertainty_s: float = 0.05
    rounds: int = 32
    ntp_server: str | None = None
    ntp_port: int = 123
    max_ntp_offset_s: float = 0.4
    ntp_timeout_s: float = 2.0


@dataclass(frozen=True)
class RunRequest:
    director_url: str
    token: str | None
    output: Path
    loadgen_logs: Path
    command: tuple[str, ...]
    label: str = "run"
    known_ranges: PhaseStart | None = None  # given: no ranging run; the result is not submission-valid
    extras: Path | None = None
    clock_limits: ClockLimits = ClockLimits()
    show_workload_output: bool = False
    timeout_s: float = 600.0
    on_analyzer_failure: OnAnalyzerFailure = "stop"  # or "finish": let the workload run to its end


@dataclass
class SessionRecord:
    """What the run gathered for `client.json` and for the caller's report."""

    session_id: str
    client_uuid: str
    server_uuid: str
    phases: dict[Mode, PhaseRecord] = field(default_factory=dict)
    offsets: dict[str, list[OffsetEstimate]] = field(default_factory=dict)
    summaries: dict[str, list[AnalyzerSummary]] = field(default_factory=dict)
    submission_valid: bool = True


@dataclass(frozen=True)
class RunOutcome:
    output: Path
    extras: Path
    record: SessionRecord
    offset: OffsetEstimate  # the testing phase's, the one power-check applies
    layout: dict[str, list[str]]


def run_session(request: RunRequest, clock: Clock, status: TextIO = sys.stderr) -> RunOutcome:
    """Everything from the first clock check to the finished folder; ClientError on any failure."""
    output = request.output
    extras = request.extras or output.with_name(output.name + "-extras")
    check_workload(request.command)
    created = make_folders(output, extras, request.loadgen_logs)
    client_log = ClientLog(log)
    opened = False

    def session_opened() -> None:
        """From here on the output folder is this run's: `client.log` goes to its file."""
        nonlocal opened
        opened = True
        (output / POWER_DIR).mkdir()
        client_log.to_file(output / CLIENT_LOG)

    try:
        with DirectorClient(
            request.director_url, request.token, clock, timeout_s=request.timeout_s
        ) as director:
            director.sessions()  # the token is accepted: an authenticated call that changes nothing
            record = _run(request, director, clock, extras, status, session_opened)
    except BaseException:
        if not opened:
            remove_created(created)  # nothing of this run is left behind
        raise
    finally:
        client_log.close()
    # client.json comes last: it carries the sha1 of the finished client.log.
    _write_client_json(output, record, director, clock)
    layout = check_layout(output, with_ranging=request.known_ranges is None)
    return RunOutcome(output, extras, record, record.phases["testing"].offset, layout)


# The pieces below run in the order the module docstring gives.


def _run(
    request: RunRequest,
    director: DirectorClient,
    clock: Clock,
    extras: Path,
    status: TextIO,
    session_opened: Callable[[], None],
) -> SessionRecord:
    limits = request.clock_limits
    if limits.ntp_server:
        reading = check_ntp(
            limits.ntp_server, limits.max_ntp_offset_s, port=limits.ntp_port, timeout_s=limits.ntp_timeout_s
        )
        log.info(
            "NTP: offset = %.3f s, delay = %.3f s (%s)", reading.offset_s, reading.delay_s, reading.server
        )
    first = _measure(director, limits, "before the session")
    client_uuid = str(uuid.uuid4())
    created = director.create_session(request.label, client_uuid)
    session_id = created.session_id
    record = SessionRecord(session_id, client_uuid, created.server_uuid, offsets={"session": [first]})
    log.info("Session id is '%s'", session_id)
    for note in created.notes:
        log.warning("%s", note)
    step = ["the session's start"]  # what was going on, for the abort reason
    with Heartbeat(request.director_url, request.token, clock, session_id, created.client_timeout_s):
        try:
            session_opened()
            watch = SessionWatch(
                director,
                session_id,
                clock,
                created.analyzer_stall_s,
                first.offset_s,
                request.on_analyzer_failure,
            )
            _run_phases(request, director, clock, extras, status, record, step, watch)
            step[0] = "the end of the session"
            director.done(session_id)
        except BaseException as error:
            _abort(director, session_id, _abort_reason(error, step[0]), created.client_timeout_s, status)
            raise
    listing = director.files(session_id)
    place_director_files(
        request.output,
        extras,
        listing.files,
        lambda path: director.download(session_id, path),
        with_ranging=request.known_ranges is None,
    )
    _check_messages(request.output / SERVER_JSON, director)
    record.submission_valid = director.session(session_id).submission_valid
    log.info("Done runs")
    return record


def _run_phases(
    request: RunRequest,
    director: DirectorClient,
    clock: Clock,
    extras: Path,
    status: TextIO,
    record: SessionRecord,
    step: list[str],
    watch: SessionWatch,
) -> None:
    """Ranging (unless known ranges were given) and testing, each with its offsets and LoadGen logs."""
    limits = request.clock_limits
    progress = Progress(status, watts=watch.reading)
    modes: list[Mode] = ["testing"] if request.known_ranges is not None else ["ranging", "testing"]
    for mode in modes:
        step[0] = f"the {mode} run"
        before = _measure(director, limits, f"before {mode}")
        known = request.known_ranges if mode == "testing" else None
        # The offset goes along for the director's dashboard and /metrics; the ranges are what it acts on.
        ranges = (known or PhaseStart()).model_copy(update={"clock_offset_s": before.offset_ns / 1e9})
        run, started, stopped = _run_phase(
            request, director, clock, record.session_id, mode, ranges, extras, progress, watch
        )
        after = _measure(director, limits, f"after {mode}")
        record.offsets[mode] = [before, after]
        record.phases[mode] = PhaseRecord(
            (started.before_start, started.sampling_started, stopped.stop_received, stopped.sampling_stopped),
            combine([before, after]),
        )
        record.summaries[mode] = stopped.analyzers
        logs = find_run_logs(request.loadgen_logs, run.started_ns, run.ended_ns, f"the {mode} run")
        log.info(
            "Copying loadgen logs from '%s' to '%s'", logs.detail.parent, request.output / RUN_DIRS[mode]
        )
        place_run_logs(request.output, RUN_DIRS[mode], logs)


def _run_phase(
    request: RunRequest,
    director: DirectorClient,
    clock: Clock,
    session_id: str,
    mode: Mode,
    ranges: PhaseStart | None,
    extras: Path,
    progress: Progress,
    watch: SessionWatch,
) -> tuple[WorkloadRun, PhaseStarted, PhaseStopped]:
    log.info("Running workload in %s mode", mode)
    started = director.start_phase(session_id, mode, ranges)
    env = {**os.environ, "JOULEBENCH_PHASE": mode, "JOULEBENCH_SESSION": session_id}
    output_path = None if request.show_workload_output else extras / f"{mode}_workload.log"
    log.info("Running the workload '%s'", " ".join(request.command))
    progress.begin(mode)
    watch.mode = mode

    def tick() -> None:
        progress.tick()
        watch.check()  # raises when the director failed the session: the workload is then ended

    try:
        run = run_workload(request.command, clock, env, output_path, on_tick=tick)
        watch.raise_if_failed()
    except BaseException:
        progress.end("failed")
        raise
    progress.end("done")
    stopped = director.stop_phase(session_id, mode)
    return run, started, stopped


def _abort_reason(error: BaseException, step: str) -> str:
    """One sentence for the director's record: what ended this run."""
    if isinstance(error, Stopped):
        return f"power-client was stopped by {error.signal_name} during {step}"
    if isinstance(error, KeyboardInterrupt):
        return f"power-client was interrupted during {step}"
    if isinstance(error, ClientError):
        return f"{error} (during {step})"
    return f"power-client failed during {step}: {type(error).__name__}: {error}"


def _abort(
    director: DirectorClient, session_id: str, reason: str, client_timeout_s: float, status: TextIO
) -> None:
    """End the session on the director; if that fails too, say how it will end anyway."""
    try:
        info = director.abort(session_id, reason)
    except DirectorFailed as error:  # it had ended already, e.g. an analyzer failed first
        log.warning("The session was not aborted: %s", error)
        return
    except ClientError as error:
        ends = (
            f"the director ends it after {client_timeout_s:g} s without word from this client, or "
            if client_timeout_s > 0
            else ""
        )
        sentence = (
            f"session {session_id} is still open on the director ({error}); {ends}"
            f"end it with: power-client abort --session {session_id}"
        )
        log.warning(sentence)
        print(f"power-client: {sentence}", file=status)
        return
    log.info("Aborted session %s: %s", session_id, info.failure)


def _measure(director: DirectorClient, limits: ClockLimits, when: str) -> OffsetEstimate:
    try:
        estimate = measure_offset(director.time_round, limits.rounds)
    except InconsistentRounds as error:
        raise ClockOutOfBounds(f"clock offset to the director {when}: {error}") from None
    log.info(
        "The time difference between the client and the server is %.3f ms ± %.3f ms (%s, %d rounds)",
        -estimate.offset_s * 1e3,
        estimate.uncertainty_s * 1e3,
        when,
        estimate.rounds,
    )
    if abs(estimate.offset_s) > limits.max_offset_s:
        raise ClockOutOfBounds(
            f"this machine's clock is {-estimate.offset_s * 1e3:+.1f} ms off the director's {when} "
            f"(limit ±{limits.max_offset_s * 1e3:.0f} ms); synchronise both with the same time service"
        )
    if estimate.uncertainty_s > limits.max_uncertainty_s:
        raise ClockOutOfBounds(
            f"the clock offset to the director {when} is only known to ±{estimate.uncertainty_s * 1e3:.1f} ms "
            f"(limit ±{limits.max_uncertainty_s * 1e3:.0f} ms): the network to it is too slow or congested"
        )
    return estimate


def _check_messages(server_json: Path, director: DirectorClient) -> None:
    """The checker requires identical `messages` commands and replies in both files; say so if not."""
    try:
        server = json.loads(server_json.read_text(encoding="utf-8"))
        theirs = [(one["cmd"], one["reply"]) for one in server["messages"]]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DirectorFailed(f"the director's {server_json} has no readable messages list: {error}") from None
    ours = [(one.cmd, one.reply) for one in director.messages]
    if ours != theirs:
        raise DirectorFailed(
            f"the director's {server_json} records {len(theirs)} messages and this client {len(ours)}, "
            "not the same commands and replies; the MLPerf checker would reject the folder"
        )


def _write_client_json(output: Path, record: SessionRecord, director: DirectorClient, clock: Clock) -> None:
    results = {CLIENT_LOG: sha1_of(output / CLIENT_LOG)}
    for mode in record.phases:
        for name in (DETAIL_LOG, SUMMARY_LOG):
            results[f"{RUN_DIRS[mode]}/{name}"] = sha1_of(output / RUN_DIRS[mode] / name)
    data = build_client_json(
        messages=director.messages,
        client_uuid=record.client_uuid,
        server_uuid=record.server_uuid,
        session_name=record.session_id,
        results=results,
        phases={mode: client_phases(phase, clock) for mode, phase in record.phases.items()},
        offset=record.phases["testing"].offset,
        offsets=record.offsets,
    )
    write_client_json(output / CLIENT_JSON, data)
