"""`import pynvml` for a daemon subprocess: a `FakeNvml` whose GPUs come from `$FAKE_NVML_GPUS`.

`$FAKE_NVML_GPUS` is JSON: a list of {"name", "uuid", "watts"}; `$FAKE_NVML_UPDATE_NS` the counter's step. Put this directory first on
PYTHONPATH and the real driver code in the subprocess talks to the fake.

`$FAKE_NVML_FOLLOW` names a simulated meter's load-control file (`analyzers.simulated.control`):
then every GPU draws `$FAKE_NVML_GAIN` x the load in force + `$FAKE_NVML_OFFSET` W, so a GPU and
the simulated reference meter see one workload (a calibration with a known answer).
"""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fake_nvml import FakeGpu, FakeNvml


class _FollowingNvml(FakeNvml):
    """Before each reading, the GPUs take up the control file's level (gain x load + offset)."""

    def __init__(self, *args, follow: str, gain: float, offset_w: float, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._follow, self._gain, self._offset_w = Path(follow), gain, offset_w
        self._taken_ns = -1

    def _take_up_load(self) -> None:
        """Each control step from the time it names (the counter integrates the old level up to
        it), as a GPU would draw it, not from when this reading happens to look."""
        now = self.now_ns()
        try:
            lines = self._follow.read_text().splitlines()
        except OSError:
            return
        steps = []
        for line in lines:
            fields = line.split()
            if len(fields) >= 2 and not line.startswith("#") and self._taken_ns < int(fields[0]) <= now:
                steps.append((int(fields[0]), float(fields[1])))
        clock = self.now_ns
        for at_ns, level in sorted(steps):
            self.now_ns = lambda at_ns=at_ns: at_ns
            for index in range(len(self.gpus)):
                self.set_power(index, self._gain * level + self._offset_w)
            self._taken_ns = at_ns
        self.now_ns = clock

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        self._take_up_load()
        return super().nvmlDeviceGetTotalEnergyConsumption(handle)


_gpus = [FakeGpu(**spec) for spec in json.loads(os.environ.get("FAKE_NVML_GPUS", "[]"))]
_update_ns = int(os.environ.get("FAKE_NVML_UPDATE_NS", "20000000"))
if os.environ.get("FAKE_NVML_FOLLOW"):
    _fake = _FollowingNvml(
        _gpus,
        update_ns=_update_ns,
        follow=os.environ["FAKE_NVML_FOLLOW"],
        gain=float(os.environ.get("FAKE_NVML_GAIN", "1")),
        offset_w=float(os.environ.get("FAKE_NVML_OFFSET", "0")),
    )
else:
    _fake = FakeNvml(_gpus, update_ns=_update_ns)
NVMLError = _fake.NVMLError
for _name in dir(_fake):
    if _name.startswith("nvml"):
        globals()[_name] = getattr(_fake, _name)
