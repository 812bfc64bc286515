"""`power-measure -- CMD` end to end: marks from the child, its exit status and signals, the folder
`power-check` reads back, and bad input in one sentence."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

MEASURE = [sys.executable, "-m", "power_client.metering.cli"]
CHECK = [sys.executable, "-m", "rules.cli"]

CHILD = """
import os, subprocess, sys, time
from power_client import marks
time.sleep(0.3)
marks.begin("load")
time.sleep(0.5)
marks.mark("half way")
time.sleep(0.3)
marks.end("load")
subprocess.run(["sh", "-c", 'echo "begin shell" > "$JOULEBENCH_MARKS"; sleep 0.3; echo "end shell" > "$JOULEBENCH_MARKS"'], check=True)
print("child done", flush=True)
sys.exit(3)
"""


def table_lines(text: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("window"))
    return [
        line.strip()
        for line in lines[start:]
        if line.strip()[:7] in ("window ", "command", "load   ", "shell  ")
    ]


def test_windows_from_the_child_the_exit_status_and_the_folder_power_check_reads(tmp_path: Path) -> None:
    out = tmp_path / "measured"
    done = subprocess.run(
        [
            *MEASURE,
            "--source",
            "simulated,seed=4",
            "--interval-ms",
            "20",
            "--output",
            str(out),
            "--json",
            "--",
            sys.executable,
            "-c",
            CHILD,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3, done.stderr
    assert done.stdout.startswith("child done\n")  # the command's own output comes first
    document = json.loads(done.stdout.split("child done\n", 1)[1])
    windows = {w["name"]: w for w in document["windows"]}
    assert list(windows) == ["command", "load", "shell"]
    assert windows["load"]["duration_s"] == pytest.approx(0.8, abs=0.1)
    assert windows["shell"]["duration_s"] == pytest.approx(0.3, abs=0.15)
    assert all(w["final"] for w in windows.values())
    command = windows["command"]["sources"][0]
    assert command["source"] == "simulated" and command["method"] == "integrated"
    assert command["energy_j"] > windows["load"]["sources"][0]["energy_j"] > 0
    assert [m["label"] for m in document["marks"]] == ["half way"]
    assert document["exit_status"] == 3 and document["sources"][0]["model"] == "SimulatedWT310"
    assert (out / "result.json").is_file() and (out / "trace-1.parquet").is_file()

    human = subprocess.run([*CHECK, str(out)], capture_output=True, text=True, timeout=60)
    assert human.returncode == 0, human.stderr
    assert table_lines(human.stdout) == table_lines(done.stderr)  # the same table, recomputed
    assert "the measured command exited with status 3" in human.stdout
    checked = json.loads(
        subprocess.run([*CHECK, "--json", str(out)], capture_output=True, text=True, timeout=60).stdout
    )
    assert checked[0]["kind"] == "measure" and checked[0]["valid"] is True
    assert checked[0]["value"] == command["energy_j"] and checked[0]["unit"] == "J"


def test_a_folder_whose_numbers_its_traces_do_not_give_back_is_invalid(tmp_path: Path) -> None:
    out = tmp_path / "measured"
    subprocess.run(
        [*MEASURE, "--output", str(out), "--", sys.executable, "-c", "import time; time.sleep(0.3)"],
        capture_output=True,
        timeout=60,
        check=True,
    )
    document = json.loads((out / "result.json").read_text())
    document["windows"][0]["sources"][0]["energy_j"] *= 0.5
    (out / "result.json").write_text(json.dumps(document))
    checked = json.loads(
        subprocess.run([*CHECK, "--json", str(out)], capture_output=True, text=True, timeout=60).stdout
    )
    assert checked[0]["valid"] is False
    assert "window 'command', source simulated:" in checked[0]["errors"][0]
    assert "J recorded, its trace gives" in checked[0]["errors"][0]


def test_sigterm_reaches_the_command_and_its_status_is_ours() -> None:
    child = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *a: sys.exit(42))\n"
        "print('ready', flush=True)\n"
        "time.sleep(30)\n"
    )
    process = subprocess.Popen(
        [*MEASURE, "--", sys.executable, "-c", child],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline() == "ready\n"
    time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 42
    assert "command" in stderr and " J " in stderr  # the measurement up to the signal is still reported


def test_a_command_killed_by_a_signal_exits_128_plus_its_number() -> None:
    done = subprocess.run(
        [*MEASURE, "--", sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 128 + signal.SIGKILL


def test_bad_input_is_one_sentence_and_status_two_or_127(tmp_path: Path) -> None:
    cases = [
        ([], 2, "give the command to measure after --"),
        (["--source", "nvml:0,channels", "--", "true"], 2, "option 'channels' is not key=value"),
        (["--source", "nosuchdriver", "--", "true"], 2, "no analyzer driver of this name is installed"),
        (["--interval-ms", "0", "--", "true"], 2, "--interval-ms must be a whole number"),
        (["--", str(tmp_path / "missing-program")], 127, "command not found"),
    ]
    for arguments, status, sentence in cases:
        done = subprocess.run([*MEASURE, *arguments], capture_output=True, text=True, timeout=60)
        assert done.returncode == status, (arguments, done.stderr)
        assert sentence in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_bad_mark_lines_windows_never_ended_and_a_zero_length_window_are_noted_in_strict_json() -> None:
    child = (
        "import os, time\n"
        "fd = os.open(os.environ['JOULEBENCH_MARKS'], os.O_WRONLY)\n"
        "os.write(fd, b'start x\\n')\n"
        "os.write(fd, b'end never-begun\\n')\n"
        "os.write(fd, b'begin left open\\n')\n"
        "now = time.time_ns()\n"
        "os.write(fd, f'begin zero @{now}\\nend zero @{now}\\n'.encode())\n"
    )
    done = subprocess.run(
        [*MEASURE, "--json", "--", sys.executable, "-c", child], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} in the JSON")

    document = json.loads(done.stdout, parse_constant=refuse)  # strict JSON: no NaN, no Infinity
    notes = document["notes"]
    assert any("mark line 'start x' is not 'begin|end|mark NAME" in n for n in notes)
    assert any("window 'never-begun' was not begun" in n for n in notes)
    assert any("window 'left open' was never ended: it ends where the command exited" in n for n in notes)
    zero = next(w for w in document["windows"] if w["name"] == "zero")
    assert zero["duration_s"] == 0 and zero["sources"][0]["avg_power_w"] is None


def test_the_training_step_example_runs_and_prints_its_windows() -> None:
    example = Path(__file__).resolve().parents[1] / "examples" / "measure_training_step.py"
    done = subprocess.run(
        [sys.executable, str(example), "--steps", "2"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    rows = [line.split()[0:2] for line in done.stdout.splitlines() if line.startswith(("training", "step "))]
    assert ["training", "simulated"] in rows
    step_rows = [line for line in done.stdout.splitlines() if line.startswith("step ") and " J " in line]
    assert len(step_rows) == 2


def test_help_says_both_uses_and_exits_zero() -> None:
    done = subprocess.run([*MEASURE, "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "power-measure attribute --profile" in done.stdout
    assert "Signals:" in done.stdout
