"""The uncertainty of an inference result comes from what the folder records, or is said to be unknown."""

import json
import math
from pathlib import Path

import pytest

from rules.inference.kind import InferenceKind
from rules.inference.synthetic import write_performance_folder

DATA = Path(__file__).parent / "data" / "inference"


def _with_ptd_uncertainty(folder: Path, reply: str) -> None:
    power = folder / "power"
    power.mkdir()
    messages = [
        {"cmd": "Go,1000,0,s_ranging", "reply": "Starting untimed measurement"},
        {"cmd": "Uncertainty", "reply": "Uncertainty,0.020000,0.01,0.03,60,0,60,0"},
        {"cmd": "Go,1000,0,s_testing", "reply": "Starting untimed measurement"},
        {"cmd": "Stop", "reply": "Stopping untimed measurement"},
        {"cmd": "Uncertainty", "reply": reply},
    ]
    # A real director's record, with the exchange replaced by one that asked PTD for its Uncertainty.
    record = json.loads(
        (DATA / "v2.0-nvidia-orin-resnet50-singlestream" / "power" / "server.json").read_text()
    )
    record["ptd_messages"] = messages
    (power / "server.json").write_text(json.dumps(record))


def test_offline_uncertainty_combines_analyzer_and_sampling(tmp_path: Path) -> None:
    run = write_performance_folder(tmp_path / "Offline" / "performance", "Offline", query_count=1)
    _with_ptd_uncertainty(run.folder, "Uncertainty,0.006000,0.005,0.009,70,0,70,0")
    result = InferenceKind().check(run.folder, None)
    t, w = run.trace.time_ns, run.trace.watts
    inside = w[(t > run.begin_ns) & (t < run.end_ns)]
    mean = inside.mean()
    analyzer = 0.006 * mean / math.sqrt(3)  # the testing reply, not the ranging one (0.02)
    sampling = inside.std(ddof=1) / math.sqrt(len(inside))
    window = math.sqrt(2) * 0.0005 / math.sqrt(3) / 60.0
    expected = mean * math.hypot(math.hypot(analyzer, sampling) / mean, window)
    assert result.uncertainty == pytest.approx(expected, rel=1e-9)
    assert any(n.startswith("uncertainty (standard): analyzer ±") for n in result.notes)


def test_per_query_uncertainty_has_the_relative_uncertainty_of_the_power(tmp_path: Path) -> None:
    run = write_performance_folder(tmp_path / "SingleStream" / "performance", "SingleStream")
    _with_ptd_uncertainty(run.folder, "Uncertainty,0.006000,0.005,0.009,70,0,70,0")
    result = InferenceKind().check(run.folder, None)
    assert result.unit == "mJ/query"
    assert result.value is not None and result.uncertainty is not None
    t, w = run.trace.time_ns, run.trace.watts
    inside = w[(t > run.begin_ns) & (t < run.end_ns)]
    power_relative = math.hypot(
        0.006 / math.sqrt(3), inside.std(ddof=1) / math.sqrt(len(inside)) / inside.mean()
    )
    window = math.sqrt(2) * 0.0005 / math.sqrt(3) / 60.0
    assert result.uncertainty / result.value == pytest.approx(math.hypot(power_relative, window), rel=1e-9)


def test_without_an_analyzer_figure_the_uncertainty_is_unknown_and_says_why() -> None:
    result = InferenceKind().check(DATA / "v2.0-nvidia-orin-resnet50-singlestream", None)
    assert result.uncertainty is None
    [note] = [n for n in result.notes if n.startswith("uncertainty unknown")]
    assert "sampling ±" in note and "600 samples" in note
