"""PTD identity and command sequence as the director recorded them in `server.json` `ptd_messages`.

Eras differ (PTD_AND_MLPERF_POWER.md §3): 2021–2022 directors sent a second `Stop` (answered
`Error: no measurement to stop`) and set the current range to exactly the ranging maximum; the current
reference reads `RL`, `Watts` and `Uncertainty` and sets 1.1 × the maximum. The rule set says which
range factors it accepts; both Stop patterns are accepted, as the reference checker does.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec

import numpy as np

from analyzers.trace import Trace
from rules.compliance.policy import CompliancePolicy
from rules.compliance.session_files import PtdExchange, SessionRecord
from rules.compliance.verdict import Check, Verdict, failed, passed

HELLO_REPLY = "Hello, PTDaemon here!"
STOP_REPLY = "Stopping untimed measurement"
SECOND_STOP_REPLY = "Error: no measurement to stop"
_VERSION = re.compile(r"version=([^-,]+)")
_GO = re.compile(r"^Go,(\d+),(\d+),(.*)$")


@dataclass(frozen=True)
class PtdSequence:
    """Indexes into `ptd_messages` of the ranging and testing Go and the Stop that ends each."""

    exchanges: list[PtdExchange]
    ranging_go: int | None
    testing_go: int | None

    def after(self, start: int | None, prefix: str) -> list[tuple[int, PtdExchange]]:
        begin = 0 if start is None else start + 1
        return [(i, e) for i, e in enumerate(self.exchanges[begin:], begin) if e.cmd.startswith(prefix)]


def find_sequence(server: SessionRecord) -> PtdSequence | None:
    if server.ptd_messages is None:
        return None
    ranging = testing = None
    for index, exchange in enumerate(server.ptd_messages):
        go = _GO.match(exchange.cmd)
        if go and go.group(3).endswith("_ranging") and ranging is None:
            ranging = index
        elif go and go.group(3).endswith("_testing") and testing is None:
            testing = index
    return PtdSequence(server.ptd_messages, ranging, testing)


def testing_uncertainty_reply(server: SessionRecord) -> str | None:
    """PTD's reply to the first `Uncertainty` after the testing Go, if the director asked for one."""
    sequence = find_sequence(server)
    if sequence is None or sequence.testing_go is None:
        return None
    replies = [e.reply for _, e in sequence.after(sequence.testing_go, "Uncertainty")]
    return replies[0] if replies else None


def _no_ptd(server: SessionRecord, check_id: str, policy: CompliancePolicy) -> Check:
    return policy.judged(
        check_id,
        "unlisted_analyzer",
        f"{server.path}: no ptd_messages recorded; the analyzer was not driven through SPEC PTDaemon's protocol",
    )


_Extra = ParamSpec("_Extra")


def _of_sequence(
    check_id: str,
) -> Callable[
    [Callable[Concatenate[SessionRecord, PtdSequence, CompliancePolicy, _Extra], Check]],
    Callable[Concatenate[SessionRecord, CompliancePolicy, _Extra], Check],
]:
    """A check of the recorded PTD exchanges; where none were recorded, the rule set's verdict for that."""

    def decorate(
        check: Callable[Concatenate[SessionRecord, PtdSequence, CompliancePolicy, _Extra], Check],
    ) -> Callable[Concatenate[SessionRecord, CompliancePolicy, _Extra], Check]:
        @functools.wraps(check)
        def checked(
            server: SessionRecord, policy: CompliancePolicy, *args: _Extra.args, **kwargs: _Extra.kwargs
        ) -> Check:
            sequence = find_sequence(server)
            if sequence is None:
                return _no_ptd(server, check_id, policy)
            return check(server, sequence, policy, *args, **kwargs)

        return checked

    return decorate


@_of_sequence("ptd.identity")
def check_identity(server: SessionRecord, sequence: PtdSequence, policy: CompliancePolicy) -> Check:
    identify = next((e.reply for e in sequence.exchanges if e.cmd == "Identify"), "")
    if not identify:
        return failed("ptd.identity", f"{server.path}: no reply to Identify in ptd_messages")
    model = identify.split(",")[0]
    version_match = _VERSION.search(identify)
    version = version_match.group(1) if version_match else "?"
    problems = []
    if model not in policy.analyzers:
        problems.append(f"analyzer {model!r} is not on {policy.ruleset}'s list")
    if version not in policy.ptd_versions:
        problems.append(
            f"PTD version {version} is not allowed by {policy.ruleset} (allowed: {', '.join(policy.ptd_versions)})"
        )
    if not problems:
        return passed("ptd.identity", f"{server.path}: {model} behind PTD {version}")
    # A known meter behind a PTD version this round does not allow is a plain failure; an unknown
    # model means another daemon or meter altogether, judged as the rule set says.
    verdict = Verdict.FAIL if model in policy.analyzers else policy.verdict("unlisted_analyzer")
    return Check(
        "ptd.identity", verdict, f"{server.path}: Identify says {model} {version}: " + "; ".join(problems)
    )


