"""The calibration certificate: what was compared, how, the figures, the verdict; and applying it.

`DIR/certificate.json` (format `joulebench-calibration/1`) holds, per candidate source, each
condition's windows with both meters' averages and Olympic scores, the verdict by the rule's
reading (`conditions.RULE_READING`, written into the certificate), the fitted response (gain,
offset, lag, averaging with 95 % intervals), the flaws found, and the correction a later measurement
applies: watts' = (watts - offset) / gain, with the certificate's residual as the corrected
source's stated accuracy (`Correction.relative_bound`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from analyzers.trace import SAMPLE_OK, Trace
from rules.calibration.conditions import RULE_READING, Condition, olympic_score, window_averages
from rules.calibration.flaws import Flaw, flagged_samples, stale_readings
from rules.calibration.response import Response, ResponseFitError, fit_response

FORMAT = "joulebench-calibration/1"
RULE_SOURCE = 'mlcommons/training_policies power_measurement.adoc, "Target 5% Accuracy"'


class CertificateError(ValueError):
    """A certificate file that cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Correction:
    """What applying a certificate does to one source's samples."""

    source: str
    gain: float
    offset_w: float
    relative_bound: float  # the corrected watts' stated accuracy (fraction, a bound like a meter's)
    certificate: str = ""

    def apply(self, trace: Trace, origin_ns: int | None = None) -> Trace:
        """The trace on the reference's scale. Channels are dropped: the certificate calibrates the
        source's total, and an offset cannot be shared out among its parts. A cumulative energy
        counter loses offset x (time since `origin_ns`); chunks of one recording pass the same
        origin so the corrected counter stays continuous (default: the trace's first sample)."""
        if not len(trace):
            return replace(trace, channels=())
        # Sentinel samples (PTD's -1 error, -2 missed) keep their values: they are not readings.
        watts = np.where(trace.flags == SAMPLE_OK, (trace.watts - self.offset_w) / self.gain, trace.watts)
        stated = np.where(np.isfinite(trace.uncertainty), trace.uncertainty, 0.0)
        uncertainty = np.sqrt(stated**2 + self.relative_bound**2)
        energy = trace.energy_j
        if energy is not None:
            origin = int(trace.time_ns[0]) if origin_ns is None else origin_ns
            seconds = (trace.time_ns - origin) / 1e9
            energy = (energy - self.offset_w * seconds) / self.gain
        return replace(trace, watts=watts, uncertainty=uncertainty, energy_j=energy, channels=())


@dataclass(frozen=True)
class ConditionResult:
    name: str
    windows: list[tuple[int, int]]
    reference_w: list[float]
    candidate_w: list[float]
    corrected_w: list[float]
    reference_score: float
    candidate_score: float
    corrected_score: float
    difference_percent: float
    corrected_difference_percent: float
    passed: bool


def _percent(value: float, reference: float) -> float:
    return (value - reference) / reference * 100 if reference else math.nan


def assess_candidate(
    label: str,
    reference: Trace,
    candidate: Trace,
    conditions: Sequence[Condition],
    windows: int,
    window_s: float,
    tolerance_percent: float,
    driver_flaws: Sequence[Flaw] = (),
) -> dict[str, Any]:
    """One candidate's part of the certificate (a JSON-ready dict)."""
    try:
        response: Response | None = fit_response(reference, candidate)
        fit_problem = None
    except ResponseFitError as error:
        response, fit_problem = None, str(error)
    results = []
    for condition in conditions:
        spans = condition.windows(windows, window_s)
        ref_w = window_averages(reference, spans)
        cand_w = window_averages(candidate, spans)
        corr_w = response.correct(cand_w) if response else np.full(len(spans), np.nan)
        ref_score, cand_score, corr_score = olympic_score(ref_w), olympic_score(cand_w), olympic_score(corr_w)
        difference = _percent(cand_score, ref_score)
        results.append(
            ConditionResult(
                condition.name,
                spans,
                ref_w.tolist(),
                cand_w.tolist(),
                corr_w.tolist(),
                ref_score,
                cand_score,
                corr_score,
                difference,
                _percent(corr_score, ref_score),
                bool(abs(difference) <= tolerance_percent),
            )
        )
    flaws = [*driver_flaws, *flagged_samples(candidate), *stale_readings(candidate, reference)]
    document: dict[str, Any] = {
        "source": label,
        "verdict": "pass" if all(r.passed for r in results) else "fail",
        "conditions": [asdict(r) for r in results],
        "flaws": [flaw.to_json() for flaw in flaws],
    }
    if response is None:
        document["response"] = None
        document["response_problem"] = fit_problem
        document["correction"] = None
        return document
    document["response"] = asdict(response)
    # The rule's own statistic after correction: each condition's Olympic score against the
    # reference's. A single window straddling a load step is what the score drops, so the bound is
    # not the worst window (a lagging source's would be tens of percent), it is the worst condition.
    residuals = [
        abs(r.corrected_difference_percent) / 100
        for r in results
        if math.isfinite(r.corrected_difference_percent)
    ]
    window_residuals = [
        abs(c - r) / r
        for result in results
        for c, r in zip(result.corrected_w, result.reference_w, strict=True)
        if math.isfinite(c) and math.isfinite(r) and r
    ]
    reference_bound = (
        float(np.nanmean(reference.uncertainty)) if np.isfinite(reference.uncertainty).any() else 0.0
    )
    gain_bound = (response.gain_ci[1] - response.gain_ci[0]) / 2 / response.gain
    bound = (max(residuals) if len(residuals) == len(results) else math.nan) + reference_bound + gain_bound
    document["correction"] = {
        "gain": response.gain,
        "offset_w": response.offset_w,
        "relative_bound": bound,
        "condition_residual_max_percent": max(residuals) * 100 if residuals else math.nan,
        "window_residual_max_percent": max(window_residuals) * 100 if window_residuals else math.nan,
        "note": (
            "watts' = (watts - offset_w) / gain; relative_bound = the largest condition residual after "
            "correction (corrected Olympic score against the reference's) + the reference's stated "
            "accuracy + the gain's 95 % half-interval"
        ),
    }
    return document


