"""How a candidate source responds to the power the reference sees: gain, offset, lag and averaging.

Model: candidate(t) = gain x (the reference's mean power over [t - lag - averaging, t - lag]) + offset.
A BMC that reports a one-minute average 30 s late has averaging 60 s and lag 30 s; NVML's energy
counter read each second has averaging 1 s (its own interval) and no lag. The reference's mean over
any span is exact from its cumulative energy (each sample is its interval's mean power), so the
model is evaluated at the candidate's own timestamps, with no resampling.

Lag and averaging are the pair that best explains the candidate: for each averaging width the lag
where the normalised cross-correlation of the candidate with the averaged reference peaks, on a
grid of the candidate's interval (at most 1 s), then refined on a grid 20 times finer around the
best pair. Gain and offset are the least-squares line at that pair,
refitted without the samples more than 5 robust sigmas (1.4826 x MAD) off the line; their 95 % intervals widen the ordinary ones by the residuals' serial correlation
(lag-1 autocorrelation r: n_eff = n (1 - r) / (1 + r)). The lag and averaging intervals are the pairs
whose residual is within the same 95 % margin of the best one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from analyzers.formats.units import NS_PER_S
from analyzers.trace import SAMPLE_OK, Trace
from rules.calibration.conditions import sample_intervals_ns

Z95 = 1.959964
COARSE_STEP_S = 1.0
MIN_AVERAGING_S = 0.01
OUTLIER_SIGMAS = 5.0


class ResponseFitError(ValueError):
    """Too little overlap or variation to fit; the message says which."""


@dataclass(frozen=True)
class Response:
    gain: float
    gain_ci: tuple[float, float]
    offset_w: float
    offset_ci: tuple[float, float]
    lag_s: float
    lag_ci: tuple[float, float]
    averaging_s: float
    averaging_ci: tuple[float, float]
    residual_w: float  # RMS of candidate - model, per sample
    samples: int
    set_aside: int  # samples left out of the gain and offset as outliers (more than 5 sigma off)
    effective_samples: float

    def correct(self, watts: np.ndarray) -> np.ndarray:
        """The candidate's watts on the reference's scale."""
        return (watts - self.offset_w) / self.gain


def _good(trace: Trace) -> tuple[np.ndarray, np.ndarray]:
    keep = (trace.flags == SAMPLE_OK) & np.isfinite(trace.watts)
    return trace.time_ns[keep], trace.watts[keep]


def cumulative_energy(reference: Trace) -> tuple[np.ndarray, np.ndarray, int]:
    """(time in s from `origin`, J so far, `origin` in UTC ns): the reference's energy curve, linear
    inside each sample. A flagged sample is bridged by its neighbours' line."""
    interval = sample_intervals_ns(reference.time_ns)
    t, w = _good(reference)
    if len(t) < 2:
        raise ResponseFitError("the reference has fewer than 2 good samples")
    steps = np.diff(t, prepend=t[0] - interval[0]).astype(np.float64) / NS_PER_S
    origin = int(t[0]) - int(interval[0])
    times = np.concatenate(([0.0], (t - origin) / NS_PER_S))
    return times, np.concatenate(([0.0], np.cumsum(w * steps))), origin


def averaged_reference(
    times: np.ndarray, energy: np.ndarray, at_s: np.ndarray, lag_s: float, widths: np.ndarray
) -> np.ndarray:
    """Rows: the reference's mean power over [at - lag - width, at - lag] for each width."""
    ends = np.interp(at_s - lag_s, times, energy)
    starts = np.interp(at_s[None, :] - lag_s - widths[:, None], times, energy)
    return (ends[None, :] - starts) / widths[:, None]


