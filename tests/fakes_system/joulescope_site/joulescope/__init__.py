"""`import joulescope` for a subprocess: the fake package, its instruments from `$FAKE_JOULESCOPE`.

`$FAKE_JOULESCOPE` is JSON: a list of {"serial", "model", "frequency", "current_a", "voltage_v",
"falls"} (constant signals; `falls`: device seconds at which GPI0 pulses low for 20 µs, a timestamp). Put this directory first on PYTHONPATH, and `tests/` after it, and the real
driver code in the subprocess talks to the fake.
"""

import json
import os

import numpy as np
from fakes_system.fake_joulescope import DeviceScript, FakeJoulescope, constant


def _pulses(falls):
    def gpi0(t):
        low = np.zeros(len(t), bool)
        for fall in falls:
            low |= (t >= fall) & (t < fall + 0.00002)
        return np.where(low, 0, 1)

    return gpi0


_scripts = [
    DeviceScript(
        serial=str(entry.get("serial", "002557")),
        model=str(entry.get("model", "js220")),
        frequency=int(entry.get("frequency", 1_000_000)),
        current=constant(float(entry.get("current_a", 0.01))),
        voltage=constant(float(entry.get("voltage_v", 3.3))),
        gpi0=_pulses(entry.get("falls", [])),
    )
    for entry in json.loads(os.environ.get("FAKE_JOULESCOPE", "[{}]"))
]
_module = FakeJoulescope(*_scripts)
scan = _module.scan
