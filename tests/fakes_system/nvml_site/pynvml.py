"""`import pynvml` for a daemon subprocess: a `FakeNvml` whose GPUs come from `$FAKE_NVML_GPUS`.

`$FAKE_NVML_GPUS` is JSON: a list of {"name", "uuid", "watts"}; `$FAKE_NVML_UPDATE_NS` the counter's step. Put this directory first on
PYTHONPATH and the real driver code in the subprocess talks to the fake.
"""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fake_nvml import FakeGpu, FakeNvml

_fake = FakeNvml(
    [FakeGpu(**spec) for spec in json.loads(os.environ.get("FAKE_NVML_GPUS", "[]"))],
    update_ns=int(os.environ.get("FAKE_NVML_UPDATE_NS", "20000000")),
)
NVMLError = _fake.NVMLError
for _name in dir(_fake):
    if _name.startswith("nvml"):
        globals()[_name] = getattr(_fake, _name)
