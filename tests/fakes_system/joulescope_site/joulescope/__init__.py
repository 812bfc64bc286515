"""`import joulescope` for a subprocess: the fake package, its instruments from `$FAKE_JOULESCOPE`.

`$FAKE_JOULESCOPE` is JSON: a list of {"serial", "model", "frequency", "current_a", "voltage_v"}
(constant signals). Put this directory first on PYTHONPATH, and `tests/` after it, and the real
driver code in the subprocess talks to the fake.
"""

import json
import os

from fakes_system.fake_joulescope import DeviceScript, FakeJoulescope, constant

_scripts = [
    DeviceScript(
        serial=str(entry.get("serial", "002557")),
        model=str(entry.get("model", "js220")),
        frequency=int(entry.get("frequency", 1_000_000)),
        current=constant(float(entry.get("current_a", 0.01))),
        voltage=constant(float(entry.get("voltage_v", 3.3))),
    )
    for entry in json.loads(os.environ.get("FAKE_JOULESCOPE", "[{}]"))
]
_module = FakeJoulescope(*_scripts)
scan = _module.scan
