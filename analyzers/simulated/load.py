"""The load: the total true power the system under test draws, as a function of time.

The level follows a list of steps. A step at `at_ns` moves the level to `watts`, at once
(`ramp_s = 0`) or linearly over `ramp_s` seconds starting from wherever the level was at `at_ns`.
Before the first step the system idles. Steps come from the measurement's scripted profile or from
the load control; a control step cancels scripted steps at or after it, so once a workload drives the
load, the script no longer interferes.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LoadStep:
    """Move the total load to `watts` starting at `at_ns` (UTC epoch ns), over `ramp_s` seconds."""

    at_ns: int
    watts: float
    ramp_s: float = 0.0


class LoadSchedule:
    """Steps in time order, evaluated vectorised for any array of timestamps."""

    def __init__(self, idle_w: float) -> None:
        self.idle_w = idle_w
        self._steps: list[LoadStep] = []
        self._scripted: list[bool] = []
        self._refresh()

    @property
    def steps(self) -> tuple[LoadStep, ...]:
        return tuple(self._steps)

    def add(self, step: LoadStep, scripted: bool = False) -> None:
        if not scripted:
            keep = [i for i, s in enumerate(self._steps) if not (self._scripted[i] and s.at_ns >= step.at_ns)]
            self._steps = [self._steps[i] for i in keep]
            self._scripted = [self._scripted[i] for i in keep]
        # bisect_right keeps steps with equal times in arrival order: the later one wins.
        position = bisect.bisect_right([s.at_ns for s in self._steps], step.at_ns)
        self._steps.insert(position, step)
        self._scripted.insert(position, scripted)
        self._refresh()

    def clear_scripted(self) -> None:
        keep = [i for i, scripted in enumerate(self._scripted) if not scripted]
        self._steps = [self._steps[i] for i in keep]
        self._scripted = [False] * len(keep)
        self._refresh()

    def _refresh(self) -> None:
        n = len(self._steps)
        self._at = np.array([s.at_ns for s in self._steps], dtype=np.int64)
        self._to = np.array([s.watts for s in self._steps], dtype=np.float64)
        self._ramp_ns = np.array([round(s.ramp_s * 1e9) for s in self._steps], dtype=np.int64)
        # Each step starts from the level the previous one had reached at that moment (an
        # interrupted ramp continues from where it got to).
        self._from = np.empty(n, dtype=np.float64)
        level = self.idle_w
        for i in range(n):
            if i:
                level = float(self._segment(i - 1, np.array([self._at[i]], dtype=np.int64))[0])
            self._from[i] = level

    def _segment(self, i: int | np.ndarray, t_ns: np.ndarray) -> np.ndarray:
        ramp_ns = self._ramp_ns[i]
        elapsed = (t_ns - self._at[i]).astype(np.float64)
        fraction = np.where(ramp_ns > 0, np.clip(elapsed / np.maximum(ramp_ns, 1), 0.0, 1.0), 1.0)
        return self._from[i] + (self._to[i] - self._from[i]) * fraction

    def level_at(self, t_ns: np.ndarray) -> np.ndarray:
        """Total true power in W at each timestamp."""
        level = np.full(len(t_ns), self.idle_w, dtype=np.float64)
        if not len(self._steps):
            return level
        step = np.searchsorted(self._at, t_ns, side="right") - 1
        active = step >= 0
        level[active] = self._segment(step[active], t_ns[active])
        return level
