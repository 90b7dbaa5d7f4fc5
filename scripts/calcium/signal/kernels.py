"""Calcium response kernels: the fluorescence transient evoked by one spike."""

from __future__ import annotations

import numpy as np

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
    from scipy.signal import windows

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


def _unit_area_terms(shape: str, tau_decay_s: float, tau_rise_s: float) -> list[tuple[float, float]]:
    """The kernel as a weighted sum of exponentials exp(-t/tau): [(weight, tau)], unit area."""
    if shape == "exponential":
        return [(1.0 / tau_decay_s, tau_decay_s)]
    if shape == "double_exponential":
        if not tau_decay_s > tau_rise_s > 0:
            raise ValueError(
                f"a double exponential needs tau_decay_s > tau_rise_s > 0 (got {tau_decay_s}, {tau_rise_s})"
            )
        area = tau_decay_s - tau_rise_s
        return [(1.0 / area, tau_decay_s), (-1.0 / area, tau_rise_s)]
    raise ValueError(
        f"continuous-time responses need an exponential or double_exponential kernel, not {shape!r}"
    )


def step_response(
    shape: str, t_s: np.ndarray, tau_decay_s: float = 1.25, tau_rise_s: float = 0.1
) -> np.ndarray:
    """Response at times t_s (s) to a unit step starting at t = 0, of a kernel of unit area.

    Model: H(t) = ∫_0^t h(u) du with h the exponential exp(-u/tau_decay_s)/tau_decay_s or
    the double exponential (exp(-u/tau_decay_s) − exp(-u/tau_rise_s))/(tau_decay_s −
    tau_rise_s); H = 0 for t <= 0 and H → 1 for a sustained stimulus (analytic, exact).
    """
    t = np.maximum(np.asarray(t_s, dtype=np.float64), 0.0)
    return sum(
        weight * tau * -np.expm1(-t / tau) for weight, tau in _unit_area_terms(shape, tau_decay_s, tau_rise_s)
    )


def ramp_response(
    shape: str, t_s: np.ndarray, tau_decay_s: float = 1.25, tau_rise_s: float = 0.1
) -> np.ndarray:
    """Integral of `step_response` from 0 to t_s (s·response): G(t) = ∫_0^t H(u) du, 0 for t <= 0.

    Averaging a response over a frame needs G: the mean of H over [t0, t1] is
    (G(t1) − G(t0)) / (t1 − t0). Analytic, exact.
    """
    t = np.maximum(np.asarray(t_s, dtype=np.float64), 0.0)
    return sum(
        weight * tau * (t + tau * np.expm1(-t / tau))
        for weight, tau in _unit_area_terms(shape, tau_decay_s, tau_rise_s)
    )


def kernel_fwhm_s(shape: str, tau_decay_s: float = 1.25, tau_rise_s: float = 0.1) -> float:
    """Full width at half maximum (s) of the single-spike kernel in continuous time.

    exponential: tau_decay_s · ln 2. double_exponential: the two times where
    exp(-t/tau_decay_s) − exp(-t/tau_rise_s) is half its peak, found numerically.
    """
    if shape == "exponential":
        return float(tau_decay_s * np.log(2.0))
    _unit_area_terms(shape, tau_decay_s, tau_rise_s)  # checks the time constants
    from scipy.optimize import brentq

    def kernel(t):
        return np.exp(-t / tau_decay_s) - np.exp(-t / tau_rise_s)

    peak_t = tau_decay_s * tau_rise_s / (tau_decay_s - tau_rise_s) * np.log(tau_decay_s / tau_rise_s)
    half = kernel(peak_t) / 2.0
    rise = brentq(lambda t: kernel(t) - half, 0.0, peak_t)
    end = peak_t + tau_decay_s
    while kernel(end) > half:
        end += tau_decay_s
    fall = brentq(lambda t: kernel(t) - half, peak_t, end)
    return float(fall - rise)


def half_height_width(y: np.ndarray) -> float:
    """Width (in samples) at half the height of the maximum of a single-peaked, non-negative
    trace that is 0 at both ends, with linear interpolation between samples: what
    scipy.signal.peak_widths(y, [argmax], rel_height=0.5) gives for such a trace (numpy only,
    so settings can be resolved without importing scipy.signal)."""
    y = np.asarray(y, dtype=np.float64)
    peak = int(np.argmax(y))
    half = y[peak] / 2.0
    below_left = np.flatnonzero(y[:peak] <= half)
    left = float(below_left[-1]) if below_left.size else 0.0
    if below_left.size and y[int(left)] < half:
        i = int(left)
        left += (half - y[i]) / (y[i + 1] - y[i])
    below_right = np.flatnonzero(y[peak + 1 :] <= half)
    right = float(peak + 1 + below_right[0]) if below_right.size else float(y.size - 1)
    if below_right.size and y[int(right)] < half:
        i = int(right)
        right -= (half - y[i]) / (y[i - 1] - y[i])
    return right - left


def sampled_fwhm_s(
    frame_rate_hz: float, tau_decay_s: float = 1.25, tau_rise_s: float | None = 0.1, n_phases: int = 20
) -> float:
    """Narrowest FWHM (s) that one spike's transient shows once sampled at frame_rate_hz, noiselessly.

    The double exponential (exponential when tau_rise_s is None or 0) is sampled
    with the spike at n_phases positions within a frame and measured the way events
    are (`half_height_width`, as scipy.signal.peak_widths at half height: linear
    interpolation between frames); the smallest width is returned. At high frame
    rates this is the kernel's own FWHM (`kernel_fwhm_s`); at low ones sampling
    widens or narrows it.
    """
    shape = "double_exponential" if tau_rise_s else "exponential"
    n = int(np.ceil(10 * tau_decay_s * frame_rate_hz)) + 3
    widths = []
    for phase in np.arange(n_phases) / n_phases:
        t = (np.arange(n) - 1 - phase) / frame_rate_hz  # the spike lands inside frame 1
        if shape == "exponential":
            y = np.where(t >= 0, np.exp(-np.maximum(t, 0) / tau_decay_s), 0.0)
        else:
            y = np.where(
                t >= 0, np.exp(-np.maximum(t, 0) / tau_decay_s) - np.exp(-np.maximum(t, 0) / tau_rise_s), 0
            )
        y = np.concatenate([[0.0], y, [0.0]])
        widths.append(half_height_width(y) / frame_rate_hz)
    return float(min(widths))


# Events narrower than this fraction of one spike's transient are flagged below_min_fwhm.
# Measured on simulated single spikes (GCaMP6s/6f, 5 and 30 Hz, white noise): at most 0.5%
# of transients 8 noise SD or larger fall below a third of the kernel's FWHM, while nearly all
# the extra "events" that noise wiggles on a transient produce do.
MIN_FWHM_FRACTION = 1.0 / 3.0


def plausible_min_fwhm_s(
    frame_rate_hz: float,
    tau_decay_s: float,
    tau_rise_s: float | None = None,
    fraction: float = MIN_FWHM_FRACTION,
) -> float:
    """Shortest plausible FWHM (s) of a calcium transient: `fraction` of one spike's, as sampled.

    A transient is at least as wide as the indicator's response to one spike (more
    spikes only widen it); `calcium.signal.kernels.sampled_fwhm_s` gives that width at this
    frame rate for the decay/rise time constants (s). Narrower events are noise,
    motion or neuropil artefacts, or mis-set kinetics.
    """
    return fraction * sampled_fwhm_s(frame_rate_hz, tau_decay_s, tau_rise_s)
