"""The simulated meter (`--driver simulated`): deterministic, seeded, with exact ground truth.

One room per concern: `clock` (clocks and the sample grid), `load` (the load level over time),
`electrical` (channels, volts, amps, power factor, noise), `noise` (counter-based noise), `ranges`
(WT310 ranges, over-range, uncertainty), `control` (the load-control file), `truth` (ground truth),
`config` (what is simulated) and `meter` (the `Analyzer` tying them together).
"""

from analyzers.simulated.clock import Clock, SampleGrid, VirtualClock, WallClock
from analyzers.simulated.config import ProfileStep, SimulatorConfig
from analyzers.simulated.control import ENV_CONTROL, append_load_step
from analyzers.simulated.errors import SimulatorSettingError
from analyzers.simulated.load import LoadStep
from analyzers.simulated.meter import ENV_TRUTH, SimulatedAnalyzer
from analyzers.simulated.ranges import WT310, RangeModel
from analyzers.simulated.truth import GroundTruth

__all__ = [
    "ENV_CONTROL",
    "ENV_TRUTH",
    "WT310",
    "Clock",
    "GroundTruth",
    "LoadStep",
    "ProfileStep",
    "RangeModel",
    "SampleGrid",
    "SimulatedAnalyzer",
    "SimulatorConfig",
    "SimulatorSettingError",
    "VirtualClock",
    "WallClock",
    "append_load_step",
]
