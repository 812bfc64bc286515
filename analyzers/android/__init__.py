"""Phones and tablets (`--source android:SERIAL`): the fuel gauge under `/sys/class/power_supply/`,
read through the platform-tools `adb` executable.

Rooms: `gauge` (the gauge's units and sign, a sample line to watts), `shell` (the scripts that run on
the device and the adb command lines), `analyzer` (the `Analyzer`).
"""

from analyzers.android.analyzer import AndroidAnalyzer

__all__ = ["AndroidAnalyzer"]
