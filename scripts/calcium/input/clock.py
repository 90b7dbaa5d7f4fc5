"""Frame times (a CSV's time column, an NWB series' timestamps) against one constant rate: the
workflow places frame k at start + k / rate, so stamps that no single rate describes are refused
by the readers, naming where."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

# Frames averaged on each side of a frame to tell a lasting shift of the clock (a dropped frame, a
# pause) from jitter and rounding of single stamps; shorter recordings get a quarter of their
# frames, and none below MIN_WINDOW (their single steps are judged).
JUMP_WINDOW = 64
MIN_WINDOW = 16


class ClockFit(NamedTuple):
    """rate_hz: the least-squares constant rate; drift_s: each stamp's distance from it (s);
    break_at: the first frame after a dropped frame or a pause (a step beyond what jitter and
    rounding give, or a lasting shift of more than half a frame; after a frame too many: the
    shortest step there), or None."""

    rate_hz: float
    drift_s: np.ndarray
    break_at: int | None


def resolution_s(times_s: np.ndarray) -> float:
    """The stamps' rounding: 10**-d for the fewest decimals d (0-9) that write every stamp (s);
    float64 keeps ~16 digits, so stamps such as Unix seconds (1.7e9) are judged at that precision."""
    for decimals in range(10):
        scaled = times_s * 10.0**decimals
        tolerance = 1e-6 + 16 * np.finfo(np.float64).eps * np.abs(scaled)
        if np.all(np.abs(scaled - np.round(scaled)) <= tolerance):
            return 10.0**-decimals
    return 0.0


def fit_clock(times_s: np.ndarray) -> ClockFit:
    """Fit one constant rate to increasing stamps (s) and find a dropped frame or a pause.

    - A single step longer than 1.5 frames, or than 1 frame plus 6 robust SDs of the steps (jitter),
      plus the stamps' rounding (`resolution_s`): judged only where the rounding is under half a
      frame (coarser stamps step by 1 or 2 of their units as a matter of course).
    - A lasting shift: one frame dropped mid-recording moves every later stamp by a frame, but the
      fitted rate absorbs half of it (no stamp strays by more than half a frame from the fit). The
      mean distance from the fit over `JUMP_WINDOW` frames after a frame against that over the frames
      before it shows the shift whole, while jitter and rounding average out (Gaussian jitter of 10 %
      of a frame: 0.02 frame). Frames dropped regularly (one in 50) are found by their steps."""
    times_s = np.asarray(times_s, dtype=np.float64)
    frames = np.arange(times_s.size, dtype=np.float64)
    slope, intercept = np.polyfit(frames, times_s, 1)
    drift = times_s - (intercept + slope * frames)
    steps = np.diff(times_s) / slope  # frames
    rounding = resolution_s(times_s) / slope
    if steps.size and rounding < 0.5:
        spread = 1.4826 * np.median(np.abs(steps - np.median(steps)))
        long = np.flatnonzero(steps > max(1.5, 1.0 + 6.0 * spread) + rounding)
        if long.size:
            return ClockFit(float(1.0 / slope), np.abs(drift), int(long[0]) + 1)
    window = min(JUMP_WINDOW, times_s.size // 4)
    if window >= MIN_WINDOW:
        sums = np.concatenate([[0.0], np.cumsum(drift)])
        after = np.arange(window, times_s.size - window + 1)
        shift = ((sums[after + window] - sums[after]) - (sums[after] - sums[after - window])) / window / slope
        best = int(np.argmax(np.abs(shift)))
        if abs(shift[best]) > 0.5:
            k = int(after[best])
            near = np.arange(max(1, k - window), min(times_s.size, k + window + 1))
            # the step there that is most unlike one frame: the longest (a drop) or shortest (one too many)
            at = near[np.argmax(steps[near - 1])] if shift[best] > 0 else near[np.argmin(steps[near - 1])]
            return ClockFit(float(1.0 / slope), np.abs(drift), int(at))
    return ClockFit(float(1.0 / slope), np.abs(drift), None)
