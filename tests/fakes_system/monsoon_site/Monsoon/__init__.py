"""`import Monsoon.HVPM` etc. for a subprocess: the fake package, one instrument from `$FAKE_MONSOON`.

`$FAKE_MONSOON` is JSON {"serial", "current_ma"} (a constant current). Put this directory first on
PYTHONPATH, and `tests/` after it.
"""

import json
import os

from fakes_system.fake_monsoon import MonitorScript, constant_ma, make_package

_settings = json.loads(os.environ.get("FAKE_MONSOON", "{}"))
PACKAGE = make_package(
    MonitorScript(
        serial=int(_settings.get("serial", 20125)),
        current_ma=constant_ma(float(_settings.get("current_ma", 250.0))),
    )
)
