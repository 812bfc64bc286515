"""RAPL driver against a temporary powercap tree: zones, wrap-around, no double counting, clear failures, PTD."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import threading
import time
from pathlib import Path

import pytest
from fakes_system.fake_powercap import INTEL_RANGE_UJ, FakePowercap
from fakes_system.manual_clock import ManualPollClock
from fakes_system.ptd_exchange import served, watts_of

from analyzers.errors import AnalyzerConnectionError, AnalyzerError
from analyzers.rapl import RaplAnalyzer
from analyzers.trace import SAMPLE_ERROR, SAMPLE_OK


@pytest.mark.parametrize("nested", [False, True])
def test_packages_and_dram_by_default_and_a_wrapping_counter_stays_exact(
    tmp_path: Path, nested: bool
) -> None:
    tree = FakePowercap(tmp_path / "powercap", nested=nested).server()
    clock = ManualPollClock()
    analyzer = RaplAnalyzer(sysfs_root=tree.root, clock=clock)
    assert analyzer.channel_names == ["package-0", "package-0:dram", "package-1", "package-1:dram"]
    assert analyzer.identify().model == "RAPL package-0+package-0:dram+package-1+package-1:dram"
    analyzer.start(1.0, "testing")
    for _ in range(3):
        tree.add_energy("intel-rapl:0", 45.5)  # wraps in the first second: 10 J were left in its range
        tree.add_energy("intel-rapl:0:1", 6.25)
        tree.add_energy("intel-rapl:1", 30.0)
        tree.add_energy("intel-rapl:1:0", 4.0)
        tree.add_energy("intel-rapl:0:0", 20.0)  # core: inside package-0, not a channel
        clock.advance(1.0)
    analyzer.stop()
    assert tree.energy_uj["intel-rapl:0"] < 200_000_000  # it really wrapped
    trace = analyzer.fetch()
    assert [list(block.watts) for block in trace.channels] == [[45.5] * 3, [6.25] * 3, [30.0] * 3, [4.0] * 3]
    assert list(trace.watts) == [85.75] * 3
    assert trace.energy_j is not None and list(trace.energy_j) == [85.75, 171.5, 257.25]
    assert analyzer.stats().avg_power_w == 85.75


def test_choices_that_would_count_twice_are_refused(tmp_path: Path) -> None:
    tree = FakePowercap(tmp_path).server()
    assert RaplAnalyzer("psys", sysfs_root=tree.root).channel_names == ["psys"]
    assert RaplAnalyzer("core,dram", sysfs_root=tree.root).channel_names == [
        "package-0:core",
        "package-0:dram",
        "package-1:dram",
    ]
    with pytest.raises(AnalyzerError) as raised:
        RaplAnalyzer("package-0,psys", sysfs_root=tree.root)
    assert str(raised.value) == (
        "package-0,psys: psys already contains package-0, so both would count its energy twice (choose one of them)"
    )
    with pytest.raises(AnalyzerError, match="package-0 already contains package-0:core"):
        RaplAnalyzer("package-0,package-0:core", sysfs_root=tree.root)
    with pytest.raises(AnalyzerError) as raised:
        RaplAnalyzer("gpu", sysfs_root=tree.root)
    assert str(raised.value) == (
        "gpu: no RAPL zone named 'gpu' (this machine has: package-0, package-0:core, package-0:dram, "
        "package-1, package-1:dram, psys)"
    )


def test_only_psys_is_chosen_when_there_is_no_package_and_mmio_duplicates_are_skipped(tmp_path: Path) -> None:
    tree = FakePowercap(tmp_path)
    tree.add_zone("intel-rapl:0", "psys")
    assert RaplAnalyzer(sysfs_root=tree.root).channel_names == ["psys"]
    laptop = FakePowercap(tmp_path / "laptop")
    laptop.add_zone("intel-rapl:0", "package-0")
    laptop.add_zone("intel-rapl-mmio:0", "package-0")
    assert [z.zone_id for z in RaplAnalyzer(sysfs_root=laptop.root).zones] == ["intel-rapl:0"]


def test_a_wrap_with_an_unreadable_range_is_flagged_not_guessed(tmp_path: Path) -> None:
    tree = FakePowercap(tmp_path)
    tree.add_zone("intel-rapl:0", "package-0", energy_uj=900_000_000, range_uj=None)
    clock = ManualPollClock()
    analyzer = RaplAnalyzer(sysfs_root=tree.root, clock=clock)
    analyzer.start(0.5)
    tree.add_energy("intel-rapl:0", 10.0)
    clock.advance(0.5)
    tree.set_energy("intel-rapl:0", 1_000)  # it went back: wrapped, by an unknown range
    clock.advance(0.5)
    tree.add_energy("intel-rapl:0", 5.0)
    clock.advance(0.5)
    trace = analyzer.fetch()  # the samples first, the failure with the next call (Analyzer.fetch's contract)
    with pytest.raises(AnalyzerError, match="the counter went back and max_energy_range_uj is unreadable"):
        analyzer.fetch()
    assert list(trace.flags) == [SAMPLE_OK, SAMPLE_ERROR, SAMPLE_OK]
    assert trace.watts[0] == 20.0 and trace.watts[2] == 10.0
    analyzer.close()


def _unreadable_tree() -> Path:
    """A tree whose counters are root-only (mode 0400, root-owned), like Linux >= 5.10."""
    base = Path(tempfile.mkdtemp())
    base.chmod(0o755)
    tree = FakePowercap(base / "powercap")
    tree.add_zone("intel-rapl:0", "package-0", energy_uj=123)
    for path in base.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o444)
    (tree.paths["intel-rapl:0"] / "energy_uj").chmod(stat.S_IRUSR)
    return tree.root


def _message_without_privileges(root: Path) -> str:
    """The driver's error when opened by an unprivileged user (a forked child drops to nobody)."""
    if os.geteuid() != 0:
        with pytest.raises(AnalyzerConnectionError) as raised:
            RaplAnalyzer(sysfs_root=root)
        return str(raised.value)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: become nobody, try, report, leave without running pytest's exit handlers
        message = "no error"
        try:
            os.setgid(65534)
            os.setuid(65534)
            RaplAnalyzer(sysfs_root=root)
        except AnalyzerConnectionError as error:
            message = str(error)
        except BaseException as error:
            message = f"unexpected {error!r}"
        os.write(write_end, message.encode())
        os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    with os.fdopen(read_end, "rb") as reader:
        return reader.read().decode()