def check_device_type(server: SessionRecord, policy: CompliancePolicy) -> Check:
    """Every analyzer's `ptd_config` entry (a list, or one object in folders before 2025)."""
    if not server.ptd_configs:
        return policy.judged("ptd.device_type", "unlisted_analyzer", f"{server.path}: no ptd_config recorded")
    checks = [_device_type(server, policy, n, config) for n, config in enumerate(server.ptd_configs, 1)]
    not_passed = [c for c in checks if c.verdict != Verdict.PASS]
    if not not_passed:
        return passed("ptd.device_type", "; ".join(c.message for c in checks))
    worst = max(not_passed, key=lambda c: _SEVERITY[c.verdict])
    return Check("ptd.device_type", worst.verdict, "; ".join(c.message for c in not_passed))


_SEVERITY = {Verdict.PASS: 0, Verdict.INFO: 1, Verdict.WARN: 2, Verdict.FAIL: 3}


def _device_type(
    server: SessionRecord, policy: CompliancePolicy, number: int, config: dict[str, Any]
) -> Check:
    where = f"{server.path}" if len(server.ptd_configs) == 1 else f"{server.path} (analyzer {number})"
    device = config.get("device_type")
    supported = sorted(set(policy.analyzers.values()))
    if device is None:
        return policy.judged(
            "ptd.device_type",
            "unlisted_analyzer",
            f"{where}: ptd_config records no PTD device type (for a ptd:// analyzer, set "
            "`device_type` in the director's configuration)",
        )
    if device not in supported:
        return policy.judged(
            "ptd.device_type",
            "unlisted_analyzer",
            f"{where}: PTD device type {device} is not supported by {policy.ruleset} ({', '.join(map(str, supported))})",
        )
    channels = config.get("channel")
    multichannel = [
        name for name, number in policy.analyzers.items() if number == device and "multichannel" in name
    ]
    if multichannel and not (isinstance(channels, list) and len(channels) == 2):
        return failed(
            "ptd.device_type",
            f"{where}: device type {device} ({multichannel[0]}) needs two channels, ptd_config has {channels}",
        )
    return passed("ptd.device_type", f"{where}: device type {device}, channels {channels}")


@_of_sequence("ptd.replies")
def check_replies(server: SessionRecord, sequence: PtdSequence, policy: CompliancePolicy) -> Check:
    wrong = []
    measuring = False
    for index, exchange in enumerate(sequence.exchanges):
        cmd = exchange.cmd
        expected: str | None = None
        if cmd == "Hello":
            expected = HELLO_REPLY
        elif cmd.startswith("SR,V"):
            expected = "Range V changed"
        elif cmd.startswith("SR,A"):
            expected = "Range A changed"
        elif go := _GO.match(cmd):
            expected = f"Starting untimed measurement, maximum 500000 samples at {go.group(1)}ms with 0 rampup samples"
            measuring = True
        elif cmd == "Stop":
            # A Stop with nothing running (the 2021–2022 directors' second Stop) must be refused.
            expected = STOP_REPLY if measuring else SECOND_STOP_REPLY
            measuring = False
        if expected is not None and exchange.reply != expected:
            wrong.append(f"#{index} {cmd!r} got {exchange.reply!r}, expected {expected!r}")
    if wrong:
        return failed("ptd.replies", f"{server.path}: " + "; ".join(wrong[:3]))
    return passed("ptd.replies", f"{server.path}: every Hello, SR, Go and Stop got PTD's exact reply")


@_of_sequence("ptd.sequence")
def check_sequence(server: SessionRecord, sequence: PtdSequence, policy: CompliancePolicy) -> Check:
    """Ranging then testing, each one Go at the rule set's interval, untimed, marked `<session>_<mode>`."""
    problems = []
    gos = [(i, e.cmd) for i, e in enumerate(sequence.exchanges) if e.cmd.startswith("Go")]
    expected_marks = [f"{server.session_name}_ranging", f"{server.session_name}_testing"]
    marks = []
    for _index, cmd in gos:
        go = _GO.match(cmd)
        if go is None:
            problems.append(f"malformed {cmd!r}")
            continue
        marks.append(go.group(3))
        if int(go.group(1)) != policy.sampling_interval_ms or go.group(2) != "0":
            problems.append(f"{cmd!r} is not an untimed measurement at {policy.sampling_interval_ms} ms")
    if marks != expected_marks:
        problems.append(f"Go marks {marks} are not {expected_marks}")
    for name, start in (("ranging", sequence.ranging_go), ("testing", sequence.testing_go)):
        if start is not None:
            following = [e.cmd for e in sequence.exchanges[start + 1 :] if e.cmd.startswith(("Go", "Stop"))]
            if not following or following[0] != "Stop":
                problems.append(f"the {name} Go is not followed by a Stop")
    if problems:
        return failed("ptd.sequence", f"{server.path}: " + "; ".join(problems))
    era = (
        "current (RL, Watts and Uncertainty read after Stop)"
        if any(e.cmd == "Uncertainty" for e in sequence.exchanges)
        else "2021–2022 (second Stop, no Uncertainty read)"
    )
    return passed(
        "ptd.sequence",
        f"{server.path}: ranging then testing at {policy.sampling_interval_ms} ms, director era {era}",
    )


