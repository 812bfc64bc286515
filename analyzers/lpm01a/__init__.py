"""ST X-NUCLEO-LPM01A (PowerShield): MLPerf Tiny's energy monitor, driven over its virtual COM port.

`--driver lpm01a --device /dev/ttyACM0`. See docs/INSTRUMENTS_DRIVERS.md.
"""

from analyzers.energy_runner_export import write_energy_runner
from analyzers.lpm01a.driver import GpioEvent, Lpm01aAnalyzer

__all__ = ["GpioEvent", "Lpm01aAnalyzer", "write_energy_runner"]
