"""The physical range of each quantity a meter or a log may report; a value outside it is damage, not load.

Parsers drop (and count) a reading outside its range, and the director's API refuses a setting outside
it, so one table decides what "implausible" means everywhere (README, "Damaged input is said").
"""

from __future__ import annotations

MAX_WATTS = 10_000_000.0
"""10 MW: the largest systems MLPerf Power names (a training cluster)."""
MAX_VOLTS = 100_000.0
"""100 kV: above any supply a power analyzer's input stage (or its transformer) is wired to."""
MAX_AMPS = 100_000.0
"""100 kA: above any current a shunt or clamp in an MLPerf setup carries."""
FIRST_YEAR = 1970
"""Timestamps are UTC epoch nanoseconds: nothing measured was stamped before the epoch."""
LAST_YEAR = 2199
"""int64 nanoseconds end in 2262; a year past 2199 in a log is damage, and would overflow near there."""