@_of_sequence("ptd.testing_ranges")
def check_testing_ranges(
    server: SessionRecord, sequence: PtdSequence, policy: CompliancePolicy, ranging: Trace | None
) -> Check:
    """The testing ranges are fixed to the ranging result: volts = max, amps = factor × max, no Auto."""
    if sequence.ranging_go is None or sequence.testing_go is None:
        return failed(
            "ptd.testing_ranges",
            f"{server.path}: no ranging and testing Go to compare ranges between",
        )
    before_ranging = [e.cmd for e in sequence.exchanges[: sequence.ranging_go] if e.cmd.startswith("SR,")]
    between = [
        e.cmd
        for e in sequence.exchanges[sequence.ranging_go : sequence.testing_go]
        if e.cmd.startswith("SR,")
    ]
    problems = []
    if "SR,V,Auto" not in before_ranging or "SR,A,Auto" not in before_ranging:
        problems.append(f"ranging did not run on autorange (SR before it: {before_ranging})")
    volts = _last_value(between, "SR,V,")
    amps = _last_value(between, "SR,A,")
    if volts is None or amps is None:
        problems.append(f"testing ranges are not fixed values ({between}): autorange in testing")
    if ranging is None:
        problems.append("ranging spl.txt unreadable, the ranges cannot be compared with its maxima")
    elif volts is not None and amps is not None:
        max_v, max_a = _maxima(ranging)
        if not _close(volts, max_v):
            problems.append(f"SR,V,{volts:g} but the ranging maximum is {max_v:g} V")
        factors = [f for f in policy.amps_range_factors if _close(amps, f * max_a)]
        if not factors:
            allowed = " or ".join(f"{f:g} ×" for f in policy.amps_range_factors)
            problems.append(f"SR,A,{amps:g} is not {allowed} the ranging maximum {max_a:g} A")
    if problems:
        return failed("ptd.testing_ranges", f"{server.path}: " + "; ".join(problems))
    assert volts is not None and amps is not None
    return passed(
        "ptd.testing_ranges",
        f"{server.path}: testing ranges {volts:g} V / {amps:g} A follow the ranging maxima (no autorange in testing)",
    )


@_of_sequence("ptd.ranges_restored")
def check_ranges_restored(server: SessionRecord, sequence: PtdSequence, policy: CompliancePolicy) -> Check:
    rr = next((e.reply for e in sequence.exchanges if e.cmd.startswith("RR")), "")
    fields = rr.split(",")
    if len(fields) < 5 or fields[0] != "Ranges":
        return failed("ptd.ranges_restored", f"{server.path}: no usable RR reply ({rr!r})")
    initial = {"A": _initial(fields[1], fields[2]), "V": _initial(fields[3], fields[4])}
    after = [e.cmd for e in sequence.exchanges[(sequence.testing_go or 0) + 1 :] if e.cmd.startswith("SR,")]
    problems = []
    for quantity, value in initial.items():
        last = next((cmd for cmd in reversed(after) if cmd.startswith(f"SR,{quantity},")), None)
        restored = last.split(",")[2] if last else None
        if restored is None or not _same_range(restored, value):
            problems.append(f"{quantity} range left at {restored or 'the testing value'}, initially {value}")
    if problems:
        return failed("ptd.ranges_restored", f"{server.path}: " + "; ".join(problems))
    return passed(
        "ptd.ranges_restored",
        f"{server.path}: ranges restored to A {initial['A']}, V {initial['V']}",
    )


def _initial(autorange: str, value: str) -> str:
    try:
        return value if autorange.strip() == "0" and float(value) > 0 else "Auto"
    except ValueError:
        return "Auto"


def _same_range(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return _close(float(a), float(b))
    except ValueError:
        return False


def _last_value(commands: list[str], prefix: str) -> float | None:
    for cmd in reversed(commands):
        if cmd.startswith(prefix):
            try:
                return float(cmd[len(prefix) :])
            except ValueError:
                return None
    return None


def _maxima(trace: Trace) -> tuple[float, float]:
    """Max volts and amps over the measured channels (the sum block carries -1 for them when multi-channel)."""
    if trace.channels:
        volts = np.concatenate([c.volts for c in trace.channels])
        amps = np.concatenate([c.amps for c in trace.channels])
    else:
        volts, amps = trace.volts, trace.amps
    max_v = float(np.nanmax(volts)) if np.isfinite(volts).any() else math.nan
    max_a = float(np.nanmax(amps)) if np.isfinite(amps).any() else math.nan
    return max_v, max_a


def _close(value: float, target: float) -> bool:
    # Ranges are printed with six decimals; a product like 1.1 × max is rounded there.
    return math.isfinite(target) and abs(value - target) <= 1e-6 + 1e-9 * abs(target)