def test_permission_denied_says_what_to_do(tmp_path: Path) -> None:
    root = _unreadable_tree()
    try:
        message = _message_without_privileges(root)
    finally:
        shutil.rmtree(root.parent)
    assert message == (
        f"rapl: permission denied reading {root}/intel-rapl:0/energy_uj (since Linux 5.10 only root may read "
        "RAPL energy: run as root, or allow it with `chmod o+r /sys/class/powercap/intel-rapl:*/energy_uj` "
        "(a udev rule makes that stick))"
    )


@pytest.mark.parametrize(
    ("files", "hint"),
    [
        ({".dockerenv": ""}, "this looks like a container, which usually hides powercap"),
        ({"proc/1/cgroup": "0::/kubepods/burstable/pod1234\n"}, "this looks like a container"),
        (
            {"proc/cpuinfo": "processor\t: 0\nflags\t\t: fpu vme hypervisor lahf_lm\n"},
            "this looks like a virtual machine",
        ),
        ({"sys/class/dmi/id/sys_vendor": "QEMU\n"}, "this looks like a virtual machine"),
        ({"proc/cpuinfo": "flags\t\t: fpu vme\n"}, "is the intel_rapl_msr kernel module loaded?"),
    ],
)
def test_no_zones_explains_container_vm_or_module(tmp_path: Path, files: dict[str, str], hint: str) -> None:
    system = tmp_path / "system"
    for name, text in files.items():
        (system / name).parent.mkdir(parents=True, exist_ok=True)
        (system / name).write_text(text)
    with pytest.raises(AnalyzerConnectionError) as raised:
        RaplAnalyzer(sysfs_root=tmp_path / "powercap", system_root=system)
    message = str(raised.value)
    assert (
        message.startswith(f"rapl: no RAPL zones under {tmp_path}/powercap ({hint}")
        and message.count("\n") == 0
    )


def test_served_over_ptd_from_a_live_tree(tmp_path: Path) -> None:
    tree = FakePowercap(tmp_path / "powercap")
    tree.add_zone("intel-rapl:0", "package-0", energy_uj=INTEL_RANGE_UJ - 3_000_000)  # wraps within 0.1 s
    tree.add_zone("intel-rapl:0:0", "dram")
    done = threading.Event()

    def consume() -> None:  # 40 W and 8 W: the counters follow the clock, updated every ~5 ms
        began, last = time.monotonic(), 0.0
        while not done.wait(0.005):
            elapsed = time.monotonic() - began
            tree.add_energy("intel-rapl:0", 40.0 * (elapsed - last))
            tree.add_energy("intel-rapl:0:0", 8.0 * (elapsed - last))
            last = elapsed

    start = time.monotonic()
    worker = threading.Thread(target=consume, daemon=True)
    with served("rapl", "", {"JOULEBENCH_POWERCAP_ROOT": str(tree.root)}) as ptd:
        worker.start()
        try:
            assert ptd.ask("Identify").startswith("RAPL package-0+package-0:dram,")
            assert ptd.ask("Go,100,0,testing").startswith("Starting untimed measurement")
            time.sleep(0.75)
            assert ptd.ask("Stop") == "Stopping untimed measurement"
            lines = ptd.samples("RL,*,*")
        finally:
            done.set()
            worker.join()
    assert len(lines) >= 5 and time.monotonic() - start < 30
    totals = [watts_of(line) for line in lines]
    package = sum(t[1] for t in totals) / len(totals)
    dram = sum(t[2] for t in totals) / len(totals)
    # Counters move in ~5 ms steps against 100 ms samples: the means are within a few percent.
    assert package == pytest.approx(40.0, rel=0.1) and dram == pytest.approx(8.0, rel=0.1)
    assert all(t[0] == pytest.approx(t[1] + t[2]) for t in totals)
