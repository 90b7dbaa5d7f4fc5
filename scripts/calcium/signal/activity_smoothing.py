"""Activity, the spike-rate estimate: OASIS's spike amplitudes moved earlier by the timing
correction and smoothed by a Gaussian (one setting for all neurons, or one per neuron).
"""

from __future__ import annotations

import numpy as np


def smooth_activity(
    spikes: np.ndarray, frame_rate_hz: float, smoothing_s: float = 0.05, lag_s: float = 0.0
) -> np.ndarray:
    """Spike-rate estimate: each row of s moved lag_s seconds earlier and smoothed by a Gaussian.

    activity_t = sum_k s_k · G(t − k + lag_s·fs), G a Gaussian of SD smoothing_s·fs
    frames normalised to sum 1 (for SD below 0.3 frames, linear interpolation
    between the two frames around the shifted position). Keeps the sum of s (a
    count-like quantity) and spreads it over the timing uncertainty of
    deconvolution; lag_s > 0 corrects inferred spikes that come lag_s seconds after
    the true ones (see `kinetic_lag_s`). smoothing_s = lag_s = 0 returns s unchanged.
    spikes: (neurons, frames); frame_rate_hz in Hz; smoothing_s, lag_s in seconds.
    Returns float32 (neurons, frames).
    """
    spikes = np.asarray(spikes, dtype=np.float32)
    if smoothing_s < 0:
        raise ValueError("smoothing_s must be >= 0")
    shift = -float(lag_s) * frame_rate_hz  # frames; negative = earlier
    sd = float(smoothing_s) * frame_rate_hz
    if sd == 0 and shift == 0:
        return spikes.copy()
    if shift == 0:
        from scipy.ndimage import gaussian_filter1d

        return gaussian_filter1d(spikes, sigma=sd, axis=1, mode="constant").astype(np.float32)
    half = int(np.ceil(abs(shift) + 4 * sd + 2))
    offsets = np.arange(-half, half + 1)
    if sd >= 0.3:
        weights = np.exp(-0.5 * ((offsets - shift) / sd) ** 2)
    else:
        weights = np.maximum(0.0, 1.0 - np.abs(offsets - shift))
    weights /= weights.sum()
    from scipy.ndimage import convolve1d

    return convolve1d(spikes, weights.astype(np.float32), axis=1, mode="constant").astype(np.float32)


def smooth_activity_per_neuron(
    spikes: np.ndarray, frame_rate_hz: float, smoothing_s: np.ndarray, lag_s: np.ndarray
) -> np.ndarray:
    """`smooth_activity` with one smoothing and lag per row (rows sharing values together)."""
    spikes = np.asarray(spikes, dtype=np.float32)
    out = np.empty(spikes.shape, dtype=np.float32)
    pairs = np.stack([np.asarray(smoothing_s, float), np.asarray(lag_s, float)], axis=1)
    unique, index = np.unique(pairs, axis=0, return_inverse=True)
    for i, (smoothing, lag) in enumerate(unique):
        rows = np.flatnonzero(index.ravel() == i)
        out[rows] = smooth_activity(spikes[rows], frame_rate_hz, smoothing, lag)
    return out
