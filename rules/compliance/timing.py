"""Phases and timing: client/director phase stamps, LoadGen windows inside Go…Stop, durations, power delta.

LoadGen writes UTC; some directors and SUTs wrote local time, and `timezone` (seconds west of UTC)
ignores daylight saving. A LoadGen time is therefore accepted when it lies inside the phase read as
UTC, or as local time with `timezone`, or with `timezone` ± exactly one DST hour — and the check says
which reading placed it. With a recorded clock offset (joulebench's client) the offset and its
uncertainty are used instead of guessing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from analyzers.formats.units import NS_PER_S
from rules.compliance.policy import CompliancePolicy
from rules.compliance.session_files import SessionRecord
from rules.compliance.verdict import Check, failed, passed, warned

DST_HOUR_S = 3600
MODES = ("ranging", "testing")


@dataclass(frozen=True)
class LoadgenWindow:
    mode: str  # "ranging" or "testing"
    begin_ns: int  # as written (parsed as if UTC)
    end_ns: int
    where: str  # file:line of power_begin

    @property
    def window_s(self) -> float:
        return (self.end_ns - self.begin_ns) / NS_PER_S


@dataclass(frozen=True)
class ClockReading:
    """How LoadGen's wall-clock strings map to UTC: add `offset_ns`."""

    offset_ns: int
    description: str
    margin_ns: int = 0


def clock_readings(client: SessionRecord) -> list[ClockReading]:
    if client.clock_offset is not None:
        offset = client.clock_offset
        return [
            ClockReading(
                offset.offset_ns,
                f"the recorded clock offset {offset.offset_ns / 1e6:+.3f} ms ± {offset.uncertainty_ns / 1e6:.3f} ms",
                offset.uncertainty_ns,
            )
        ]
    tz = client.timezone_s
    readings = [ClockReading(0, "UTC")]
    for seconds, text in (
        (tz, f"local time by timezone {tz} s"),
        (tz - DST_HOUR_S, f"local time by timezone {tz} s − the {DST_HOUR_S} s daylight-saving hour"),
        (tz + DST_HOUR_S, f"local time by timezone {tz} s + the {DST_HOUR_S} s daylight-saving hour"),
    ):
        if all(r.offset_ns != seconds * NS_PER_S for r in readings):
            readings.append(ClockReading(seconds * NS_PER_S, text + f" (UTC{-seconds / 3600:+g})"))
    return readings


def phase_window_ns(record: SessionRecord, mode: str) -> tuple[int, int] | None:
    """Stamp 1 (after Go) .. stamp 2 (workload ended) of `mode`, in UTC epoch ns."""
    stamps = record.phases.get(mode, [])
    if len(stamps) < 3:
        return None
    return round(stamps[1] * NS_PER_S), round(stamps[2] * NS_PER_S)


def locate_loadgen(
    windows: list[LoadgenWindow], client: SessionRecord, server: SessionRecord
) -> ClockReading | None:
    """The first clock reading that puts every LoadGen window inside its phase, or None."""
    reference = server if client.clock_offset is not None else client
    for reading in clock_readings(client):
        if all(_inside(w, reference, reading) for w in windows):
            return reading
    return None


def _inside(window: LoadgenWindow, record: SessionRecord, reading: ClockReading) -> bool:
    phase = phase_window_ns(record, window.mode)
    if phase is None:
        return False
    begin = window.begin_ns + reading.offset_ns
    end = window.end_ns + reading.offset_ns
    return phase[0] < begin - reading.margin_ns and end + reading.margin_ns < phase[1]


def check_loadgen_window(windows: list[LoadgenWindow], client: SessionRecord, server: SessionRecord) -> Check:
    reading = locate_loadgen(windows, client, server)
    if reading is not None:
        return passed(
            "timing.loadgen_window",
            f"{' and '.join(w.mode for w in windows)} LoadGen windows lie inside their Go…Stop phases "
            f"(LoadGen times read as {reading.description})",
        )
    if client.clock_offset is not None:
        loose = ClockReading(client.clock_offset.offset_ns, "the recorded clock offset")
        if all(_inside(w, server, loose) for w in windows):
            return warned(
                "timing.loadgen_window",
                "LoadGen windows lie inside Go…Stop only within the recorded clock-offset uncertainty "
                f"(± {client.clock_offset.uncertainty_ns / 1e6:.3f} ms)",
            )
    reference = server if client.clock_offset is not None else client
    readings = clock_readings(client)
    for window in windows:
        if not any(_inside(window, reference, r) for r in readings):
            phase = phase_window_ns(reference, window.mode)
            span = "no phase stamps" if phase is None else f"{_utc(phase[0])} – {_utc(phase[1])} UTC"
            return failed(
                "timing.loadgen_window",
                f"{window.where}: {window.mode} power_begin..power_end ({_utc(window.begin_ns)} – {_utc(window.end_ns)} "
                f"as written) is outside the {window.mode} Go…Stop phase ({span}) under every accepted clock "
                f"reading ({'; '.join(r.description for r in readings)})",
            )
    return failed(
        "timing.loadgen_window",
        "the ranging and testing LoadGen windows fit their phases only under different clock readings",
    )


