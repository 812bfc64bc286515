"""Wire schemas of the director's HTTP API (version 1): pydantic models only.

This module is the one piece of `power_director` that `power_client` may import: no FastAPI app, no
server code. Times are integers: UTC epoch nanoseconds (`*_ns`) or monotonic nanoseconds.

Every reply to a call that a session records carries `exchange`: the `{cmd, reply}` strings that the
director writes into `server.json` `messages`, so the client can write the very same strings (with its
own times) into `client.json`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from analyzers.physical_limits import MAX_AMPS, MAX_VOLTS

API_PREFIX = "/v1"
CLIENT_PROTOCOL = "joulebench/power client v1"
SERVER_PROTOCOL = "joulebench/power server v1"
LABEL_PATTERN = r"^[-_A-Za-z0-9]{1,64}$"
MAX_RESULT_INDEX = 1000  # MLPerf Training asks for 5 to 10 runs
MAX_EPOCH_NS = 2**63 - 1

Mode = Literal["ranging", "testing"]
MarkEvent = Literal["begin", "end"]
SessionState = Literal["created", "ranging", "ranged", "testing", "tested", "done", "failed", "closed"]
FINAL_STATES: frozenset[SessionState] = frozenset({"done", "failed", "closed"})
"""A session in one of these has ended: it takes no more calls that change it. `closed` is only in
records of directors before API 1.1 (a client that went quiet); such a session now ends `failed`."""


class ErrorReply(BaseModel):
    detail: str


class Exchange(BaseModel):
    """One recorded client↔director exchange, as `messages` entries name them."""

    cmd: str
    reply: str


class TimeReply(BaseModel):
    """For NTP-style offset estimation: director clock when the request arrived and when it left."""

    receive_ns: int
    transmit_ns: int


class SessionCreate(BaseModel):
    label: str = Field(pattern=LABEL_PATTERN)
    client_uuid: str
    client_protocol: str = CLIENT_PROTOCOL


class SessionCreated(BaseModel):
    session_id: str  # YYYY-MM-DD_HH-MM-SS_<label>
    server_uuid: str
    server_protocol: str = SERVER_PROTOCOL
    exchange: Exchange
    client_timeout_s: float = 0.0
    """The director fails the session after this long without a call from its client (0: never);
    a client sends `POST …/heartbeat` well within it (joulebench's client: every min(5 s, a quarter))."""
    analyzer_stall_s: float = 0.0
    """An analyzer with no new sample for this long while measuring fails the session (0: unknown):
    a reading older than that is not shown as current."""
    notes: list[str] = []
    """One sentence each about what this session's folder will lack or show (e.g. a remote
    SPEC PTDaemon's console log, which stays on its host)."""


class SessionAbort(BaseModel):
    """Why the client ends its session early: one sentence, recorded as the session's failure."""

    reason: str = Field(min_length=1, max_length=2000)


class PhaseStamp(BaseModel):
    """One phase instant: the reference's `[wall_time, monotonic]` pair, in integer ns."""

    wall_ns: int
    monotonic_ns: int


class PhaseStart(BaseModel):
    """Optional known ranges: testing without ranging (the result is then not submission-valid);
    optionally the client's clock offset, as it measured it before the run."""

    # Finite and physical: no meter the PTD protocol drives ranges above these.
    max_volts: float | None = Field(default=None, gt=0, le=MAX_VOLTS, allow_inf_nan=False)
    max_amps: float | None = Field(default=None, gt=0, le=MAX_AMPS, allow_inf_nan=False)
    clock_offset_s: float | None = Field(default=None, ge=-86_400, le=86_400, allow_inf_nan=False)
    """The client's latest estimate of director clock − client clock, for the dashboard and /metrics."""


class PhaseStarted(BaseModel):
    session_id: str
    mode: Mode
    mark: str  # the PTD mark, <session>_<mode>
    before_start: PhaseStamp  # stamp 0: the request arrived
    sampling_started: PhaseStamp  # stamp 1: the analyzer replied to Go
    exchange: Exchange


class AlignmentSummary(BaseModel):
    """How one analyzer's samples lined up in time with analyzer 1's in the merged `spl.txt`.

    `matched` lines carry its sample; on `missing` lines it had none within the tolerance (its part
    is a `-2` missed sample); `unused` of its samples matched no line. Errors are |t_k - t_1| of the
    matched pairs, `mean_offset_s` their signed mean (t_k - t_1)."""

    samples: int
    matched: int
    missing: int
    unused: int
    max_abs_error_s: float
    mean_abs_error_s: float
    mean_offset_s: float


class CorrectedSummary(BaseModel):
    """An analyzer's phase figures after its calibration certificate's correction (`certificate = "…"`)."""

    avg_power_w: float | None
    min_power_w: float | None
    max_power_w: float | None
    relative_bound: float  # the corrected watts' stated accuracy (fraction), from the certificate
    gain: float
    offset_w: float
    certificate_sha256: str


class AnalyzerSummary(BaseModel):
    """What one analyzer measured in a phase (PTD `Watts` and `Uncertainty`, plus our counts)."""

    name: str
    samples: int
    errors: int
    """Samples the meter flagged as errors (PTD `-1`)."""
    missed: int = 0
    """Samples the meter missed (PTD `-2`)."""
    avg_power_w: float | None
    min_power_w: float | None
    max_power_w: float | None
    max_volts: float | None
    max_amps: float | None
    uncertainty_max: float | None = None
    uncertainty_invalid: int = 0
    alignment: AlignmentSummary | None = None  # several analyzers only: the time alignment of the merge
    corrected: CorrectedSummary | None = None  # a certified analyzer only: the figures above, corrected


class PhaseStopped(BaseModel):
    session_id: str
    mode: Mode
    stop_received: PhaseStamp  # stamp 2: the workload ended (stop request arrived)
    sampling_stopped: PhaseStamp  # stamp 3: the analyzer replied to Stop and samples were fetched
    analyzers: list[AnalyzerSummary]
    exchange: Exchange


class MarkRequest(BaseModel):
    name: str = Field(pattern=LABEL_PATTERN)
    event: MarkEvent


class MarkRecorded(BaseModel):
    name: str
    event: MarkEvent
    time_ns: int
    exchange: Exchange


class SessionDone(BaseModel):
    session_id: str
    files: list[str]  # paths relative to the session folder
    exchange: Exchange


class SessionInfo(BaseModel):
    session_id: str
    label: str
    state: SessionState
    created_ns: int
    client_uuid: str
    server_uuid: str
    submission_valid: bool = True  # False when testing ran with given ranges, without ranging
    failure: str | None = None


class FileEntry(BaseModel):
    path: str
    size: int
    sha1: str


class FileList(BaseModel):
    session_id: str
    files: list[FileEntry]


class AnalyzerInfo(BaseModel):
    name: str
    endpoint: str  # ptd://host:port, or the in-process driver name
    connected: bool
    model: str | None = None
    channels: int | None = None
    last_reading_ns: int | None = None
    last_watts: float | None = None
    error: str | None = None


class TrainingExport(BaseModel):
    """Write a session's samples as MLPerf Training power logs (`power/result_<i>/node_<k>.txt`).

    The window is a phase (`mode`) or, when `begin_ns`/`end_ns` are given, that time range of the
    recording. One node file per analyzer, or per channel of each analyzer with `per_channel`.
    An analyzer with a calibration certificate is written corrected unless `raw`."""

    mode: Mode | None = "testing"
    begin_ns: int | None = Field(default=None, ge=0, le=MAX_EPOCH_NS)
    end_ns: int | None = Field(default=None, ge=0, le=MAX_EPOCH_NS)
    result_index: int = Field(default=1, ge=0, le=MAX_RESULT_INDEX)
    per_channel: bool = False
    raw: bool = False


class TrainingExported(BaseModel):
    session_id: str
    files: list[str]  # relative to the session folder, under training/
    readings: int
    corrected: list[str] = []  # the analyzers written on their certificate's scale
