"""Removal of slow drifts (optics, bleaching, z-motion) that keeps calcium transients."""

from __future__ import annotations

import numpy as np

from calcium.errors import ConfigError
from calcium.signal.baseline import running_percentile

DETREND_METHODS = ("percentile", "highpass", "none")


def slow_trend(
    traces: np.ndarray,
    frame_rate_hz: float,
    slow_drift_s: float = 20.0,
    percentile: float = 10.0,
) -> np.ndarray:
    """Lower envelope of each trace: its running `percentile` over `slow_drift_s` seconds.

    Transients push a trace up for a few seconds at most, so a low percentile
    over a window longer than a transient ignores them and follows only
    fluctuations slower than the window.
    Returns an array like `traces` in the units of `traces`.
    """
    window_frames = max(1, int(round(slow_drift_s * frame_rate_hz)))
    return running_percentile(traces, window_frames, percentile)


def detrend(
    traces: np.ndarray,
    frame_rate_hz: float,
    method: str = "percentile",
    slow_drift_s: float = 20.0,
    percentile: float = 10.0,
    highpass_order: int = 2,
) -> np.ndarray:
    """Remove fluctuations slower than `slow_drift_s` seconds from each row of `traces`.

    traces: (neurons, frames), e.g. ΔF/F (unitless).
    frame_rate_hz: sampling rate in Hz.
    method:
        "percentile" (default): subtract the running low percentile
            (see `slow_trend`); the resting level becomes ≈ 0 (slightly above,
            by the chosen percentile of the noise) and transients are untouched.
        "highpass": zero-phase Butterworth high-pass (sosfiltfilt) with cut-off
            1/slow_drift_s Hz; removes the mean as well, and can leave a small
            undershoot after long transients.
        "none": return the traces unchanged.
    Returns float32 (neurons, frames), same units as `traces`.
    """
    traces = np.asarray(traces, dtype=np.float32)
    if method == "none":
        return traces.copy()
    if method == "percentile":
        return traces - slow_trend(traces, frame_rate_hz, slow_drift_s, percentile)
    if method == "highpass":
        from scipy.signal import butter, sosfiltfilt  # imported here: the default method needs no scipy

        cutoff_hz = 1.0 / slow_drift_s
        nyquist_hz = frame_rate_hz / 2.0
        if cutoff_hz >= nyquist_hz:
            raise ConfigError(
                f"detrend.slow_drift_s={slow_drift_s} s is too short for a {frame_rate_hz} Hz "
                "recording (cut-off at or above Nyquist)"
            )
        sos = butter(highpass_order, cutoff_hz, btype="highpass", fs=frame_rate_hz, output="sos")
        padlen = min(traces.shape[1] - 1, 3 * int(round(slow_drift_s * frame_rate_hz)))
        return sosfiltfilt(sos, traces, axis=1, padlen=padlen).astype(np.float32)
    raise ValueError(f"unknown detrend method {method!r}; choose one of {DETREND_METHODS}")
