"""Calibrating a software power source against a reference meter (MLPerf Training's "Target 5% Accuracy").

`conditions.py` lays the timed windows over each load condition and scores them (Olympic: drop the
highest and the lowest window, mean of the rest); `response.py` finds how the candidate responds
to the reference's power (gain, offset, lag, averaging); `flaws.py` looks for the ways software
sources are known to fail; `certificate.py` writes the result and applies it to later traces.
"""
