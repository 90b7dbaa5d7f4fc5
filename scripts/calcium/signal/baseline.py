"""Running low-percentile baselines, vectorised across neurons.

A running percentile over a long window follows slow changes of a trace
(bleaching, drift) while ignoring short transients, which only ever push the
trace up. Computing it exactly at every frame costs O(window) per sample, so it
is evaluated on a grid of window centres spaced `window / 4` apart and linearly
interpolated in between; a slow trend (slower than the window) is unaffected by
that approximation.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

# Median absolute deviation of standard normal samples: Φ⁻¹(0.75) = 0.6745.
_NORMAL_MAD = NormalDist().inv_cdf(0.75)

# Windows hold at most this many samples per block of neurons (bounds memory).
_BLOCK_SAMPLES = 2**24


def robust_sd(traces: np.ndarray, center: np.ndarray | None = None) -> np.ndarray:
    """Robust SD of each row: median |x − center| / Φ⁻¹(0.75) (1.4826 · MAD).

    traces: (rows, frames), any units (the SD is in the same units).
    center: (rows,) values the deviations are taken from; None = each row's median.
    The SD of Gaussian noise, barely moved by the transients riding on it. Equal to
    scipy.stats.median_abs_deviation(..., scale="normal"), without scipy.stats' ~1 s
    import in every job that needs it.
    Returns (rows,) float64.
    """
    traces = np.asarray(traces, dtype=np.float64)
    if center is None:
        center = np.median(traces, axis=-1)
    deviation = np.abs(traces - np.asarray(center, dtype=np.float64)[..., None])
    return np.median(deviation, axis=-1) / _NORMAL_MAD


def running_percentile(
    traces: np.ndarray, window_frames: int, percentile: float, grid_step_frames: int | None = None
) -> np.ndarray:
    """Running `percentile` of each row of `traces` over `window_frames` frames.

    traces: (neurons, frames) array.
    window_frames: length of the window in frames (>= 1); a window longer than the
        recording gives each neuron's percentile over the whole recording.
    percentile: in [0, 100].
    grid_step_frames: spacing of the window centres where the percentile is
        evaluated exactly (default window_frames // 4, at least 1).
    Returns an array like `traces` (float32) holding the baseline at every frame.
    """
    traces = np.asarray(traces, dtype=np.float32)
    if traces.ndim != 2:
        raise ValueError("traces must be 2-D (neurons, frames)")
    n_neurons, n_frames = traces.shape
    window = int(max(1, min(window_frames, n_frames)))
    if window >= n_frames:
        level = np.percentile(traces, percentile, axis=1, keepdims=True)
        return np.broadcast_to(level, traces.shape).astype(np.float32)
    step = int(grid_step_frames or max(1, window // 4))
    starts = np.arange(0, n_frames - window + 1, step)
    if starts[-1] != n_frames - window:
        starts = np.append(starts, n_frames - window)
    centres = starts + (window - 1) / 2.0
    windows = sliding_window_view(traces, window, axis=1)  # view: (neurons, n_frames-window+1, window)
    per_block = max(1, _BLOCK_SAMPLES // (len(starts) * window))
    grid = np.empty((n_neurons, len(starts)), dtype=np.float32)
    for first in range(0, n_neurons, per_block):
        block = windows[first : first + per_block, starts]
        grid[first : first + per_block] = np.percentile(block, percentile, axis=2)
    # Linear interpolation between grid centres, held constant beyond the ends.
    frames = np.arange(n_frames, dtype=np.float64)
    position = np.clip(np.searchsorted(centres, frames, side="right") - 1, 0, len(centres) - 1)
    nxt = np.minimum(position + 1, len(centres) - 1)
    span = centres[nxt] - centres[position]
    weight = np.where(span > 0, (frames - centres[position]) / np.where(span > 0, span, 1), 0.0)
    weight = np.clip(weight, 0.0, 1.0).astype(np.float32)
    return grid[:, position] * (1 - weight) + grid[:, nxt] * weight
