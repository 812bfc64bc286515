"""The folder `power-measure --output DIR` writes and `power-check` reads (kind `measure`).

DIR/result.json          format "joulebench-measure/1": the command, its exit status, the
                         interval, each source (label, trace file, clock shift and its
                         uncertainty), every window's measurement, the marks, the warnings
DIR/trace-<n>.parquet    source n's samples on the measuring machine's clock (the project's
                         trace model, `Trace.to_parquet`)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analyzers.formats.atomic import write_text_atomically
from analyzers.trace import Trace
from rules.errors import InputError
from rules.measure.measurement import Measurement
from rules.measure.windows import SourceSamples

RESULT_FILE = "result.json"
FORMAT = "joulebench-measure/1"
COMMAND_WINDOW = "command"
"""The window spanning the whole measured command, first in every folder's `windows`."""


@dataclass(frozen=True)
class RecordedSource:
    label: str
    trace_file: str
    interval_ns: int
    clock_uncertainty_s: float
    counter_update_s: float | None
    shift_ns: int
    energy_origin_ns: int | None


@dataclass(frozen=True)
class MeasureFolder:
    directory: Path
    document: dict[str, Any]
    sources: tuple[RecordedSource, ...]
    windows: tuple[Measurement, ...]

    def samples(self) -> list[SourceSamples]:
        """Each source's samples, read from its trace file (already on the common clock)."""
        result = []
        for source in self.sources:
            path = self.directory / source.trace_file
            try:
                trace = Trace.from_parquet(path)
            except (OSError, ValueError, KeyError) as error:
                raise InputError(path, f"not a readable trace ({error})") from None
            result.append(
                SourceSamples.from_trace(
                    source.label,
                    trace,
                    source.interval_ns,
                    source.clock_uncertainty_s,
                    source.counter_update_s,
                    source.energy_origin_ns,
                )
            )
        return result


def is_measure_folder(directory: Path) -> bool:
    path = directory / RESULT_FILE
    if not path.is_file():
        return False
    try:
        with path.open(encoding="utf-8") as stream:
            head = stream.read(4096)
    except OSError:
        return False
    return f'"format": "{FORMAT}"' in head


def write_measure_folder(directory: Path, document: dict[str, Any], traces: list[Trace]) -> None:
    """`document` is result.json without the trace file names; source n's trace is `traces[n]`."""
    directory.mkdir(parents=True, exist_ok=True)
    for number, (source, trace) in enumerate(zip(document["sources"], traces, strict=True), start=1):
        source["trace"] = f"trace-{number}.parquet"
        trace.to_parquet(directory / source["trace"])
    text = json.dumps({"format": FORMAT, **document}, indent=2) + "\n"
    write_text_atomically(directory / RESULT_FILE, text)


def read_measure_folder(directory: Path) -> MeasureFolder:
    path = directory / RESULT_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        sources = tuple(
            RecordedSource(
                label=str(s["label"]),
                trace_file=str(s["trace"]),
                interval_ns=int(s["interval_ns"]),
                clock_uncertainty_s=float(s["clock_uncertainty_s"]),
                counter_update_s=None if s["counter_update_s"] is None else float(s["counter_update_s"]),
                shift_ns=int(s["shift_ns"]),
                energy_origin_ns=None if s.get("energy_origin_ns") is None else int(s["energy_origin_ns"]),
            )
            for s in document["sources"]
        )
        windows = tuple(Measurement.from_json(w) for w in document["windows"])
    except (OSError, ValueError) as error:
        raise InputError(path, f"cannot be read ({error})") from None
    except (KeyError, TypeError) as error:
        raise InputError(path, f"not a {FORMAT} result (missing or wrong {error})") from None
    if document.get("format") != FORMAT:
        raise InputError(path, f"format {document.get('format')!r}, expected {FORMAT!r}")
    return MeasureFolder(directory, document, sources, windows)
