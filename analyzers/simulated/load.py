"""The load: the total true power the system under test draws, as a function of time.

The level follows a list of steps. A step at `at_ns` moves the level to `watts`, at once
(`ramp_s = 0`) or linearly over `ramp_s` seconds starting from wherever the level was at `at_ns`.
Before the first step the system idles. Steps come from the measurement's scripted profile or from
the load control; a control step cancels scripted steps at or after it, so once a workload drives the
load, the script no longer interferes.
"""

from __future__ import annotations

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
        self._at = np.empty(0, dtype=np.int64)
        self._to = np.empty(0, dtype=np.float64)
        self._ramp_ns = np.empty(0, dtype=np.int64)
        self._from = np.empty(0, dtype=np.float64)

    @property
    def steps(self) -> tuple[LoadStep, ...]:
        return tuple(self._steps)

    def add(self, step: LoadStep, scripted: bool = False) -> None:
        pruned = False
        if not scripted and any(self._scripted):
            keep = [i for i, s in enumerate(self._steps) if not (self._scripted[i] and s.at_ns >= step.at_ns)]
            pruned = len(keep) < len(self._steps)
            self._steps = [self._steps[i] for i in keep]
            self._scripted = [self._scripted[i] for i in keep]
            if pruned:
                self._refresh()
        # Right of equal times keeps steps in arrival order: the later one wins.
        position = int(np.searchsorted(self._at, step.at_ns, side="right"))
        self._steps.insert(position, step)
        self._scripted.insert(position, scripted)
        if position == len(self._steps) - 1:
            self._append_last()  # a workload driving the load adds at the end: no full refresh
        else:
            self._refresh()

    def _append_last(self) -> None:
        step = self._steps[-1]
        n = len(self._steps)
        level = (
            self.idle_w if n == 1 else float(self._segment(n - 2, np.array([step.at_ns], dtype=np.int64))[0])
        )
        self._at = np.append(self._at, np.int64(step.at_ns))
        self._to = np.append(self._to, step.watts)
        self._ramp_ns = np.append(self._ramp_ns, np.int64(round(step.ramp_s * 1e9)))
        self._from = np.append(self._from, level)

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
