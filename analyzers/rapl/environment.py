"""Why a machine shows no RAPL: a container, a virtual machine, or a kernel module not loaded.

Read from ordinary files under a system root (`/` by default), so tests can lay out their own.
"""

from __future__ import annotations

from pathlib import Path

_HYPERVISOR_VENDORS = (
    "qemu",
    "kvm",
    "vmware",
    "microsoft corporation",
    "xen",
    "amazon ec2",
    "google",
    "innotek",
    "parallels",
)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def in_container(system_root: Path) -> bool:
    if (system_root / ".dockerenv").exists() or (system_root / "run/.containerenv").exists():
        return True
    cgroup = _read(system_root / "proc/1/cgroup")
    return any(word in cgroup for word in ("docker", "kubepods", "containerd", "libpod", "lxc"))


def in_virtual_machine(system_root: Path) -> bool:
    cpuinfo = _read(system_root / "proc/cpuinfo")
    if any(line.startswith("flags") and " hypervisor" in line for line in cpuinfo.splitlines()):
        return True
    vendor = _read(system_root / "sys/class/dmi/id/sys_vendor").strip().lower()
    return vendor.startswith(_HYPERVISOR_VENDORS)


def why_no_rapl(system_root: Path) -> str:
    """The most likely reason, as a hint: what to check or do."""
    if in_container(system_root):
        return (
            "this looks like a container, which usually hides powercap: measure on the host, or run the "
            "container privileged with /sys/class/powercap mounted"
        )
    if in_virtual_machine(system_root):
        return "this looks like a virtual machine; hypervisors do not pass RAPL through: measure on the host"
    return "is the intel_rapl_msr kernel module loaded? try `modprobe intel_rapl_msr` (AMD: kernel 5.11 or newer)"