def check_phase_stamps(client: SessionRecord, server: SessionRecord, policy: CompliancePolicy) -> Check:
    offset_s = client.clock_offset.offset_ns / NS_PER_S if client.clock_offset else 0.0
    worst = (0.0, "")
    for mode in MODES:
        mine, theirs = client.phases.get(mode, []), server.phases.get(mode, [])
        if len(mine) != 4 or len(theirs) != 4:
            return failed(
                "timing.phases",
                f"{mode}: client.json has {len(mine)} phase stamps, server.json {len(theirs)} (4 each expected)",
            )
        for index, (c, s) in enumerate(zip(mine, theirs, strict=True)):
            difference_ms = abs(c + offset_s - s) * 1000
            if difference_ms > worst[0]:
                worst = (difference_ms, f"{mode} stamp {index}")
    if worst[0] > policy.phase_tolerance_ms:
        return failed(
            "timing.phases",
            f"client and director phase times differ by {worst[0]:.1f} ms at {worst[1]}, over the "
            f"{policy.phase_tolerance_ms:g} ms of {policy.ruleset}",
        )
    return passed(
        "timing.phases",
        f"client and director phase times agree within {worst[0]:.1f} ms (limit {policy.phase_tolerance_ms:g} ms)",
    )


def check_durations(ranging: LoadgenWindow | None, testing: LoadgenWindow, policy: CompliancePolicy) -> Check:
    if ranging is None:
        return failed("timing.duration", "no ranging LoadGen window to compare the testing duration with")
    shorter = (ranging.window_s - testing.window_s) / ranging.window_s if ranging.window_s > 0 else 0.0
    allowed = policy.duration_shorter_fraction
    return _short_of_ranging(
        policy,
        "timing.duration",
        "duration_shorter",
        f"testing {testing.window_s:.3f} s, ranging {ranging.window_s:.3f} s",
        shorter > allowed,
        f"testing is {shorter:.1%} shorter, more than the {allowed:.0%} allowed",
    )


def check_minimum_duration(testing: LoadgenWindow, policy: CompliancePolicy) -> Check:
    if testing.window_s < policy.min_duration_s:
        return policy.judged(
            "timing.minimum",
            "short_run",
            f"{testing.where}: the testing window lasts {testing.window_s:.3f} s, under the "
            f"{policy.min_duration_s:g} s minimum run (not submission-valid)",
        )
    return passed(
        "timing.minimum",
        f"testing window {testing.window_s:.3f} s ≥ {policy.min_duration_s:g} s",
    )


def check_power_delta(testing_w: float | None, ranging_w: float | None, policy: CompliancePolicy) -> Check:
    if testing_w is None or ranging_w is None or ranging_w <= 0:
        return failed("power.ranging_delta", "no ranging or testing average power to compare")
    drop = (ranging_w - testing_w) / ranging_w
    return _short_of_ranging(
        policy,
        "power.ranging_delta",
        "power_drop",
        f"testing {testing_w:.6g} W vs ranging {ranging_w:.6g} W ({-drop:+.2%})",
        drop > policy.power_drop_fraction,
        f"more than {policy.power_drop_fraction:.0%} below ranging",
    )


def _short_of_ranging(
    policy: CompliancePolicy, check_id: str, finding: str, comparison: str, beyond_allowed: bool, excess: str
) -> Check:
    """Testing compared with ranging: the rule set's verdict for `finding`, with why, when testing
    falls short by more than the rule set allows, else a pass; the comparison is told either way."""
    if beyond_allowed:
        return policy.judged(check_id, finding, f"{comparison}: {excess}")
    return passed(check_id, comparison)


def _utc(epoch_ns: int) -> str:
    moment = dt.datetime.fromtimestamp(epoch_ns / NS_PER_S, tz=dt.timezone.utc)
    return moment.strftime("%m-%d-%Y %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
