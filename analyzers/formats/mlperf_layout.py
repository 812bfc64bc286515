"""The names of an MLPerf power result folder's parts (PTD_AND_MLPERF_POWER.md §4).

```
power/   client.json client.log ptd_logs.txt server.json server.log
ranging/ mlperf_log_detail.txt mlperf_log_summary.txt spl.txt [mlperf_log_accuracy.json]
run_1/   mlperf_log_detail.txt mlperf_log_summary.txt spl.txt [mlperf_log_accuracy.json]
```

The submission checker compares these lists exactly, so every writer and reader takes the names
from here.
"""

from __future__ import annotations

POWER_DIR = "power"
RANGING_DIR = "ranging"
TESTING_DIR = "run_1"
PHASE_DIRS: dict[str, str] = {"ranging": RANGING_DIR, "testing": TESTING_DIR}
"""The folder of each phase (`Mode` of the director's API)."""

SAMPLE_LOG = "spl.txt"
DETAIL_LOG = "mlperf_log_detail.txt"
SUMMARY_LOG = "mlperf_log_summary.txt"
ACCURACY_LOG = "mlperf_log_accuracy.json"

CLIENT_JSON_NAME = "client.json"
CLIENT_LOG_NAME = "client.log"
CONSOLE_LOG_NAME = "ptd_logs.txt"
SERVER_JSON_NAME = "server.json"
SERVER_LOG_NAME = "server.log"

POWER_FILES = (CLIENT_JSON_NAME, CLIENT_LOG_NAME, CONSOLE_LOG_NAME, SERVER_JSON_NAME, SERVER_LOG_NAME)
RUN_FILES = (DETAIL_LOG, SUMMARY_LOG, SAMPLE_LOG)
OPTIONAL_RUN_FILES = (ACCURACY_LOG,)

CLIENT_JSON = f"{POWER_DIR}/{CLIENT_JSON_NAME}"
CLIENT_LOG = f"{POWER_DIR}/{CLIENT_LOG_NAME}"
CONSOLE_LOG = f"{POWER_DIR}/{CONSOLE_LOG_NAME}"
SERVER_JSON = f"{POWER_DIR}/{SERVER_JSON_NAME}"
SERVER_LOG = f"{POWER_DIR}/{SERVER_LOG_NAME}"
RANGING_SAMPLES = f"{RANGING_DIR}/{SAMPLE_LOG}"
TESTING_SAMPLES = f"{TESTING_DIR}/{SAMPLE_LOG}"
REQUIRED_PATHS = tuple(f"{POWER_DIR}/{name}" for name in POWER_FILES) + tuple(
    f"{run}/{name}" for run in (RANGING_DIR, TESTING_DIR) for name in RUN_FILES
)