def _fit_quality(rows: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Residual sum of squares of the best line y = a x + b for each row x."""
    x = rows - rows.mean(axis=1, keepdims=True)
    yc = y - y.mean()
    sxx = np.einsum("ij,ij->i", x, x)
    sxy = x @ yc
    syy = float(yc @ yc)
    with np.errstate(divide="ignore", invalid="ignore"):
        rss = syy - np.where(sxx > 0, sxy * sxy / sxx, 0.0)
    return np.where(sxx > 0, rss, np.inf)


def fit_response(
    reference: Trace, candidate: Trace, max_lag_s: float = 120.0, max_averaging_s: float = 180.0
) -> Response:
    times, energy, origin = cumulative_energy(reference)
    ct, cw = _good(candidate)
    at = (ct - origin) / NS_PER_S
    usable = (at - max_lag_s - max_averaging_s >= times[0]) & (at <= times[-1])
    if usable.sum() < len(at) / 2:
        # A recording shorter than the full search: search the lags and widths that leave 3/4 of it.
        inside = (at > times[0]) & (at <= times[-1])
        span = float(at[inside].max() - at[inside].min()) if inside.sum() > 1 else 0.0
        max_lag_s = min(max_lag_s, span / 8)
        max_averaging_s = min(max_averaging_s, span / 8)
        usable = inside & (at - max_lag_s - max_averaging_s >= times[0])
    at, y = at[usable], cw[usable]
    if len(y) < 20:
        raise ResponseFitError(
            f"only {len(y)} candidate samples overlap the reference after the search margin"
        )
    if float(np.std(y)) == 0.0:
        raise ResponseFitError("the candidate's readings never change: no response to fit")

    # The coarse grid steps by the candidate's own interval (at most 1 s), the fine one by 1/20 of it.
    coarse_s = min(COARSE_STEP_S, float(np.median(np.diff(at)))) if len(at) > 1 else COARSE_STEP_S
    fine_s = coarse_s / 20
    lags = np.arange(0.0, max_lag_s + 1e-9, coarse_s)
    widths = np.arange(coarse_s, max_averaging_s + 1e-9, coarse_s)
    widths = np.concatenate(([MIN_AVERAGING_S], widths))
    coarse = np.vstack([_fit_quality(averaged_reference(times, energy, at, lag, widths), y) for lag in lags])
    i, j = np.unravel_index(int(np.argmin(coarse)), coarse.shape)
    fine_lags = np.clip(np.arange(lags[i] - coarse_s, lags[i] + coarse_s + 1e-9, fine_s), 0.0, max_lag_s)
    fine_widths = np.clip(
        np.arange(widths[j] - coarse_s, widths[j] + coarse_s + 1e-9, fine_s), MIN_AVERAGING_S, None
    )
    fine_lags, fine_widths = np.unique(fine_lags), np.unique(fine_widths)
    fine = np.vstack(
        [_fit_quality(averaged_reference(times, energy, at, lag, fine_widths), y) for lag in fine_lags]
    )
    fi, fj = np.unravel_index(int(np.argmin(fine)), fine.shape)
    lag, width = float(fine_lags[fi]), float(fine_widths[fj])

    x = averaged_reference(times, energy, at, lag, np.array([width]))[0]
    design = np.column_stack([x, np.ones_like(x)])
    kept = np.ones(len(y), dtype=bool)
    for _ in range(3):
        (gain, offset), *_ = np.linalg.lstsq(design[kept], y[kept], rcond=None)
        everywhere = y - design @ np.array([gain, offset])
        # Samples straddling a load step where the two meters' sample edges differ by a fraction of
        # an interval miss by hundreds of watts; they would pull the line, so they are set aside.
        sigma = 1.4826 * float(np.median(np.abs(everywhere[kept] - np.median(everywhere[kept]))))
        now_kept = np.abs(everywhere) <= OUTLIER_SIGMAS * sigma if sigma > 0 else kept
        if np.array_equal(now_kept, kept) or now_kept.sum() < len(y) / 2:
            break
        kept = now_kept
    design, y = design[kept], y[kept]
    residual = y - design @ np.array([gain, offset])
    n = len(y)
    r1 = float(np.corrcoef(residual[:-1], residual[1:])[0, 1]) if n > 3 and residual.std() > 0 else 0.0
    r1 = min(max(r1, 0.0), 0.99)
    n_eff = max(n * (1 - r1) / (1 + r1), 3.0)
    sigma2 = float(residual @ residual) / max(n - 2, 1)
    covariance = np.linalg.inv(design.T @ design) * sigma2 * n / n_eff
    gain_half = Z95 * math.sqrt(covariance[0, 0])
    offset_half = Z95 * math.sqrt(covariance[1, 1])

    accepted = fine <= fine[fi, fj] * (1 + Z95**2 / n_eff)
    rows, cols = np.nonzero(accepted)
    return Response(
        gain=float(gain),
        gain_ci=(float(gain - gain_half), float(gain + gain_half)),
        offset_w=float(offset),
        offset_ci=(float(offset - offset_half), float(offset + offset_half)),
        lag_s=lag,
        lag_ci=(float(fine_lags[rows].min()), float(fine_lags[rows].max())),
        averaging_s=width,
        averaging_ci=(float(fine_widths[cols].min()), float(fine_widths[cols].max())),
        residual_w=float(math.sqrt(float(residual @ residual) / n)),
        samples=n,
        set_aside=int(len(kept) - kept.sum()),
        effective_samples=float(n_eff),
    )
