"""The Android fuel-gauge source through a fake `adb` on PATH serving a sysfs-shaped tree that changes
while it is read: µA/mA and sign conventions, chargers at start and mid-run, a device unplugged,
`power-analyzer read` and `serve` round trips, and per-benchmark windows from logcat lines."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fakes_system.fake_android import FakePhone
from fakes_system.ptd_exchange import served, watts_of

from analyzers.android import AndroidAnalyzer
from analyzers.android.gauge import MICRO, MILLI, detect
from analyzers.errors import AnalyzerConnectionError, AnalyzerError
from analyzers.trace import SAMPLE_ERROR, SAMPLE_OK, Trace

VOLTS = 3.85


@pytest.fixture
def phone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePhone]:
    made = FakePhone(tmp_path)
    for key, value in made.env.items():
        monkeypatch.setenv(key, value)
    yield made
    made.halt()


def _measure(analyzer: AndroidAnalyzer, seconds: float, interval_s: float = 0.1) -> Trace:
    analyzer.start(interval_s, "testing")
    time.sleep(seconds)
    analyzer.stop()
    return analyzer.fetch()


def test_conventions_are_guessed_from_magnitude_and_status_and_the_guess_is_stated() -> None:
    pixel = detect("p", -512_000, 3_870_000, "Discharging")
    assert (pixel.amps_per_unit, pixel.volts_per_unit, pixel.discharge_sign) == (MICRO, MICRO, -1)
    assert pixel.load_watts(-512_000, 3_870_000) == pytest.approx(0.512 * 3.87)
    older = detect("o", 812, 3_870, "Discharging")
    assert (older.amps_per_unit, older.volts_per_unit, older.discharge_sign) == (MILLI, MILLI, 1)
    assert older.describe() == (
        "current in mA; discharge positive (mA assumed: |current_now| = 812 would be under 10 mA as uA; "
        "discharge sign from status Discharging and current_now 812)"
    )
    charging = detect("c", 700_000, 4_100_000, "Charging")
    assert charging.discharge_sign == -1 and "BatteryManager" in charging.describe()
    given = detect("g", 812, 3_870_000, "Discharging", current_unit="uA", discharge_sign="negative")
    assert (given.amps_per_unit, given.discharge_sign, given.assumed) == (MICRO, -1, ())
    with pytest.raises(AnalyzerError) as raised:
        detect("g", 1, 1, "Full", current_unit="A")
    assert str(raised.value) == "g: current_unit must be uA, mA or auto, not 'A'"


def test_a_pixel_like_gauge_is_sampled_by_one_adb_session_as_its_load_changes(phone: FakePhone) -> None:
    phone.drive(lambda t: 400_000 if t < 0.8 else 900_000)
    analyzer = AndroidAnalyzer(phone.serial)
    trace = _measure(analyzer, 1.6)
    analyzer.close()
    assert "uA assumed" in analyzer.identify().model and "discharge negative" in analyzer.identify().model
    assert len(trace) >= 12 and np.all(trace.flags == SAMPLE_OK)
    assert set(np.round(trace.watts, 6)) <= {round(0.4 * VOLTS, 6), round(0.9 * VOLTS, 6)}
    assert trace.watts[0] == pytest.approx(0.4 * VOLTS) and trace.watts[-1] == pytest.approx(0.9 * VOLTS)
    steps = np.diff(trace.time_ns) / 1e9
    assert np.median(steps) == pytest.approx(0.1, abs=0.015)  # the interval, not interval + reads
    assert np.all(steps > 0)
    assert abs(trace.time_ns[-1] / 1e9 - time.time()) < 2
    # The probe, then one shell session for every sample: never a round trip per sample.
    assert [call.split(" ", 3)[2] for call in phone.calls()] == ["shell", "shell"]
    assert set(trace.mark_names) == {"testing"}


def test_a_milliamp_gauge_with_discharge_positive_reads_the_same_watts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    phone = FakePhone(tmp_path, "emulator-5554", unit_per_ua=1e-3, discharge_sign=1)
    for key, value in phone.env.items():
        monkeypatch.setenv(key, value)
    phone.set(load_ua=650_000)
    analyzer = AndroidAnalyzer(phone.serial)
    trace = _measure(analyzer, 0.5)
    analyzer.close()
    assert analyzer.conventions.current_unit == "mA" and analyzer.conventions.discharge_sign == 1
    assert np.allclose(trace.watts, 0.65 * VOLTS)
    assert np.allclose(trace.amps, 0.65) and np.allclose(trace.volts, VOLTS)


def test_a_charger_online_is_refused_unless_allowed_and_net_charging_is_no_load(phone: FakePhone) -> None:
    phone.plug("usb")
    with pytest.raises(AnalyzerError) as raised:
        AndroidAnalyzer(phone.serial)
    assert str(raised.value) == (
        "R5CT1234ABC: usb power is online, so the fuel gauge reads the charger's net current, not the load "
        "(use wireless adb (`adb tcpip`, then unplug the cable) or a battery power bypass, or pass "
        "allow_charging=true to measure the net current anyway)"
    )
    phone.set(load_ua=-300_000, status="Charging")  # the charger out-supplies the load
    analyzer = AndroidAnalyzer(phone.serial, allow_charging=True)
    trace = _measure(analyzer, 0.5)
    analyzer.close()
    assert len(trace) >= 3 and np.all(trace.flags == SAMPLE_ERROR) and np.all(np.isnan(trace.watts))


def test_a_charger_plugged_in_mid_run_flags_what_follows_and_says_so_once(phone: FakePhone) -> None:
    analyzer = AndroidAnalyzer(phone.serial)
    analyzer.start(0.1, "")
    time.sleep(0.6)
    phone.plug("ac")
    time.sleep(0.6)
    analyzer.stop()
    trace = analyzer.fetch()
    ok = np.flatnonzero(trace.flags == SAMPLE_OK)
    flagged = np.flatnonzero(trace.flags == SAMPLE_ERROR)
    assert len(ok) >= 3 and len(flagged) >= 3 and ok.max() < flagged.min()  # before, then after
    with pytest.raises(AnalyzerError) as raised:
        analyzer.fetch()
    assert str(raised.value).startswith(
        "R5CT1234ABC: ac power came online during the measurement: from then the gauge reads the charger's net current"
    )
    assert len(analyzer.fetch()) == 0  # said once
    analyzer.close()


def test_an_unplugged_device_keeps_the_samples_before_and_then_says_it_went_away(phone: FakePhone) -> None:
    analyzer = AndroidAnalyzer(phone.serial)
    analyzer.start(0.1, "")
    time.sleep(0.6)
    phone.disconnect()
    time.sleep(0.4)
    kept = analyzer.fetch()
    assert len(kept) >= 3 and np.all(kept.flags == SAMPLE_OK)
    with pytest.raises(AnalyzerConnectionError) as raised:
        analyzer.fetch()
    assert str(raised.value) == (
        "R5CT1234ABC: the device went away during the measurement: adb exited with status 1 (error: closed) "
        "(check the cable or the wireless adb connection; the samples before are kept)"
    )
    analyzer.stop()
    analyzer.close()


def test_failures_at_start_are_one_sentence(phone: FakePhone, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(AnalyzerError) as raised:
        AndroidAnalyzer("0123NOPE")
    assert str(raised.value) == (
        "0123NOPE: adb failed (exit status 1): adb: device '0123NOPE' not found "
        "(is it listed by `adb devices` and authorised?)"
    )
    with pytest.raises(AnalyzerError) as raised:
        AndroidAnalyzer("")
    assert (
        str(raised.value) == "android: give the device's serial: android:SERIAL (as `adb devices` lists it)"
    )
    with pytest.raises(AnalyzerError) as raised:
        AndroidAnalyzer(phone.serial, battery="main")
    assert str(raised.value).startswith("R5CT1234ABC: no power supply 'main'; there are ")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(AnalyzerError) as raised:
        AndroidAnalyzer(phone.serial)
    assert (
        str(raised.value)
        == "R5CT1234ABC: adb is not installed or not on PATH (install Android platform-tools)"
    )


def test_power_analyzer_read_and_serve(phone: FakePhone) -> None:
    phone.set(load_ua=750_000)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "analyzers.cli",
            "read",
            "--source",
            f"android:{phone.serial}",
            "--seconds",
            "1",
            "--interval",
            "0.2",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=phone.env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(f"W {0.75 * VOLTS:.6f} V 3.850 A 0.7500") >= 3, done.stdout
    with served("android", phone.serial, phone.env) as ptd:
        assert ptd.ask("Identify").startswith("Android fuel gauge battery; current in uA; discharge negative")
        assert ptd.ask("Go,500,0,testing").startswith("Starting untimed measurement")
        lines: list[str] = []
        deadline = time.monotonic() + 10
        while len(lines) < 2 and time.monotonic() < deadline:
            lines += ptd.samples("RL")
            time.sleep(0.2)
        assert ptd.ask("Stop") == "Stopping untimed measurement"
    assert len(lines) >= 2 and [watts_of(line)[0] for line in lines] == [pytest.approx(0.75 * VOLTS)] * len(
        lines
    )


def test_power_measure_takes_per_benchmark_windows_from_logcat(phone: FakePhone, tmp_path: Path) -> None:
    # The phone's clock runs 7 s behind this one; logcat replays a line from before the run.
    skew_s = -7.0
    phone.logcat(f"{time.time() + skew_s - 30:.3f}  1000  1000 I MLPerf: Running benchmark stale")
    app = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
        from fakes_system.fake_android import FakePhone
        phone = FakePhone.__new__(FakePhone)
        phone.__dict__.update(root=None, device={str(phone.device)!r}, supplies=None)
        def log(text):
            with open({str(phone.device / "logcat")!r}, "a") as out:
                out.write(f"{{time.time() + {skew_s}:.3f}}  4242  4250 I MLPerf: {{text}}\\n")
        def load(ua):
            FakePhone._write(__import__("pathlib").Path({str(phone.supplies / "battery" / "current_now")!r}), str(-ua))
        # The load changes 0.2 s before each benchmark says it began and 0.2 s after it ends, as a
        # real app's set-up and tear-down do; the windows must hold the benchmark's level only.
        time.sleep(0.3)
        load(1_200_000); time.sleep(0.2); log("Running benchmark image_classification"); time.sleep(0.8)
        log("Finished benchmark image_classification"); time.sleep(0.2); load(300_000); time.sleep(0.3)
        load(1_800_000); time.sleep(0.2); log("Running benchmark object_detection"); time.sleep(0.6)
        log("Finished benchmark object_detection"); time.sleep(0.2); load(300_000); time.sleep(0.2)
        """
    )
    out = tmp_path / "job"
    phone.set(load_ua=300_000)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "power_client.metering.cli",
            "--source",
            f"android:{phone.serial}",
            "--interval-ms",
            "100",
            "--logcat-begin",
            r"Running benchmark (\S+)",
            "--logcat-end",
            r"Finished benchmark (\S+)",
            "--output",
            str(out),
            "--json",
            "--",
            sys.executable,
            "-c",
            app,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=phone.env,
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    windows = {w["name"]: w for w in document["windows"]}
    assert set(windows) == {"command", "image_classification", "object_detection"}
    for name, seconds, amps in (("image_classification", 0.8, 1.2), ("object_detection", 0.6, 1.8)):
        window = windows[name]
        duration_s = (window["end_ns"] - window["begin_ns"]) / 1e9
        assert duration_s == pytest.approx(seconds, abs=0.06), name
        assert window["sources"][0]["avg_power_w"] == pytest.approx(amps * VOLTS, rel=0.02), name
    assert any("device clock placed on this one" in note for note in document["notes"])
    checked = subprocess.run(
        [sys.executable, "-m", "rules.cli", "--json", str(out)], capture_output=True, text=True, timeout=60
    )
    assert json.loads(checked.stdout)[0]["valid"] is True
