"""Ground truth made to look like a session: the noise level ν, resampling to the session's frame
rate and noise added to reach the session's ν.

Noise level (Rupprecht et al. 2021, CASCADE): ν = median_t |ΔF/F_{t+1} − ΔF/F_t| /
sqrt(frame rate), in %·Hz^-1/2 (ΔF/F as a fraction, × 100). For white noise of SD σ
it is 100 · 0.6745 · √2 · σ / √fs, so the same ν means the same noise per second of
recording at any frame rate.

Time base: frame k is centred at start_time_s + k / fs and integrates the signal
over its exposure [centre − ½/fs, centre + ½/fs) (see calcium.evaluation.scoring).
"""

from __future__ import annotations

import numpy as np

# median |N(0, 2)| = 0.6745 * sqrt(2): the ν of unit-SD white noise at 1 Hz, in fractions.
_MEDIAN_ABS_DIFF_PER_SD = 0.6744897501960817 * np.sqrt(2.0)


def noise_level_nu(traces: np.ndarray, frame_rate_hz: float) -> np.ndarray:
    """CASCADE's standardised noise ν of each row of ΔF/F `traces` (fraction), in %·Hz^-1/2.

    ν = 100 · median_t |y_{t+1} − y_t| / sqrt(frame_rate_hz), ignoring NaN.
    traces: (neurons, frames) or (frames,). Returns (neurons,) or a float.
    """
    traces = np.asarray(traces, dtype=float)
    return 100.0 * np.nanmedian(np.abs(np.diff(traces, axis=-1)), axis=-1) / np.sqrt(frame_rate_hz)


def white_noise_sd_for_nu(nu: float, frame_rate_hz: float) -> float:
    """SD per frame (ΔF/F) of white Gaussian noise whose ν is `nu` (%·Hz^-1/2) at frame_rate_hz."""
    return nu / 100.0 * np.sqrt(frame_rate_hz) / _MEDIAN_ABS_DIFF_PER_SD


def resample_traces(
    traces: np.ndarray, frame_rate_hz: float, new_rate_hz: float, start_time_s: float = 0.0
) -> tuple[np.ndarray, float]:
    """Traces as a recording at new_rate_hz of the same neurons would have given them.

    Model: input frame k is the mean of the signal over its exposure, centred at
    start_time_s + k / frame_rate_hz.
    - Slower (new_rate_hz < frame_rate_hz): each new frame is the mean of the input
      over the new frame's own exposure (1 / new_rate_hz long), input frames that the
      exposure only partly covers weighted by the overlap: what a slower scan would
      integrate, and a box anti-aliasing filter before decimation. New frames are
      centred at new_start + j / new_rate_hz, new_start = the input's first exposure
      start + half a new frame, and lie wholly inside the input's imaged span.
    - Faster: linear interpolation between input frame centres, from start_time_s to
      the last centre (no information is added; the noise becomes correlated).
    - Equal rates: a copy.
    Spike times need no change: they stay on the same clock.
    traces: (neurons, frames) or (frames,) in any units. Returns (resampled float64
    array of the same rank, start time in seconds of its frame 0).
    """
    traces = np.asarray(traces, dtype=float)
    if frame_rate_hz <= 0 or new_rate_hz <= 0:
        raise ValueError("frame rates must be > 0")
    n_frames = traces.shape[-1]
    if np.isclose(new_rate_hz, frame_rate_hz, rtol=1e-9, atol=0):
        return traces.copy(), float(start_time_s)
    if new_rate_hz > frame_rate_hz:
        span_s = (n_frames - 1) / frame_rate_hz
        n_new = int(np.floor(span_s * new_rate_hz + 1e-9)) + 1
        position = np.arange(n_new) * (frame_rate_hz / new_rate_hz)  # in input frames
        left = np.minimum(np.floor(position).astype(np.int64), n_frames - 1)
        right = np.minimum(left + 1, n_frames - 1)
        weight = position - left
        return traces[..., left] * (1 - weight) + traces[..., right] * weight, float(start_time_s)
    ratio = frame_rate_hz / new_rate_hz  # input frames per new frame (> 1)
    n_new = int(np.floor(n_frames / ratio + 1e-9))
    if n_new < 1:
        raise ValueError(f"a {n_frames}-frame trace is shorter than one frame at {new_rate_hz} Hz")
    edges = np.clip(np.arange(n_new + 1) * ratio, 0, n_frames)  # exposure edges, in input frames
    frame = np.minimum(np.floor(edges).astype(np.int64), n_frames - 1)
    cumulative = np.concatenate([np.zeros(traces.shape[:-1] + (1,)), np.cumsum(traces, axis=-1)], axis=-1)
    at_edges = cumulative[..., frame] + (edges - frame) * traces[..., frame]
    first_exposure_s = start_time_s - 0.5 / frame_rate_hz
    return np.diff(at_edges, axis=-1) / ratio, float(first_exposure_s + 0.5 / new_rate_hz)


def match_noise_level(
    traces: np.ndarray,
    frame_rate_hz: float,
    target_nu: float | np.ndarray,
    rng: np.random.Generator,
    shot_noise: bool = True,
    n_iterations: int = 40,
) -> tuple[np.ndarray, np.ndarray]:
    """Add Gaussian noise to each row of ΔF/F `traces` until its ν equals target_nu.

    Model: y + a · w_t · n_t with n_t ~ N(0, 1) white, w_t = sqrt(|1 + y_t|) divided by
    its median (shot noise grows with brightness; CASCADE's choice) or 1 if
    shot_noise is False, and the per-row scale a found by bisection on one fixed draw
    so that ν(y + a·w·n) = target (to within 0.1 %). Noise can only be added: rows
    already noisier than their target are returned unchanged.
    traces: (neurons, frames) ΔF/F (fraction). target_nu: %·Hz^-1/2, scalar or per row.
    rng: numpy Generator (the only source of randomness).
    Returns (noisy traces float64, matched (neurons,) bool: False where the row's own
    ν was already above the target).
    """
    traces = np.atleast_2d(np.asarray(traces, dtype=float))
    target = np.broadcast_to(np.asarray(target_nu, dtype=float), traces.shape[:1]).copy()
    own = noise_level_nu(traces, frame_rate_hz)
    matched = own <= target
    draw = rng.standard_normal(traces.shape)
    if shot_noise:
        weight = np.sqrt(np.abs(1.0 + traces))
        weight /= np.maximum(np.median(weight, axis=1, keepdims=True), 1e-12)
        draw *= weight
    low = np.zeros(traces.shape[0])
    high = np.full(traces.shape[0], 4.0 * white_noise_sd_for_nu(1.0, frame_rate_hz)) * np.maximum(
        target, 1e-6
    )
    # Make sure `high` overshoots (rare with the 4x start).
    for _ in range(20):
        too_low = noise_level_nu(traces + high[:, None] * draw, frame_rate_hz) < target
        if not np.any(too_low & matched):
            break
        high = np.where(too_low, 2 * high, high)
    for _ in range(n_iterations):
        middle = 0.5 * (low + high)
        above = noise_level_nu(traces + middle[:, None] * draw, frame_rate_hz) > target
        high = np.where(above, middle, high)
        low = np.where(above, low, middle)
    scale = np.where(matched, 0.5 * (low + high), 0.0)
    return traces + scale[:, None] * draw, matched
