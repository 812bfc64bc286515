"""Configuration: the TOML file, the token, the server.conf import (both layouts) and the CLI's sentences."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from test_director_support import free_port

from power_director.cli import main
from power_director.config import (
    ConfigError,
    DirectorConfig,
    SessionConfig,
    check_supported,
    load_config,
    load_token,
    parse_config,
)
from power_director.config_analyzers import AnalyzerConfig, LaunchConfig
from power_director.config_import import import_server_conf

REPO = Path(__file__).resolve().parents[1]
CONFS = REPO / "tests" / "data" / "server_conf"
TOKEN = "0123456789abcdef-token"


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue(), err.getvalue()


# -- TOML -------------------------------------------------------------------------------------------


def test_example_config_loads() -> None:
    config = load_config(REPO / "examples" / "director.toml")
    assert config.host == "127.0.0.1" and config.port == 4950
    assert config.data_dir == REPO / "examples" / "director-data"
    assert config.session == SessionConfig(settle_s=10.0, interval_ms=1000, amps_range_factor=1.1)
    assert config.analyzers == (
        AnalyzerConfig(name="sim", driver="simulated", options={"channels": 1, "seed": 0}),
    )
    check_supported(config)


@pytest.mark.parametrize(
    ("document", "sentence"),
    [
        (
            {"server": {"port": 70000}, "analyzers": [{"name": "a", "driver": "simulated"}]},
            "x.toml: key 'server.port' must be a whole number from 0 to 65535, got 70000.",
        ),
        (
            {"server": {"prot": 1}, "analyzers": [{"name": "a", "driver": "simulated"}]},
            "x.toml: key 'server.prot' is not a known setting.",
        ),
        (
            {"session": {"settle_s": -1}, "analyzers": [{"name": "a", "driver": "simulated"}]},
            "x.toml: key 'session.settle_s' must be at least 0, got -1.",
        ),
        (
            {"session": {"ranging_mode": "max"}, "analyzers": [{"name": "a", "driver": "simulated"}]},
            "x.toml: key 'session.max_amps_range' is required when ranging_mode = \"max\".",
        ),
        ({}, "x.toml: key 'analyzers' is missing; add one [[analyzers]] table."),
        (
            {"analyzers": [{"name": "a", "driver": "simulated", "ptd": "ptd://h:1"}]},
            "x.toml: key 'analyzers[0].driver' or 'ptd' or 'launch': give exactly one of them.",
        ),
        (
            {"analyzers": [{"name": "a", "ptd": "tcp://h:1"}]},
            "x.toml: key 'analyzers[0].ptd' must look like ptd://host:port, got 'tcp://h:1'.",
        ),
        (
            {"analyzers": [{"name": "a", "launch": {"executable": "ptd", "device_port": "COM1"}}]},
            "x.toml: key 'analyzers[0].launch.device_type' is missing.",
        ),
        (
            {
                "analyzers": [
                    {
                        "name": "a",
                        "launch": {
                            "executable": "ptd",
                            "device_type": 49,
                            "device_port": "x",
                            "channel": [1, 2, 3],
                        },
                    }
                ]
            },
            "x.toml: key 'analyzers[0].launch.channel' must be PTD's -c as a list: [channel] or [start, count], got [1, 2, 3].",
        ),
    ],
)
def test_config_errors_name_the_key(document: dict, sentence: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(document, "x.toml")
    assert str(caught.value) == sentence


def test_several_analyzers_are_supported_and_new_settings_checked() -> None:
    config = parse_config(
        {"analyzers": [{"name": "a", "driver": "simulated"}, {"name": "b", "ptd": "ptd://127.0.0.1:8889"}]},
        "x.toml",
    )
    assert [a.kind for a in config.analyzers] == ["driver", "ptd"]
    check_supported(config)  # several analyzers are merged by time (issue 8)
    # The recorder's defaults: four reads a second, a 5 s stall limit at 1 Hz, half an interval to merge.
    assert config.session.poll_interval_s == 0.25
    assert config.session.stall_s == 5.0
    one = [{"name": "a", "driver": "simulated"}]
    slow = parse_config({"session": {"interval_ms": 2000}, "analyzers": one}, "x.toml").session
    assert slow.stall_s == 10.0  # five intervals
    renamed = parse_config({"session": {"sample_timeout_s": 7}, "analyzers": one}, "x.toml").session
    assert renamed.stall_s == 7.0  # the setting's earlier name still works
    assert config.session.merge_tolerance_ns == 500_000_000
    assert config.session.client_timeout_s == 60.0 and config.min_free_mb == 64
    with pytest.raises(ConfigError) as caught:
        parse_config(
            {"session": {"poll_interval_s": 2}, "analyzers": [{"name": "a", "driver": "simulated"}]}, "x.toml"
        )
    assert str(caught.value) == (
        "x.toml: key 'session.poll_interval_s' must be at most 1 (samples reach the disk at least every second), got 2."
    )


def test_token_from_environment_then_file(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("file-token-0123456789\nignored\n")
    config = DirectorConfig(token_file=token_file, source="d.toml")
    assert load_token(config, {"JOULEBENCH_TOKEN": TOKEN}) == TOKEN
    assert load_token(config, {}) == "file-token-0123456789"
    with pytest.raises(
        ConfigError, match=r"^d.toml: no token: set \$JOULEBENCH_TOKEN or key 'server.token_file'"
    ):
        load_token(DirectorConfig(source="d.toml"), {})
    with pytest.raises(ConfigError, match=r"^\$JOULEBENCH_TOKEN: the token is shorter than 16 characters.$"):
        load_token(config, {"JOULEBENCH_TOKEN": "short"})
    missing = DirectorConfig(token_file=tmp_path / "nope", source="d.toml")
    with pytest.raises(ConfigError, match=rf"^{tmp_path / 'nope'}: cannot read the token file: No such file"):
        load_token(missing, {})


# -- server.conf ------------------------------------------------------------------------------------


def test_import_current_layout_two_analyzers() -> None:
    result = import_server_conf(CONFS / "current_two_analyzers.conf")
    config = result.config
    assert (config.host, config.port, config.data_dir) == ("10.20.0.5", 4950, Path("D:\\power-logs"))
    assert config.session.ranging_mode == "auto"
    assert config.analyzers == (
        AnalyzerConfig(
            name="analyzer1",
            launch=LaunchConfig(
                executable="C:\\PTD\\ptd-windows-x86.exe",
                device_type=77,
                device_port="C2WL21011V",
                interface_flag="-y",
                network_port=8888,
                channel=(1, 3),
            ),
        ),
        AnalyzerConfig(
            name="analyzer2",
            launch=LaunchConfig(
                executable="C:\\PTD\\ptd-windows-x86.exe",
                device_type=49,
                device_port="10.20.0.31",
                interface_flag="-n",
                network_port=8889,
            ),
        ),
    )
    where = str(CONFS / "current_two_analyzers.conf")
    assert result.warnings == [
        f"{where}: [server] listen 10.20.0.5 exposes the director beyond this machine (it still requires the token).",
        f"{where}: [server] ntpServer is not used: the director never changes clocks; "
        "the client measures its offset to the director instead.",
    ]


def test_import_legacy_layout_warns() -> None:
    result = import_server_conf(CONFS / "legacy_wt310.conf")
    assert result.config.analyzers == (
        AnalyzerConfig(
            name="analyzer1",
            launch=LaunchConfig(
                executable="/opt/ptd/ptd-linux-x86",
                device_type=49,
                device_port="C2PH13047V",
                interface_flag="-y",
                network_port=8888,
            ),
        ),
    )
    assert (result.config.host, result.config.port) == ("0.0.0.0", 4950)
    where = str(CONFS / "legacy_wt310.conf")
    assert (
        f"{where}: legacy layout (meter keys under [ptd]); current server.conf files use [ptd] analyzerCount and [analyzer1..N]."
        in result.warnings
    )


def test_import_max_ranging_mode_and_gpib() -> None:
    config = import_server_conf(CONFS / "current_wt500_max_ranging.conf").config
    assert config.session.ranging_mode == "max" and config.session.max_amps_range == 40.0
    [analyzer] = config.analyzers
    assert analyzer.launch == LaunchConfig(
        executable="/usr/local/bin/ptd",
        device_type=48,
        device_port="1",
        interface_flag="-g",
        network_port=8890,
        channel=(3,),
        gpib_board=0,
    )


@pytest.mark.parametrize(
    "name", ["current_two_analyzers.conf", "legacy_wt310.conf", "current_wt500_max_ranging.conf"]
)
def test_imported_toml_reads_back_to_the_same_config(name: str, tmp_path: Path) -> None:
    imported = import_server_conf(CONFS / name).config
    status, out, err = run_cli("import-conf", str(CONFS / name))
    assert status == 0
    assert out.startswith(f"# joulebench power-director configuration, imported from {CONFS / name}.")
    assert err.startswith("power-director: warning: ")
    written = tmp_path / "director.toml"
    written.write_text(out)
    reread = load_config(written)
    assert reread.analyzers == imported.analyzers
    assert reread.session == imported.session
    assert (reread.host, reread.port) == (imported.host, imported.port)


def test_import_errors_are_one_sentence() -> None:
    where = CONFS / "broken_missing_device_type.conf"
    assert run_cli("import-conf", str(where)) == (
        2,
        "",
        f"power-director: {where}: [analyzer1] deviceType is missing.\n",
    )
    status, out, err = run_cli("import-conf", str(CONFS / "nope.conf"))
    assert (status, out, err) == (2, "", f"power-director: {CONFS / 'nope.conf'}: no such file.\n")


# -- the CLI ----------------------------------------------------------------------------------------


def test_cli_refuses_a_bad_config_in_one_sentence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[server]\nport = "x"\n[[analyzers]]\nname = "a"\ndriver = "simulated"\n')
    assert run_cli("--config", str(bad)) == (
        2,
        "",
        f"power-director: {bad}: key 'server.port' must be a whole number from 0 to 65535, got 'x'.\n",
    )
    good = tmp_path / "good.toml"
    good.write_text('[[analyzers]]\nname = "a"\ndriver = "simulated"\n')
    monkeypatch.delenv("JOULEBENCH_TOKEN", raising=False)
    status, _out, err = run_cli("--config", str(good))
    assert status == 2 and err.startswith(f"power-director: {good}: no token: set $JOULEBENCH_TOKEN")
    monkeypatch.setenv("JOULEBENCH_TOKEN", TOKEN)
    driver = tmp_path / "driver.toml"
    driver.write_text('[[analyzers]]\nname = "a"\ndriver = "no-such-meter"\n')
    status, _out, err = run_cli("--config", str(driver))
    assert status == 2 and err.startswith(
        f"power-director: {driver}: analyzer 'a' (key 'analyzers[0]', driver 'no-such-meter') could not start: "
        "no-such-meter: no analyzer driver"
    )
    assert err.count("\n") == 1


def test_cli_serves_until_terminated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOULEBENCH_TOKEN", TOKEN)
    config = tmp_path / "director.toml"
    config.write_text('[server]\ndata_dir = "data"\n[[analyzers]]\nname = "sim"\ndriver = "simulated"\n')
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "power_director.cli", "--config", str(config), "--port", str(port)],
        env={**os.environ, "JOULEBENCH_TOKEN": TOKEN},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        assert line == f"power-director: listening on http://127.0.0.1:{port}, data in {tmp_path / 'data'}\n"
        deadline = time.monotonic() + 20
        while True:
            try:
                reply = httpx.get(
                    f"http://127.0.0.1:{port}/v1/analyzers", headers={"Authorization": f"Bearer {TOKEN}"}
                )
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert reply.status_code == 200 and reply.json()[0]["model"] == "SimulatedWT310"
        # The port is taken now: a second director says so in one sentence.
        status, _out, err = run_cli("--config", str(config), "--port", str(port))
        assert status == 2 and err.startswith(f"power-director: {config}: cannot listen on 127.0.0.1:{port}:")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
    assert process.returncode == 0