def certificate_document(
    reference_label: str,
    reference_identity: Mapping[str, Any],
    candidates: Sequence[Mapping[str, Any]],
    conditions: Sequence[Condition],
    settings: Mapping[str, Any],
    created: datetime | None = None,
) -> dict[str, Any]:
    verdict = "pass" if candidates and all(c["verdict"] == "pass" for c in candidates) else "fail"
    return {
        "format": FORMAT,
        "date": (created or datetime.now(UTC)).isoformat(timespec="seconds"),
        "rule": {"source": RULE_SOURCE, "reading": RULE_READING},
        "settings": dict(settings),
        "reference": {"source": reference_label, "identity": dict(reference_identity)},
        "conditions": [
            {"name": c.name, "begin_ns": c.begin_ns, "end_ns": c.end_ns, "duration_s": c.duration_s}
            for c in conditions
        ],
        "candidates": list(candidates),
        "verdict": verdict,
    }


def load_correction(path: str | Path, source: str | None = None) -> Correction:
    """The correction for `source` (a source label) from a certificate; with one candidate, `source`
    may be omitted."""
    return parse_correction(read_certificate(path), path, source)


def read_certificate(path: str | Path) -> bytes:
    """A certificate file's bytes; CertificateError naming the file when it cannot be read."""
    where = Path(path)
    try:
        return where.read_bytes()
    except FileNotFoundError:
        raise CertificateError(f"{where}: no such certificate") from None
    except OSError as error:
        raise CertificateError(f"{where}: not a readable certificate ({error.strerror or error})") from None


def certified_sources(data: bytes) -> list[str]:
    """The source labels a certificate's bytes name (empty when they are not a certificate)."""
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return []
    if not isinstance(document, dict):
        return []
    return [str(c.get("source")) for c in document.get("candidates", []) if isinstance(c, dict)]


def parse_correction(data: bytes, where: str | Path, source: str | None = None) -> Correction:
    """`load_correction` on a certificate already read; `where` names it in messages."""
    where = Path(where)
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CertificateError(f"{where}: not a readable certificate ({error})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise CertificateError(
            f"{where}: not a joulebench calibration certificate (format {FORMAT!r} expected)"
        )
    candidates = [c for c in document.get("candidates", []) if isinstance(c, dict)]
    if source is not None:
        chosen = [c for c in candidates if c.get("source") == source]
    else:
        chosen = candidates if len(candidates) == 1 else []
    if len(chosen) != 1:
        named = ", ".join(str(c.get("source")) for c in candidates) or "none"
        wanted = f"source {source!r}" if source is not None else "one candidate"
        raise CertificateError(f"{where}: certifies {named}, not {wanted}")
    correction = chosen[0].get("correction")
    if not isinstance(correction, dict):
        raise CertificateError(
            f"{where}: {chosen[0].get('source')} has no correction (its response could not be fitted)"
        )
    try:
        gain, offset, bound = (
            float(correction["gain"]),
            float(correction["offset_w"]),
            float(correction["relative_bound"]),
        )
    except (TypeError, KeyError, ValueError):
        raise CertificateError(
            f"{where}: {chosen[0].get('source')} has no correction (its response could not be fitted)"
        ) from None
    if not (math.isfinite(gain) and gain > 0 and math.isfinite(offset) and math.isfinite(bound)):
        raise CertificateError(
            f"{where}: {chosen[0].get('source')}'s correction is not usable (gain {gain}, offset {offset})"
        )
    return Correction(str(chosen[0]["source"]), gain, offset, bound, str(where))
