"""Calcium response kernels: the fluorescence transient evoked by one spike."""

from __future__ import annotations

import numpy as np
from scipy.signal import windows

KERNEL_SHAPES = ("boxcar", "triangular", "exponential", "double_exponential")


def calcium_kernel(
    shape: str,
    frame_rate_hz: float,
    tau_decay_s: float = 1.25,
    tau_rise_s: float = 0.1,
    width_s: float | None = None,
    normalize: str = "peak",
    first_sample_frames: float = 0.0,
) -> np.ndarray:
    """Response of the indicator to one spike, sampled at `frame_rate_hz`.

    shape: "boxcar" or "triangular" (flat or triangular window of width_s
        seconds), "exponential" (exp(-t/tau_decay_s)), or "double_exponential"
        (exp(-t/tau_decay_s) − exp(-t/tau_rise_s)).
    width_s: kernel length in seconds (default: 5 · tau_decay_s for the
        exponentials, tau_decay_s for the windows).
    normalize: "peak" (maximum 1: amplitudes are ΔF/F per spike) or "sum"
        (area 1, as in the spike-inference tutorial).
    first_sample_frames: time of the first sample after the spike, in frames
        (0: at the spike, where a double exponential is still 0; 0.5: mid-frame,
        as for a spike at a random time within its frame).
    """
    if width_s is None:
        width_s = 5 * tau_decay_s if "exponential" in shape else tau_decay_s
    n = max(1, int(round(width_s * frame_rate_hz)))
    t = (np.arange(n) + first_sample_frames) / frame_rate_hz
    if shape == "boxcar":
        kernel = windows.boxcar(n)
    elif shape == "triangular":
        kernel = windows.triang(n)
    elif shape == "exponential":
        kernel = np.exp(-t / tau_decay_s)
    elif shape == "double_exponential":
        kernel = np.exp(-t / tau_decay_s) - np.exp(-t / tau_rise_s)
    else:
        raise ValueError(f"unknown kernel shape {shape!r}; choose one of {KERNEL_SHAPES}")
    if normalize == "peak":
        return kernel / kernel.max()
    if normalize == "sum":
        return kernel / kernel.sum()
    raise ValueError("normalize must be 'peak' or 'sum'")
