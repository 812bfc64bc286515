"""Bad inputs get one sentence and a non-zero exit, never a traceback; late failures are caught early.

Each case is one a new user met: binary files where text belongs, paths that cannot be folders, a
workload that does not exist, a director that never answers, unclear messages, and samples that
are dropped (negative watts, a cut-short file, an unreadable client.json) without saying so.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_client_support import TOKEN, fake_director, workload_command

from analyzers.errors import AnalyzerConnectionError
from analyzers.ptd.client.transport import ConnectPolicy, connect_with_retries
from power_client.cli import main as client_main
from power_client.errors import EXIT_DIRECTOR_UNREACHABLE, EXIT_USAGE, EXIT_WORKLOAD_FAILED
from power_director.cli import main as director_main

DATA = Path(__file__).resolve().parent / "data" / "inference" / "v2.0-nvidia-orin-resnet50-singlestream"
BINARY = bytes([0xFF, 0xFE, 0x00, 0x81]) + b"not text"


def one_sentence(err: str, prog: str) -> str:
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"{prog}: "), err
    return lines[0]


@pytest.fixture
def binary(tmp_path: Path) -> Path:
    path = tmp_path / "binary.dat"
    path.write_bytes(BINARY)
    return path


def test_binary_files_where_text_belongs(
    tmp_path: Path, binary: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert director_main(["--config", str(binary)]) == 2
    assert one_sentence(capsys.readouterr().err, "power-director").endswith(
        f"{binary}: not UTF-8 text (byte 0); a configuration is a TOML file."
    )
    assert director_main(["import-conf", str(binary)]) == 2
    assert one_sentence(capsys.readouterr().err, "power-director").endswith(
        f"{binary}: not UTF-8 text (byte 0); a server.conf is an INI text file."
    )
    monkeypatch.delenv("JOULEBENCH_TOKEN", raising=False)
    config = tmp_path / "director.toml"
    config.write_text(
        f'[server]\ndata_dir = "{tmp_path / "data"}"\ntoken_file = "{binary}"\n\n'
        '[[analyzers]]\nname = "sim"\ndriver = "simulated"\n'
    )
    assert director_main(["--config", str(config)]) == 2
    assert one_sentence(capsys.readouterr().err, "power-director") == (
        f"power-director: {binary}: the token file is not UTF-8 text."
    )
    empty = tmp_path / "empty-token"
    empty.write_text("\n")
    config.write_text(config.read_text().replace(str(binary), str(empty)))
    assert director_main(["--config", str(config)]) == 2
    assert one_sentence(capsys.readouterr().err, "power-director") == (
        f"power-director: {empty}: the token file (key 'server.token_file') has no token on its first line."
    )
    argv = ["run", "--director", "http://127.0.0.1:1", "--output", str(tmp_path / "o"), "--loadgen-logs"]
    argv += [str(tmp_path / "l"), "--token-file", str(binary), "--", "true"]
    assert client_main(argv) == EXIT_USAGE
    assert one_sentence(capsys.readouterr().err, "power-client") == (
        f"power-client: the token file {binary} is not UTF-8 text"
    )


def test_an_analyzer_that_cannot_start_is_named_with_its_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JOULEBENCH_TOKEN", TOKEN + "-long-enough")
    config = tmp_path / "director.toml"
    config.write_text(
        f'[server]\ndata_dir = "{tmp_path / "data"}"\n\n[[analyzers]]\nname = "sim"\ndriver = "simulated"\n\n'
        '[[analyzers]]\nname = "wt"\ndriver = "yokogawa"\ndevice = "/nonexistent/ttyUSB9"\n'
    )
    assert director_main(["--config", str(config), "--port", "0"]) == 2
    sentence = one_sentence(capsys.readouterr().err, "power-director")
    assert sentence.startswith(
        f"power-director: {config}: analyzer 'wt' (key 'analyzers[1]', driver 'yokogawa') could not start: "
        "/nonexistent/ttyUSB9: cannot open"
    )


@pytest.mark.parametrize("case", ["under /proc", "under a file"])
def test_an_output_folder_that_cannot_be_made_is_one_sentence_before_the_director_is_asked(
    tmp_path: Path, case: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JOULEBENCH_TOKEN", TOKEN)
    (tmp_path / "afile").write_text("x")
    output = (
        Path("/proc/joulebench-nothing/performance")
        if case == "under /proc"
        else tmp_path / "afile" / "performance"
    )
    with fake_director() as (state, url):
        argv = ["run", "--director", url, "--output", str(output), "--loadgen-logs", str(tmp_path / "logs")]
        assert client_main([*argv, "--", "true"]) == EXIT_USAGE
    sentence = one_sentence(capsys.readouterr().err, "power-client")
    why = (
        "No such file or directory"
        if case == "under /proc"
        else f"{tmp_path / 'afile'} is a file, not a folder"
    )
    assert sentence == f"power-client: cannot create the output folder {output}: {why}"
    assert state.calls == []
    assert not (tmp_path / "logs").exists()  # nothing of the run is left behind


def test_a_missing_workload_or_a_loadgen_path_that_is_a_file_is_caught_before_the_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JOULEBENCH_TOKEN", TOKEN)
    (tmp_path / "logfile").write_text("x")
    with fake_director() as (state, url):
        base = ["run", "--director", url, "--output", str(tmp_path / "out"), "--loadgen-logs"]
        missing = client_main([*base, str(tmp_path / "logs"), "--", "/nonexistent/benchmark"])
        missing_err = capsys.readouterr().err
        on_path = client_main([*base, str(tmp_path / "logs"), "--", "no-such-benchmark-anywhere"])
        on_path_err = capsys.readouterr().err
        not_a_folder = client_main([*base, str(tmp_path / "logfile"), "--", *workload_command(tmp_path)])
        not_a_folder_err = capsys.readouterr().err
    assert missing == on_path == EXIT_WORKLOAD_FAILED and not_a_folder == EXIT_USAGE
    assert one_sentence(missing_err, "power-client") == (
        "power-client: cannot start the workload '/nonexistent/benchmark': No such file or directory"
    )
    assert one_sentence(on_path_err, "power-client") == (
        "power-client: cannot start the workload 'no-such-benchmark-anywhere': no such program on PATH"
    )
    assert one_sentence(not_a_folder_err, "power-client") == (
        f"power-client: the LoadGen log folder {tmp_path / 'logfile'} is a file, not a folder"
    )
    assert state.calls == [] and not (tmp_path / "out").exists()


def test_a_director_that_never_answers_is_given_up_after_the_timeout(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JOULEBENCH_TOKEN", TOKEN)
    silent = socket.create_server(("127.0.0.1", 0))  # accepts (the kernel does), never answers
    port = silent.getsockname()[1]
    began = time.monotonic()
    status = client_main(["offset", "--director", f"http://127.0.0.1:{port}", "--timeout", "0.5"])
    waited_s = time.monotonic() - began
    silent.close()
    assert status == EXIT_DIRECTOR_UNREACHABLE and waited_s < 5
    assert one_sentence(capsys.readouterr().err, "power-client") == (
        f"power-client: the director at http://127.0.0.1:{port} did not answer GET /v1/time in time"
    )


def test_help_lists_what_a_user_needs() -> None:
    def help_of(*command: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", *command, "--help"], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return " ".join(done.stdout.split())  # argparse wraps lines where it likes

    run_help = help_of("power_client.cli", "run")
    assert "A full session: ranging and testing runs of COMMAND." in run_help
    assert "10 the director failed the session during a run" in run_help and "143 terminated" in run_help
    assert "(default 600" in run_help
    assert "(default 10)" in help_of("power_client.cli", "offset")
    assert "export-training" in help_of("power_director.cli") and "import-conf" in help_of(
        "power_director.cli"
    )
    for sub in ("read", "serve"):
        assert "ipmi, joulescope, lpm01a, monsoon, nvml, ptd, rapl, redfish, simulated, yokogawa" in help_of(
            "analyzers.cli", sub
        )
    assert "DEVICE_TYPE 0: the simulated meter" in help_of("analyzers.ptd.ptd_cli")


def test_a_host_name_that_does_not_resolve_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def no_such_host(*args: object, **kwargs: object) -> socket.socket:
        calls.append(args)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "create_connection", no_such_host)
    began = time.monotonic()
    with pytest.raises(AnalyzerConnectionError) as refused:
        connect_with_retries("garbage", 8888, ConnectPolicy(connect_timeout_s=30.0))
    assert len(calls) == 1 and time.monotonic() - began < 1.0
    assert str(refused.value) == (
        "garbage:8888: cannot resolve the host 'garbage': Name or service not known (check the host name)"
    )


def test_dropped_samples_and_cut_short_files_are_noted(tmp_path: Path) -> None:
    folder = tmp_path / "performance"
    shutil.copytree(DATA, folder)
    spl = folder / "run_1" / "spl.txt"
    lines = spl.read_bytes().split(b"\n")
    fields = lines[300].split(b",")
    fields[3] = b"-5000.000000"  # a negative reading inside the window
    lines[300] = b",".join(fields)
    spl.write_bytes(b"\n".join(lines).rstrip(b"\r\n")[:-30])  # and the last line cut short
    (folder / "power" / "client.json").write_text("")
    done = subprocess.run(
        [sys.executable, "-m", "rules.cli", "--json", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    result = json.loads(done.stdout)[0]
    assert (
        f"{spl}: 1 zero, negative, infinite or implausible (over 1e+07 W) readings inside the window were not counted"
        in result["notes"]
    )
    assert (
        f"{spl}: the last line has no line end, so the file may be cut short; that line was read as it stands"
        in result["notes"]
    )
    assert any(
        n.endswith("; no clock offset was applied to the LoadGen window") and "client.json" in n
        for n in result["notes"]
    )
    sentinels = next(c for c in result["checks"] if c["id"] == "samples.sentinels")
    assert (
        sentinels["verdict"] == "WARN"
        and "1 zero, negative, infinite or implausible samples inside the window" in sentinels["message"]
    )


def test_a_ptd_config_without_a_device_type_says_where_it_comes_from(tmp_path: Path) -> None:
    folder = tmp_path / "performance"
    shutil.copytree(DATA, folder)
    server_json = folder / "power" / "server.json"
    server = json.loads(server_json.read_text())
    server["ptd_config"]["device_type"] = None
    server_json.write_text(json.dumps(server))
    done = subprocess.run(
        [sys.executable, "-m", "rules.cli", "--json", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    check = next(c for c in json.loads(done.stdout)[0]["checks"] if c["id"] == "ptd.device_type")
    assert check["message"] == (
        f"{server_json}: ptd_config records no PTD device type (for a ptd:// analyzer, set `device_type` in "
        "the director's configuration)"
    )
