"""NVML driver against a fake pynvml: counter deltas, resets, power fields, windows, missing driver, PTD."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from fakes_system.fake_nvml import FakeGpu, FakeNvml
from fakes_system.manual_clock import ManualPollClock
from fakes_system.ptd_exchange import served, watts_of

from analyzers.cli import main
from analyzers.errors import AnalyzerConnectionError, AnalyzerError
from analyzers.nvml import NvmlAnalyzer, window_warning
from analyzers.registry import create_analyzer
from analyzers.trace import SAMPLE_ERROR, SAMPLE_OK

H100 = "NVIDIA H100 80GB HBM3"
A100 = "NVIDIA A100-SXM4-40GB"


def two_gpus(clock: ManualPollClock, **options: object) -> tuple[NvmlAnalyzer, FakeNvml]:
    fake = FakeNvml(
        [FakeGpu(H100, "GPU-aaaa", watts=100.0), FakeGpu(A100, "GPU-bbbb", watts=250.0, average_lag_w=20.0)],
        now_ns=clock.now_ns,
    )
    return NvmlAnalyzer("", nvml_module=fake, clock=clock, **options), fake


def test_counter_deltas_give_each_gpus_power_and_the_total() -> None:
    clock = ManualPollClock()
    analyzer, fake = two_gpus(clock)
    assert analyzer.channel_count == 2 and analyzer.device_names == [H100, A100]
    identity = analyzer.identify()
    assert identity.model == f"NVML 2x {A100} + {H100}"
    assert (identity.serial, identity.firmware, identity.vendor) == (
        "GPU-aaaa,GPU-bbbb",
        "driver 550.54.15",
        "NVIDIA",
    )
    analyzer.start(1.0, "ranging")
    clock.advance(1.0)
    clock.advance(1.0)
    clock.advance(0.5)
    fake.set_power(0, 300.0)  # a step halfway through the third second
    clock.advance(0.5)
    analyzer.stop()
    trace = analyzer.fetch()
    assert list(trace.time_ns - trace.time_ns[0]) == [0, 1_000_000_000, 2_000_000_000]
    assert list(trace.channels[0].watts) == [100.0, 100.0, 200.0]
    assert list(trace.channels[1].watts) == [250.0, 250.0, 250.0]
    assert list(trace.watts) == [350.0, 350.0, 450.0]
    assert trace.energy_j is not None and list(trace.energy_j) == [350.0, 700.0, 1150.0]
    assert trace.mark_names == ("ranging",) and list(trace.flags) == [0, 0, 0]
    stats = analyzer.stats()
    assert (stats.samples, stats.valid, stats.avg_power_w, stats.max_power_w) == (3, 3, 1150.0 / 3, 450.0)
    # Each method's energy over the 3 s: the counter, and the trapezoid of each power reading.
    assert stats.extra["gpu0_counter_j"] == 400.0
    assert stats.extra["gpu0_instant_j"] == 400.0  # the step falls between two reads 0.5 s apart
    assert stats.extra["gpu1_counter_j"] == 750.0
    assert stats.extra["gpu1_average_j"] == 690.0  # the average field trails instant by 20 W here
    assert stats.extra["gpu1_usage_j"] == 690.0
    assert stats.extra["gpu0_resets"] == 0.0
    analyzer.close()
    assert fake.shutdowns == 1


def test_a_counter_reset_flags_that_sample_only_and_is_reported_once() -> None:
    clock = ManualPollClock()
    analyzer, fake = two_gpus(clock)
    analyzer.start(1.0)
    clock.advance(1.0)
    fake.reset_counter(1)
    clock.advance(1.0)
    clock.advance(1.0)
    trace = analyzer.fetch()  # the samples first, the failure with the next call (Analyzer.fetch's contract)
    with pytest.raises(
        AnalyzerError, match=r"^GPU 1: energy counter went back by 5000000 mJ \(driver reloaded"
    ):
        analyzer.fetch()
    assert list(trace.channels[0].watts) == [100.0, 100.0, 100.0]
    assert list(trace.channels[1].flags) == [SAMPLE_OK, SAMPLE_ERROR, SAMPLE_OK]
    assert math.isnan(trace.channels[1].watts[1]) and trace.channels[1].watts[2] == 250.0
    assert list(trace.flags) == [SAMPLE_OK, SAMPLE_ERROR, SAMPLE_OK]
    assert math.isnan(trace.watts[1])
    assert trace.energy_j is not None and trace.energy_j[0] == 350.0 and math.isnan(trace.energy_j[1])
    assert trace.energy_j[2] == 100.0 * 3 + 250.0 * 2  # the reset second's energy is not invented
    clock.advance(1.0)
    assert len(analyzer.fetch()) == 1  # no second report of the same reset
    assert analyzer.stats().extra["gpu1_resets"] == 1.0
    assert analyzer.stats().errors == 1
    analyzer.close()


@pytest.mark.parametrize(("power", "expected"), [("instant", 250.0), ("average", 230.0), ("usage", 230.0)])
def test_power_fields_as_the_sample_watts(power: str, expected: float) -> None:
    clock = ManualPollClock()
    fake = FakeNvml([FakeGpu(A100, "GPU-bbbb", watts=250.0, average_lag_w=20.0)], now_ns=clock.now_ns)
    analyzer = NvmlAnalyzer("0", power=power, nvml_module=fake, clock=clock)
    analyzer.start(0.5)
    clock.advance(0.5)
    clock.advance(0.5)
    analyzer.stop()
    trace = analyzer.fetch()
    assert trace.channel_count == 0 and list(trace.watts) == [expected, expected]
    assert trace.energy_j is not None and list(trace.energy_j) == [125.0, 250.0]


def test_a_gpu_without_fields_or_counter_says_what_it_offers() -> None:
    fake = FakeNvml([FakeGpu("Tesla P100-PCIE-16GB", "GPU-old", has_counter=False, has_fields=False)])
    with pytest.raises(AnalyzerError) as raised:
        NvmlAnalyzer("0", nvml_module=fake)
    assert (
        str(raised.value)
        == "GPU 0 (Tesla P100-PCIE-16GB): has no energy power reading (this GPU offers: usage)"
    )
    assert NvmlAnalyzer("0", power="usage", nvml_module=fake).channel_count == 1


def test_devices_by_index_and_uuid_and_bad_ones() -> None:
    fake = FakeNvml([FakeGpu(H100, "GPU-aaaa"), FakeGpu(A100, "GPU-bbbb")])
    assert NvmlAnalyzer("1", nvml_module=fake).device_names == [A100]
    assert NvmlAnalyzer("GPU-bbbb,0", nvml_module=fake).device_names == [A100, H100]
    with pytest.raises(AnalyzerError) as raised:
        NvmlAnalyzer("0,5", nvml_module=fake)
    assert (
        str(raised.value)
        == "GPU 5: no such GPU (Invalid Argument) (this machine has 2 GPU(s), indices 0 to 1)"
    )
    with pytest.raises(AnalyzerError, match="the same GPU is listed twice"):
        NvmlAnalyzer("0,GPU-aaaa", nvml_module=fake)
    with pytest.raises(AnalyzerError, match="not a GPU index or UUID"):
        NvmlAnalyzer("first", nvml_module=fake)


def test_short_windows_are_warned_about() -> None:
    assert window_warning(1.0) is None and window_warning(0.2, counter_update_s=0.02) is None
    assert window_warning(0.3) == (
        "a window of 0.3 s spans only ~3.0 energy-counter updates (one every ~0.1 s); energy over it can "
        "be off by a whole update at each end (use windows of at least 1 s)"
    )
    clock = ManualPollClock()
    analyzer, _ = two_gpus(clock)
    analyzer.start(0.05)
    clock.advance(0.05)
    analyzer.stop()
    assert [w.split(":", 1)[1].split(" spans")[0] for w in analyzer.warnings] == [
        " a sample interval of 0.05 s",
        " a measurement of 0.05 s",
    ]
    analyzer.start(1.0)
    clock.advance(1.0)
    analyzer.stop()
    assert len(analyzer.warnings) == 2  # a 1 s interval spans ten 0.1 s updates: no warning


def test_a_lost_gpu_flags_its_channel_and_is_reported() -> None:
    clock = ManualPollClock()
    analyzer, fake = two_gpus(clock)
    analyzer.start(1.0)
    fake.gpus[0].lost = True
    clock.advance(1.0)
    trace = analyzer.fetch()  # the samples first, the failure with the next call (Analyzer.fetch's contract)
    with pytest.raises(AnalyzerError, match="GPU 0: fell off the bus while reading"):
        analyzer.fetch()
    assert list(trace.channels[0].flags) == [SAMPLE_ERROR] and list(trace.channels[1].watts) == [250.0]
    analyzer.close()


def test_no_driver_is_one_clear_sentence() -> None:
    fake = FakeNvml([], init_error=12)
    with pytest.raises(AnalyzerConnectionError) as raised:
        NvmlAnalyzer("0", nvml_module=fake)
    assert str(raised.value).startswith(
        "NVML: no NVIDIA driver found: the NVML library (libnvidia-ml.so.1) is not installed (is the NVIDIA driver"
    )


def test_the_installed_pynvml_on_this_machine(capsys: pytest.CaptureFixture[str]) -> None:
    """The real nvidia-ml-py: without a driver one sentence, with one the GPUs it lists."""
    import pynvml

    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as error:
        assert error.value in (pynvml.NVML_ERROR_LIBRARY_NOT_FOUND, pynvml.NVML_ERROR_DRIVER_NOT_LOADED)
        with pytest.raises(
            AnalyzerConnectionError, match=r"^NVML: (no NVIDIA driver found|the NVIDIA kernel driver)"
        ):
            create_analyzer("nvml", "0")
        assert main(["read", "--driver", "nvml", "--seconds", "1"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("power-analyzer: NVML: ") and err.count("\n") == 1 and "Traceback" not in err
        return
    count = pynvml.nvmlDeviceGetCount()
    pynvml.nvmlShutdown()
    with create_analyzer("nvml", "") as analyzer:
        assert analyzer.channel_count == count


def test_served_over_ptd_with_the_fake_library_on_the_path() -> None:
    site = Path(__file__).parent / "fakes_system" / "nvml_site"
    gpus = [
        {"name": H100, "uuid": "GPU-aaaa", "watts": 100.0},
        {"name": A100, "uuid": "GPU-bbbb", "watts": 250.0},
    ]
    env = {"PYTHONPATH": str(site), "FAKE_NVML_GPUS": json.dumps(gpus), "FAKE_NVML_UPDATE_NS": "1000"}
    with served("nvml", "0,1", env) as ptd:
        assert ptd.ask("Identify").startswith(f"NVML 2x {A100} + {H100},")
        assert ptd.ask("Go,100,0,testing").startswith("Starting untimed measurement")
        lines = []
        while len(lines) < 4:
            lines += ptd.samples("RL,*,*")
        assert ptd.ask("Stop") == "Stopping untimed measurement"
    for line in lines:
        total, first, second = watts_of(line)
        # Counter deltas over ~100 ms of wall time: whole-mJ counters and µs of read skew, nothing more.
        assert abs(first - 100.0) < 0.1 and abs(second - 250.0) < 0.1 and abs(total - 350.0) < 0.2
