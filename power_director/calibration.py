"""Calibration certificates on director analyzers: read at start-up, kept with each session, applied on output.

An `[[analyzers]]` entry may name a `power-calibrate` certificate (`certificate = "cert.json"`, and
`certificate_source` when it certifies several sources; by default its only candidate, else the one
labelled like the analyzer). The recording stays what the meter said: `recording/<analyzer>.arrows`
is never corrected. Each session keeps, from its first moment, the certificate's bytes as read at
start-up and the correction taken from them:

    calibration/<analyzer>.certificate.json   the certificate, byte for byte
    calibration/<analyzer>.json               {analyzer, certificate, sha256, source, gain, offset_w,
                                               relative_bound}

and everything computed from the recording for people applies that record: the phase summaries'
`corrected` figures, `trace[_<analyzer>].corrected.parquet` next to the raw trace, the training
export's node logs (their `power_measurement_start` states the corrected source's accuracy). The
MLPerf sample files (`spl.txt`) stay raw: they are the PTD log a reviewer's checker compares.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analyzers.trace import Trace
from power_director.storage import safe_name
from rules.calibration.certificate import Correction, certified_sources, parse_correction, read_certificate

CALIBRATION_DIR = "calibration"
_RECORD_SUFFIX = ".json"
_COPY_SUFFIX = ".certificate.json"


@dataclass(frozen=True)
class Calibration:
    """A certificate as read at start-up and the correction it gives one analyzer."""

    path: str
    document: bytes
    correction: Correction

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.document).hexdigest()

    def record(self, analyzer: str) -> dict[str, Any]:
        correction = self.correction
        return {
            "analyzer": analyzer,
            "certificate": self.path,
            "sha256": self.sha256,
            "source": correction.source,
            "gain": correction.gain,
            "offset_w": correction.offset_w,
            "relative_bound": correction.relative_bound,
        }


def read_calibration(path: Path, analyzer: str, source: str | None = None) -> Calibration:
    """The certificate at `path` for `analyzer`; CertificateError (naming the file) when unusable."""
    data = read_certificate(path)
    named = certified_sources(data)
    if source is None and analyzer in named and len(named) > 1:
        source = analyzer
    return Calibration(str(path), data, parse_correction(data, path, source))


def _stem(analyzer: str) -> str:
    return safe_name(analyzer)


def calibrations_of(instruments: Iterable[Any]) -> dict[str, Calibration]:
    """Name -> calibration of the configured analyzers (`Instrument`s) that have a certificate."""
    return {i.name: i.config.calibration for i in instruments if i.config.calibration is not None}


def write_calibrations(folder: Path, calibrations: Mapping[str, Calibration]) -> None:
    """The session's own copy of each analyzer's certificate and the correction it applies."""
    if not calibrations:
        return
    target = folder / CALIBRATION_DIR
    target.mkdir(parents=True, exist_ok=True)
    for analyzer, calibration in calibrations.items():
        stem = _stem(analyzer)
        (target / f"{stem}{_COPY_SUFFIX}").write_bytes(calibration.document)
        record = json.dumps(calibration.record(analyzer), indent=2) + "\n"
        (target / f"{stem}{_RECORD_SUFFIX}").write_text(record, encoding="utf-8")


def session_calibrations(folder: Path, analyzers: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The calibration records of a session's analyzers (none for an analyzer without a certificate).

    A record that cannot be read is a ValueError naming it: a session's output is never silently
    left uncorrected when it says it was calibrated."""
    found: dict[str, dict[str, Any]] = {}
    for analyzer in analyzers:
        path = folder / CALIBRATION_DIR / f"{_stem(analyzer)}{_RECORD_SUFFIX}"
        if not path.is_file():
            continue
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            correction = Correction(
                str(record["source"]),
                float(record["gain"]),
                float(record["offset_w"]),
                float(record["relative_bound"]),
                str(record["certificate"]),
            )
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path}: not a readable calibration record ({error})") from None
        if not correction.gain > 0:
            raise ValueError(f"{path}: the calibration's gain {correction.gain} is not positive")
        copy = f"{CALIBRATION_DIR}/{_stem(analyzer)}{_COPY_SUFFIX}"
        found[analyzer] = {**record, "copy": copy, "correction": correction}
    return found


def session_corrections(folder: Path, analyzers: Iterable[str]) -> dict[str, Correction]:
    return {name: r["correction"] for name, r in session_calibrations(folder, analyzers).items()}


def corrected_chunks(chunks: Iterable[Trace], correction: Correction) -> Iterator[Trace]:
    """A recording's chunks on the reference's scale; one origin for all, so a counter stays continuous."""
    origin: int | None = None
    for chunk in chunks:
        if not len(chunk):
            continue
        if origin is None:
            origin = int(chunk.time_ns[0])
        yield correction.apply(chunk, origin)


def corrected_figure(value: float | None, correction: Correction) -> float | None:
    """One power figure (a mean, a minimum, a maximum) corrected; the map is increasing and affine,
    so the corrected mean/min/max of a phase are these of its raw mean/min/max."""
    if value is None:
        return None
    return (value - correction.offset_w) / correction.gain
