"""`power-analyzer read` on the simulated meter: sample lines, the statistics line, clean errors."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from analyzers import cli

SAMPLE_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z W \d+\.\d{6} V \d+\.\d{3} A \d+\.\d{4} PF 0\.\d{4} ok$"
)
# Run only `read`: the frame's other subcommand (`serve`) belongs to another module.
ONLY_READ = ("analyzers.read_cli",)


@pytest.fixture(autouse=True)
def _read_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "SUBCOMMAND_MODULES", ONLY_READ)


def test_read_prints_one_line_per_sample_then_statistics(capsys: pytest.CaptureFixture[str]) -> None:
    # 0.25 s at 0.1 s: samples at 0.1 s and 0.2 s, the next would be at 0.3 s.
    assert cli.main(["read", "--driver", "simulated", "--seconds", "0.25", "--interval", "0.1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert all(SAMPLE_LINE.match(line) for line in lines[:2]), lines
    assert lines[2].startswith("stats: 2 samples, 0 errors, 2 valid; W avg ")
    assert "above limit" in lines[2]


def test_read_shows_each_channel_of_a_multi_channel_meter(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["read", "--seconds", "0.15", "--interval", "0.1", "--channels", "3"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.count("| ch") == 3 and " V nan " in first  # the total has no volts, like PTD's sum block


def test_read_takes_the_source_grammar(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        cli.main(
            [
                "read",
                "--source",
                "simulated:bench,channels=2,seed=4",
                "--seconds",
                "0.15",
                "--interval",
                "0.1",
            ]
        )
        == 0
    )
    first = capsys.readouterr().out.splitlines()[0]
    assert first.count("| ch") == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--source", "simulated", "--driver", "simulated"],
            "power-analyzer read: give --source, or --driver and --device, not both",
        ),
        (
            ["--source", "simulated,channels"],
            "power-analyzer read: source 'simulated,channels': option 'channels' is not key=value",
        ),
        (
            ["--interval", "0"],
            "power-analyzer read: --interval must be a positive number of seconds, got '0'",
        ),
        (
            ["--seconds", "soon"],
            "power-analyzer read: --seconds must be a positive number of seconds, got 'soon'",
        ),
        (
            ["--channels", "two"],
            "power-analyzer read: --channels must be a whole number of at least 1, got 'two'",
        ),
        (
            ["--interval", "0.000001"],
            "power-analyzer: simulated: interval must be between 1e-05 s and 60 s, got 1e-06 s",
        ),
        (
            ["--driver", "nvml9"],
            "power-analyzer: nvml9: no analyzer driver of this name is installed (known drivers: ",
        ),
        (["--channels", "65"], "power-analyzer: simulated: channels must be between 1 and 64, got 65"),
    ],
)
def test_bad_input_is_one_sentence_and_exit_status_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["read", "--seconds", "0.1", *argv]) == 2
    captured = capsys.readouterr()
    [line] = captured.err.splitlines()
    # The list of known drivers grows with the installed entry points; the sentence starts the same.
    assert line.startswith(message)
    assert captured.out == ""


def test_a_separate_process_exits_non_zero_without_a_traceback() -> None:
    program = (
        f"import sys; from analyzers import cli; cli.SUBCOMMAND_MODULES = {ONLY_READ!r}; sys.exit(cli.main())"
    )
    done = subprocess.run(
        [sys.executable, "-c", program, "read", "--driver", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "(known drivers: " in done.stderr and "simulated" in done.stderr


def test_the_installed_console_script_reads_the_simulator() -> None:
    script = shutil.which("power-analyzer", path=str(Path(sys.executable).parent))
    assert script is not None
    done = subprocess.run(
        [script, "read", "--seconds", "0.25", "--interval", "0.1"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].startswith("stats: 2 samples, 0 errors, 2 valid")
