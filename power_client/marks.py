"""Name windows of a program that runs under `power-measure`: `begin(name)`, `end(name)`, `mark(label)`.

Each writes one line of the mark protocol (`power_client.metering.marks`) to the FIFO in
`JOULEBENCH_MARKS`, stamped now; without that variable they do nothing, so a program can call
them whether or not it is being measured.
"""

from power_client.metering.marks import MARKS_ENV, begin, end, mark

__all__ = ["MARKS_ENV", "begin", "end", "mark"]
