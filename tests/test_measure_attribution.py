"""Energy per phase and per operator: the simulated meter driven by a power script, a Chrome trace of
the same phases on a clock that is off, concurrent operators, and operators shorter than the meter's
interval fitted over many steps."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from analyzers.simulated import SimulatedAnalyzer, SimulatorConfig, VirtualClock
from analyzers.trace import Trace
from rules.measure.attribution import NO_OPERATOR, attribute
from rules.measure.chrome_trace import read_chrome_trace
from rules.measure.windows import SourceSamples

START_NS = 1_750_000_000_000_000_000
MS = 1_000_000
PROFILE_CLOCK_OFF_NS = 2_345_678_900  # the profiler's clock, against the meter's


def metered(script: list[tuple[int, float]], interval_ns: int, until_ns: int) -> Trace:
    """The simulated meter (no noise) sampling a load that steps to each (at_ns, watts) of `script`."""
    clock = VirtualClock(START_NS)
    meter = SimulatedAnalyzer(
        config=SimulatorConfig(watts_noise=0.0, volts_noise=0.0, profile=()),
        clock=clock,
        control_path="",
        truth_path="",
    )
    meter.start(interval_ns / 1e9)
    for at_ns, watts in script:
        meter.set_load(watts, at_ns=START_NS + at_ns)
    chunks = []
    while clock.now_ns() < START_NS + until_ns:
        clock.advance(0.5)
        chunks.append(meter.fetch())
    meter.stop()
    chunks.append(meter.fetch())
    return Trace.concat([c for c in chunks if len(c)])


def integrating(trace: Trace, block: int) -> Trace:
    """What a meter that averages over `block` of those intervals reports: one sample per block."""
    n = len(trace) // block * block
    watts = trace.watts[:n].reshape(-1, block).mean(axis=1)
    return Trace.from_columns(
        trace.time_ns[block - 1 : n : block], watts, uncertainty=np.full(len(watts), 0.002)
    )


def write_profile(path: Path, events: list[dict[str, object]], base_ns: int) -> Path:
    """A Kineto-shaped Chrome trace: `ts`/`dur` in µs since `baseTimeNanoseconds`."""
    path.write_text(json.dumps({"schemaVersion": 1, "baseTimeNanoseconds": base_ns, "traceEvents": events}))
    return path


def event(name: str, cat: str, begin_ns: int, end_ns: int, tid: int = 1) -> dict[str, object]:
    return {
        "ph": "X",
        "name": name,
        "cat": cat,
        "pid": 7,
        "tid": tid,
        "ts": begin_ns / 1000,
        "dur": (end_ns - begin_ns) / 1000,
    }


PHASES = (
    ("DataLoader.__next__", 30, 80.0),
    ("forward", 50, 200.0),
    ("backward", 80, 260.0),
    ("Optimizer.step", 20, 150.0),
)


def test_phases_match_the_power_script_within_one_percent_across_a_clock_offset(tmp_path: Path) -> None:
    script, events, at = [], [], 0
    for step in range(20):
        step_begin = at
        for name, duration_ms, watts in PHASES:
            script.append((at, watts))
            events.append(event(name, "user_annotation", at, at + duration_ms * MS))
            at += duration_ms * MS
        events.append(event(f"ProfilerStep#{step}", "user_annotation", step_begin, at))
    trace = metered(script, 100_000, at + 10 * MS)  # 0.1 ms samples
    # The profiler's clock is off: its base says one time, the shared mark (step 0 began) another.
    profile = write_profile(tmp_path / "profile.json", events, START_NS + PROFILE_CLOCK_OFF_NS)
    profiled = read_chrome_trace(profile, align_to=("ProfilerStep#0", START_NS))
    result = attribute(profiled, SourceSamples.from_trace("simulated", trace, 100_000))
    energy = {phase.name: phase for phase in result.phases}
    for name, duration_ms, watts in PHASES:
        expected = 20 * watts * duration_ms / 1000
        assert energy[name].energy_j == pytest.approx(expected, rel=0.01), name
        assert energy[name].calls == 20 and energy[name].avg_power_w == pytest.approx(watts, rel=0.01)
    assert [energy[n].group for n, _, _ in PHASES] == ["data loading", "forward", "backward", "optimizer"]
    assert len(result.steps) == 20
    step_j = sum(w * d for _, d, w in PHASES) / 1000
    assert [s.energy_j for s in result.steps] == pytest.approx([step_j] * 20, rel=0.01)
    assert result.clock == "aligned on the mark 'ProfilerStep#0'"
    # Read by its base alone, the profile would sit 2.3 s away from the power it belongs to.
    unaligned = attribute(read_chrome_trace(profile), SourceSamples.from_trace("simulated", trace, 100_000))
    assert {p.name: p.energy_j for p in unaligned.phases}["forward"] != pytest.approx(
        energy["forward"].energy_j, rel=0.01
    )


def test_concurrent_operators_on_two_threads_share_by_time(tmp_path: Path) -> None:
    script = [(0, 120.0), (20 * MS, 200.0), (40 * MS, 120.0), (60 * MS, 50.0)]
    events = [
        event("aten::mm", "cpu_op", 0, 40 * MS, tid=1),
        event("aten::add", "cpu_op", 20 * MS, 60 * MS, tid=2),
    ]
    events.append(event("aten::mm_inner", "cpu_op", 5 * MS, 10 * MS, tid=1))  # nested: its parent's time
    trace = metered(script, 100_000, 100 * MS)
    profiled = read_chrome_trace(write_profile(tmp_path / "ops.json", events, START_NS))
    result = attribute(profiled, SourceSamples.from_trace("simulated", trace, 100_000))
    operators = {o.name: o for o in result.operators}
    # 20 ms alone at 120 W, then 20 ms shared at 200 W: 2.4 J + 2.0 J each.
    assert operators["aten::mm"].energy_j == pytest.approx(4.4, rel=0.01)
    assert operators["aten::add"].energy_j == pytest.approx(4.4, rel=0.01)
    assert "aten::mm_inner" not in operators
    assert operators[NO_OPERATOR].energy_j == pytest.approx(0.0, abs=0.05)
    assert sum(o.share for o in result.operators) == pytest.approx(1.0)


def short_op_steps(
    rng: np.random.Generator, steps: int, together: bool
) -> tuple[list[tuple[int, float]], list[dict[str, object]], int]:
    script, events, at = [], [], 0
    for step in range(steps):
        step_begin = at
        for _ in range(int(rng.integers(30, 90))):
            x_ms = float(rng.integers(4, 20)) / 2  # 2-10 ms, on the 0.5 ms grid
            y_ms = x_ms if together else float(rng.integers(4, 20)) / 2
            idle_ms = float(rng.integers(2, 12)) / 2
            for name, duration_ms, watts in (("aten::conv", x_ms, 300.0), ("aten::relu", y_ms, 150.0)):
                if not together and rng.random() < 0.3:
                    continue  # steps differ in how often each runs
                script.append((at, watts))
                events.append(event(name, "cpu_op", at, at + round(duration_ms * MS)))
                at += round(duration_ms * MS)
            script.append((at, 50.0))
            at += round(idle_ms * MS)
        events.append(event(f"ProfilerStep#{step}", "user_annotation", step_begin, at))
    return script, events, at


def test_operators_shorter_than_the_interval_are_fitted_over_the_steps(tmp_path: Path) -> None:
    script, events, end = short_op_steps(np.random.default_rng(5), 40, together=False)
    fine = metered(script, 500_000, end + 200 * MS)  # 0.5 ms samples...
    trace = integrating(fine, 100)  # ...averaged by a meter that updates every 50 ms
    profiled = read_chrome_trace(write_profile(tmp_path / "short.json", events, START_NS))
    result = attribute(profiled, SourceSamples.from_trace("integrating meter", trace, 50_000_000))
    fitted = {f.name: f for f in result.fitted}
    for name, watts in (("aten::conv", 300.0), ("aten::relu", 150.0)):
        share = fitted[name]
        assert share.ci95_j is not None and share.ci95_j > 0
        assert abs(share.avg_power_w - watts) * share.time_s <= share.ci95_j, (name, share.avg_power_w)
        assert share.ci95_j / share.energy_j < 0.05  # 40 steps pin each down to a few percent
    assert result.idle_power_w is not None and result.idle_ci95_w is not None
    assert abs(result.idle_power_w - 50.0) <= result.idle_ci95_w  # the short idle gaps: a wider interval
    assert any("fitted over 40 steps" in note for note in result.notes)


def test_operators_that_always_run_together_are_reported_as_one(tmp_path: Path) -> None:
    script, events, end = short_op_steps(np.random.default_rng(6), 12, together=True)
    trace = integrating(metered(script, 500_000, end + 200 * MS), 100)
    profiled = read_chrome_trace(write_profile(tmp_path / "together.json", events, START_NS))
    result = attribute(profiled, SourceSamples.from_trace("integrating meter", trace, 50_000_000))
    assert any("cannot separate 'aten::conv' from 'aten::relu'" in note for note in result.notes)
    assert [f.name for f in result.fitted] == ["aten::conv + aten::relu"]


def test_a_profile_without_a_clock_or_events_is_one_sentence(tmp_path: Path) -> None:
    from rules.errors import InputError

    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps({"traceEvents": [event("x", "cpu_op", 0, MS)]}))
    with pytest.raises(InputError, match="does not say when ts 0 was"):
        read_chrome_trace(bare)
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"traceEvents": [{"ph": "M", "name": "process_name"}]}))
    with pytest.raises(InputError, match="holds no complete"):
        read_chrome_trace(empty)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(InputError, match="not a readable Chrome trace"):
        read_chrome_trace(broken)


PROFILES = Path(__file__).resolve().parent / "data" / "profiles"
MEASURE = [sys.executable, "-m", "power_client.metering.cli"]


def test_a_real_pytorch_profile_lands_on_its_power_trace_by_kineto_base_time() -> None:
    from rules.measure.attribute_cli import attribute_folder

    result = attribute_folder(PROFILES / "tiny_mlp_cpu.pt.trace.json", PROFILES / "tiny_mlp_cpu_power")
    assert result.clock == "baseTimeNanoseconds" and len(result.steps) == 12
    phases = {p.name: p for p in result.phases}
    # The recording drove the simulated load per phase (record_tiny_mlp.py): the phases read it back,
    # which they would not if the profile sat even a few ms off the power trace.
    for name, watts in (("data loading", 60.0), ("forward", 140.0), ("backward", 180.0)):
        assert phases[name].avg_power_w == pytest.approx(watts, rel=0.08), name
        assert phases[name].calls == 12
    assert {phases[n].group for n in ("data loading", "forward", "backward", "optimizer")} == {
        "data loading",
        "forward",
        "backward",
        "optimizer",
    }
    operators = {o.name: o for o in result.operators}
    assert operators["aten::linear"].calls == 24 and "aten::addmm" not in operators  # addmm is inside linear
    assert sum(o.share for o in result.operators) == pytest.approx(1.0)
    steps_j = sum(s.energy_j for s in result.steps)
    assert sum(o.energy_j for o in result.operators) <= steps_j * 1.05


def test_the_command_line_prints_the_tables_and_json_and_refuses_bad_input_in_one_sentence() -> None:
    profile, power = str(PROFILES / "tiny_mlp_cpu.pt.trace.json"), str(PROFILES / "tiny_mlp_cpu_power")
    done = subprocess.run(
        [*MEASURE, "attribute", "--profile", profile, "--power", power, "--top", "3"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "steps: 12," in done.stdout and "phases (windows; nested ones overlap):" in done.stdout
    assert "ProfilerStep#1 " in done.stdout and "9 more steps" in done.stdout  # energy per step, top 3
    assert "operators fitted over the steps" in done.stdout and "more (--top)" in done.stdout
    as_json = subprocess.run(
        [*MEASURE, "attribute", "--profile", profile, "--power", power, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    document = json.loads(as_json.stdout)
    assert document["clock"] == "baseTimeNanoseconds" and len(document["steps"]) == 12
    aligned = subprocess.run(
        [
            *MEASURE,
            "attribute",
            "--profile",
            profile,
            "--power",
            power,
            "--json",
            "--align-mark",
            "no such mark",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert aligned.returncode == 2 and "has no mark or window named 'no such mark'" in aligned.stderr
    missing = subprocess.run(
        [*MEASURE, "attribute", "--power", power], capture_output=True, text=True, timeout=60
    )
    assert (
        missing.returncode == 2 and "give --profile" in missing.stderr and "Traceback" not in missing.stderr
    )
