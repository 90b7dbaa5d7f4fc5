"""ΔF/F: fluorescence change relative to a robust resting baseline F0."""

from __future__ import annotations

import numpy as np

from calcium.errors import UserError
from calcium.signal.baseline import running_percentile


class BaselineError(UserError):
    """F0 is zero, negative or too small to divide by."""


def baseline_f0(
    fluorescence: np.ndarray,
    percentile: float = 25.0,
    window_s: float | None = None,
    frame_rate_hz: float | None = None,
) -> np.ndarray:
    """Resting fluorescence F0 of each neuron as a low percentile.

    fluorescence: (neurons, frames) raw fluorescence (arbitrary units).
    percentile: the percentile taken as rest (default 25, the lower quartile).
    window_s: if given, F0 is a running percentile over a sliding window of this
        many seconds (follows bleaching); if None, one F0 per neuron over the
        whole recording.
    frame_rate_hz: needed with window_s.
    Returns F0 with shape (neurons, 1) (global) or (neurons, frames) (sliding).
    """
    fluorescence = np.asarray(fluorescence, dtype=np.float32)
    if window_s is None:
        return np.percentile(fluorescence, percentile, axis=1, keepdims=True).astype(np.float32)
    if frame_rate_hz is None or frame_rate_hz <= 0:
        raise ValueError("frame_rate_hz must be positive for a sliding-window baseline")
    window_frames = max(1, int(round(window_s * frame_rate_hz)))
    return running_percentile(fluorescence, window_frames, percentile)


def delta_f_over_f(
    fluorescence: np.ndarray,
    f0: np.ndarray,
    min_f0: float = 1e-3,
    low_f0: str = "error",
    neuron_ids: np.ndarray | None = None,
) -> np.ndarray:
    """ΔF/F = (F − F0) / F0, unitless, per neuron and frame.

    fluorescence: (neurons, frames); f0: (neurons, 1) or (neurons, frames).
    min_f0: smallest F0 accepted (same units as F). Baseline-subtracted data can
        have F0 near or below 0, where ΔF/F is meaningless.
    low_f0: "error" raises BaselineError naming the neurons whose F0 falls below
        min_f0; "clip" raises such F0 values to min_f0 (ΔF/F stays finite but is
        large for those neurons: check them).
    neuron_ids: ids used in the error message (default 0..n-1).
    """
    fluorescence = np.asarray(fluorescence, dtype=np.float32)
    f0 = np.asarray(f0, dtype=np.float32)
    too_low = (f0 < min_f0).any(axis=1)
    if too_low.any():
        ids = np.arange(len(too_low)) if neuron_ids is None else np.asarray(neuron_ids)
        if low_f0 == "error":
            bad = ids[too_low]
            shown = ", ".join(str(i) for i in bad[:20]) + (" ..." if len(bad) > 20 else "")
            raise BaselineError(
                f"F0 (the baseline percentile) is below dff.min_f0={min_f0} for {len(bad)} "
                f"neuron(s) (ids counted from 0, as in the output tables): {shown}. ΔF/F needs a "
                "positive baseline: give raw (not background-subtracted) fluorescence, set "
                "input_kind to dff if the traces are ΔF/F already, or set dff.low_f0: clip in "
                "config.yaml."
            )
        if low_f0 != "clip":
            raise ValueError(f"low_f0 must be 'error' or 'clip', not {low_f0!r}")
        f0 = np.maximum(f0, np.float32(min_f0))
    return (fluorescence - f0) / f0
