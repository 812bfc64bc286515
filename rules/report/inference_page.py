"""The report page of one inference result: the trace against the LoadGen window, ranging beside
testing, each channel, and the clock offset that moved the window, each with its checks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analyzers.formats.mlperf_layout import RANGING_DIR, TESTING_DIR
from analyzers.formats.sample_decode import SplReadResult
from analyzers.formats.sample_layout import SplFormatError
from rules.errors import InputError
from rules.inference.folder import InferenceFolder
from rules.inference.kind import InferenceResult
from rules.report.page import Figure, Page, sort_checks
from rules.report.plots import MAX_SHAPES, axes, flag_markers, gap_spans, power_line, span, trace_gaps
from rules.report.summary import result_page

SECTIONS = {
    "power": ("samples.count", "samples.gap", "samples.sentinels", "samples.monotonic", "timing."),
    "ranging": ("power.ranging", "samples.ranging"),
    "channels": ("samples.analyzers", "ptd."),
}
WINDOW_COLOR = "#2ca02c"


@dataclass(frozen=True)
class RunTrace:
    """One run's samples with its LoadGen window, both on the director's clock."""

    name: str
    samples: SplReadResult
    begin_ns: int
    end_ns: int


def inference_page(result: InferenceResult) -> Page:
    folder = InferenceFolder(Path(result.path))
    shift_ns = round((result.clock_offset_s or 0.0) * 1e9)
    problems: list[str] = []
    testing = _run_trace(folder, TESTING_DIR, shift_ns, problems)
    ranging = (
        _run_trace(folder, RANGING_DIR, shift_ns, problems) if folder.files.listing(RANGING_DIR) else None
    )
    placed = sort_checks(result.checks or [], SECTIONS)
    figures = []
    if testing is not None:
        figures.append(_power_figure(testing, result, placed["power"]))
        channels = _channels_figure(testing, placed["channels"])
        if channels is not None:
            figures.append(channels)
        else:
            placed[""] += placed["channels"]
    if testing is not None and ranging is not None:
        figures.append(_ranging_figure(ranging, testing, result, placed["ranging"]))
    else:
        placed[""] += placed["ranging"]
    return result_page(result, figures, _facts(result), placed[""], problems)


def _run_trace(folder: InferenceFolder, run: str, shift_ns: int, problems: list[str]) -> RunTrace | None:
    try:
        log = folder.loadgen_log(run)
        begin_ns, end_ns = log.time_ns("power_begin"), log.time_ns("power_end")
        samples = folder.samples(run, detail=True)
    except (InputError, SplFormatError) as error:
        problems.append(f"not plotted: {error}")
        return None
    except OSError as error:
        problems.append(f"not plotted: {folder.directory / run}: {error.strerror}")
        return None
    return RunTrace(run, samples, begin_ns + shift_ns, end_ns + shift_ns)


def _seconds(time_ns: np.ndarray, origin_ns: int) -> np.ndarray:
    return (time_ns - origin_ns) / 1e9


def _power_figure(run: RunTrace, result: InferenceResult, checks: list) -> Figure:
    trace = run.samples.trace
    time_s = _seconds(trace.time_ns, run.begin_ns)
    window_s = (run.end_ns - run.begin_ns) / 1e9
    shapes = [span(0.0, window_s, WINDOW_COLOR, 0.12, "loadgen-window")]
    bound_s = result.alignment_uncertainty_s
    if bound_s:
        # The window's edges are known to ± the clock offset's uncertainty: a darker band at each edge.
        shapes += [
            span(-bound_s, bound_s, WINDOW_COLOR, 0.35, "alignment-bound"),
            span(window_s - bound_s, window_s + bound_s, WINDOW_COLOR, 0.35, "alignment-bound"),
        ]
    gaps = trace_gaps(time_s)
    bands, gap_count = gap_spans(time_s, gaps)
    shapes += bands
    traces = [
        power_line("testing watts", time_s, trace.watts, gaps),
        *flag_markers(time_s, trace.watts, trace.flags, trace.uncertainty),
    ]
    caption = (
        f"{len(trace)} samples of {run.name}/spl.txt; green: the LoadGen power window "
        f"({window_s:.3f} s"
        + (f", edges ± {bound_s * 1e3:.3f} ms clock bound" if bound_s else "")
        + f"); red: {gap_count} gap(s) longer than 2.5 sampling steps"
        + (f" (the first {MAX_SHAPES} shaded)" if gap_count > MAX_SHAPES else "")
        + "; lines show each pixel column's minimum and maximum."
    )
    return Figure(
        "power",
        "Power over time, testing run",
        traces,
        axes("seconds from power_begin (director's clock)", "W", shapes=shapes),
        caption,
        checks,
    )


def _ranging_figure(ranging: RunTrace, testing: RunTrace, result: InferenceResult, checks: list) -> Figure:
    traces, shapes = [], []
    colors = {RANGING_DIR: "#1f77b4", TESTING_DIR: "#ff7f0e"}
    for run, label, mean in (
        (ranging, "ranging", result.ranging_avg_power_w),
        (testing, "testing", result.avg_power_w),
    ):
        time_s = _seconds(run.samples.trace.time_ns, run.begin_ns)
        color = colors[run.name]
        traces.append(power_line(f"{label} watts", time_s, run.samples.trace.watts, line={"color": color}))
        window_s = (run.end_ns - run.begin_ns) / 1e9
        shapes.append(span(0.0, window_s, color, 0.08, f"{label}-window"))
        if mean is not None:
            traces.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "name": f"{label} mean {mean:.3f} W",
                    "x": [0.0, window_s],
                    "y": [mean, mean],
                    "line": {"color": color, "dash": "dash", "width": 1},
                }
            )
    delta = ""
    if result.ranging_avg_power_w and result.avg_power_w:
        delta = (
            f"; testing is {100 * (result.avg_power_w / result.ranging_avg_power_w - 1):+.2f} % of ranging"
        )
    return Figure(
        "ranging",
        "Ranging and testing, each from its own power_begin",
        traces,
        axes("seconds from the run's power_begin", "W", shapes=shapes),
        f"Both runs on one axis; the shaded bands are their LoadGen windows{delta}.",
        checks,
    )


def _channels_figure(run: RunTrace, checks: list) -> Figure | None:
    trace = run.samples.trace
    if not trace.channels:
        return None
    layout = run.samples.layout
    labels = layout.block_labels or tuple(f"channel {i}" for i in range(1, len(trace.channels) + 1))
    time_s = _seconds(trace.time_ns, run.begin_ns)
    gaps = trace_gaps(time_s)  # the channels share the total's time axis
    traces = [power_line("total", time_s, trace.watts, gaps, line={"color": "#444"})]
    traces += [
        power_line(label, time_s, block.watts, gaps)
        for label, block in zip(labels, trace.channels, strict=False)
    ]
    window_s = (run.end_ns - run.begin_ns) / 1e9
    kind = "analyzer" if layout.merged_analyzers else "channel"
    skew = (
        f"; analyzers paired within {run.samples.analyzer_skew_ns / 1e6:.1f} ms"
        if layout.merged_analyzers
        else ""
    )
    return Figure(
        "channels",
        f"Power per {kind}, testing run",
        traces,
        axes(
            "seconds from power_begin (director's clock)",
            "W",
            shapes=[span(0.0, window_s, WINDOW_COLOR, 0.1)],
        ),
        f"{len(trace.channels)} {kind}(s) and their total{skew}.",
        checks,
    )


def _facts(result: InferenceResult) -> list[tuple[str, str]]:
    facts = [("rule set", result.ruleset or "-")]
    if result.avg_power_w is not None:
        facts.append(
            (
                "average power",
                f"{result.avg_power_w:.6g} W over {result.window_s:.3f} s, {result.samples} samples",
            )
        )
    if result.ranging_avg_power_w is not None:
        facts.append(("ranging average", f"{result.ranging_avg_power_w:.6g} W"))
    if result.stats is not None and result.stats.integrated_avg_power_w is not None:
        facts.append(("time-weighted average", f"{result.stats.integrated_avg_power_w:.6g} W"))
    if result.clock_offset_s is not None:
        bound = result.alignment_uncertainty_s or 0.0
        facts.append(
            (
                "clock offset",
                f"{result.clock_offset_s * 1e3:+.3f} ms (director − client), bound ± {bound * 1e3:.3f} ms",
            )
        )
    else:
        facts.append(("clock offset", "none recorded: the LoadGen window is used as logged"))
    if result.loadgen_version:
        facts.append(("LoadGen", result.loadgen_version))
    return facts
