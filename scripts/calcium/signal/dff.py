"""ΔF/F: fluorescence change relative to a robust resting baseline F0."""

from __future__ import annotations

import numpy as np

from calcium.errors import UserError
from calcium.signal.baseline import robust_sd, running_percentile


class BaselineError(UserError):
    """F0 is zero, negative or too small to divide by."""


class ScaleError(UserError):
    """The traces are on another scale than the session's input_kind says."""


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


# A fractional ΔF/F rests near 0 and its frame-to-frame noise is a fraction of F0 (0.01-0.3 in
# practice). Raw fluorescence rests far above its noise. Beyond these, the traces are on another
# scale than the session sheet says, and every ΔF/F-unit number would be off by it (100x for
# percent) while spike and event counts look normal.
MAX_DFF_LEVEL = 5.0  # |median| of a ΔF/F trace: 500 % above F0
MAX_DFF_NOISE = 1.0  # robust frame-to-frame noise SD of a ΔF/F trace: 100 % of F0
MIN_RAW_SNR = 1.0  # F0 over the robust noise SD of raw fluorescence
# ΔF/F given resting this many noise SDs above 0 (and beyond MAX_DFF_LEVEL) is raw fluorescence;
# below it (percent ΔF/F with a low-percentile baseline rests 1-2 of its noise SDs up) it is not.
RAW_LEVEL_OVER_NOISE = 3.0
# Fewer neurons are not judged: a single odd ROI (CASCADE DS32's ΔF/F noise 3.4, resting at 17) is no scale.
MIN_NEURONS_JUDGED = 3


def robust_noise_sd(traces: np.ndarray) -> np.ndarray:
    """Per neuron, the noise SD from the frame-to-frame differences (`robust_sd` / sqrt 2:
    insensitive to transients and slow drift), (neurons,)."""
    steps = np.diff(np.asarray(traces, dtype=np.float32), axis=1)
    if steps.shape[1] == 0:
        return np.zeros(steps.shape[0])
    return robust_sd(steps) / np.sqrt(2.0)


def check_session_scale(
    traces,
    input_kind: str,
    low_f0: str = "error",
    trials: np.ndarray | None = None,
    max_neurons: int = 128,
    max_frames: int = 20_000,
) -> None:
    """Raise ScaleError when a session's traces ((neurons, frames), e.g. a memory-mapped .npy) are
    not on the scale `input_kind` says (`scale_mismatch`), judged once for the whole session on up
    to `max_neurons` neurons spread over it and its first `max_frames` frames inside `trials`
    ((trials, 2) first and one-past-last frame; None: all), so that the verdict does not depend on
    how the session is cut into blocks and memory stays bounded (128 x 20 000 float32: 10 MB).
    low_f0 "clip" accepts raw traces resting near 0 (background-subtracted): dff.low_f0 is the
    config's, so with it no raw session is checked for being ΔF/F already."""
    n_neurons, n_frames = traces.shape
    frames = np.arange(n_frames)
    if trials is not None and len(trials):
        frames = np.concatenate([np.arange(a, b) for a, b in trials])
    frames = frames[:max_frames]
    if n_neurons == 0 or frames.size == 0:
        return
    rows = np.unique(np.linspace(0, n_neurons - 1, min(n_neurons, max_neurons)).round().astype(int))
    sample = np.stack([np.asarray(traces[row][frames], dtype=np.float32) for row in rows])
    mismatch = scale_mismatch(sample, input_kind, low_f0)
    if mismatch is not None:
        raise ScaleError(
            f"input_kind {input_kind}: {mismatch} If the traces are on the scale input_kind says "
            "(e.g. very noisy ΔF/F), set scale_check: no for this session in the session sheet."
        )


def scale_mismatch(traces: np.ndarray, input_kind: str, low_f0: str = "error") -> str | None:
    """Why these traces (a block of a session's neurons, (neurons, frames)) are not on the scale
    `input_kind` says, or None. Judged on the neurons' medians (at least MIN_NEURONS_JUDGED
    neurons with finite traces), so that a few odd neurons do not decide: ΔF/F (input_kind dff)
    resting beyond MAX_DFF_LEVEL and RAW_LEVEL_OVER_NOISE noise SDs (raw fluorescence), or else
    noisier than MAX_DFF_NOISE (percent); raw fluorescence whose F0 (25th percentile) is not above
    MIN_RAW_SNR noise SDs (ΔF/F already), unless low_f0 is "clip" (background-subtracted F
    accepted with its F0 clipped)."""
    traces = np.asarray(traces, dtype=np.float32)
    finite = np.isfinite(traces).all(axis=1)
    traces = traces[finite]
    if traces.shape[1] < 10 or traces.shape[0] < MIN_NEURONS_JUDGED:
        return None
    noise = float(np.median(robust_noise_sd(traces)))
    if input_kind == "dff":
        level = float(np.median(np.abs(np.median(traces, axis=1))))
        if level > MAX_DFF_LEVEL and level > RAW_LEVEL_OVER_NOISE * noise:
            return (
                f"the traces rest at {level:.4g} (median), far above what ΔF/F (a fraction of F0) rests "
                "at, near 0: they look like raw fluorescence. Set input_kind: raw in the session sheet."
            )
        if noise > MAX_DFF_NOISE:
            raw = (
                f" If they are raw fluorescence (resting at {level:.4g}), set input_kind: raw."
                if level > MAX_DFF_LEVEL
                else ""
            )
            return (
                f"the traces' frame-to-frame noise is {noise:.4g} (median SD), more than F0 itself if "
                "they were ΔF/F as a fraction: they look like ΔF/F in percent. Divide them by 100 (the "
                "workflow takes ΔF/F as a fraction: 0.5 for 50 %)." + raw
            )
        return None
    f0 = float(np.median(np.percentile(traces, 25.0, axis=1)))
    if low_f0 != "clip" and noise > 0 and f0 < MIN_RAW_SNR * noise:
        return (
            f"the traces' baseline (25th percentile, median {f0:.4g}) is not above their noise SD "
            f"({noise:.4g}), where raw fluorescence rests far above its noise: they look like "
            "ΔF/F already (or background-subtracted). Set input_kind: dff in the session sheet if they "
            "are ΔF/F; give raw fluorescence otherwise (or set dff.low_f0: clip to accept "
            "background-subtracted traces)."
        )
    return None
