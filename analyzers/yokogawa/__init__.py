"""Yokogawa WT-series power analyzers (the MLPerf Power meters), driven directly over pyserial.

`--driver yokogawa --device /dev/ttyUSB0` (RS-232, 9600 baud by default) or
`--device socket://<host>:10001` (Ethernet). See docs/INSTRUMENTS_DRIVERS.md.
"""

from analyzers.yokogawa.driver import YokogawaAnalyzer

__all__ = ["YokogawaAnalyzer"]
