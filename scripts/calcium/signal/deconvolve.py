"""Spike inference by OASIS (Friedrich, Zhou & Paninski 2017), neuron by neuron.

Model (AR(p)): c_t = g_1 c_{t-1} + ... + g_p c_{t-p} + s_t,  y_t = b + c_t + noise,
with s_t >= 0. The noise-constrained problem min |s|_q subject to
|y - b - c|² = sn² T is solved by `oasis.functions.deconvolve` (q = 1 or 0).
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np

from calcium.blocks import BlockResult
from calcium.errors import ConfigError

PENALTIES = {"l1": 1, "l0": 0}


class Deconvolution(NamedTuple):
    """Per-neuron OASIS results for a block of neurons.

    calcium: (neurons, frames) inferred calcium c (input units, baseline removed).
    spikes: (neurons, frames) spike amplitudes s (input units per frame).
    baseline: (neurons,) fluorescence baseline b.
    g: (neurons, 2) AR coefficients (g2 = 0 for AR(1)).
    lam: (neurons,) Lagrange multiplier of the sparsity penalty.
    noise_sd: (neurons,) noise SD sn (OASIS's power-spectral estimate, `noise_sd`, the one the
        noise constraint uses when sn is not given; input units).
    rate_hz: (neurons,) the rate each neuron was deconvolved at (Hz; below the frame rate
        for band-limited traces, see `effective_frame_rate`); g, lam and noise_sd are at it.
    """

    calcium: np.ndarray
    spikes: np.ndarray
    baseline: np.ndarray
    g: np.ndarray
    lam: np.ndarray
    noise_sd: np.ndarray
    rate_hz: np.ndarray | None = None


def ar_to_time_constants(g1: float, g2: float, frame_rate_hz: float) -> tuple[float, float]:
    """(tau_decay_s, tau_rise_s) of an AR(1) (g2 = 0) or AR(2) kernel; tau_rise_s = 0 for AR(1).

    The roots of z² − g1·z − g2 are the kernel's per-frame decay factors, each turned into a
    time constant by OASIS's `ar1_to_tau` (what its `ar2_to_tau` does for both at once). A
    root that is complex or outside (0, 1) is no decaying exponential: its constant is NaN.
    """
    from oasis.functions import ar1_to_tau

    def tau(root: float) -> float:
        return float(ar1_to_tau(root, frame_rate_hz)) if 0 < root < 1 else float("nan")

    if g2 == 0:
        return tau(g1), 0.0
    disc = g1 * g1 + 4 * g2
    if disc < 0:
        return float("nan"), float("nan")
    return tau((g1 + np.sqrt(disc)) / 2), tau((g1 - np.sqrt(disc)) / 2)


def noise_sd(
    traces: np.ndarray, range_ff: tuple[float, float] = (0.25, 0.5), nperseg: int = 256
) -> np.ndarray:
    """Noise SD of each row from its power spectral density: sqrt(mean PSD / 2) over the
    frequencies above range_ff[0] and below range_ff[1] of the sampling rate (white noise of
    SD σ has a flat one-sided PSD of 2σ²).

    OASIS's own estimate (`oasis.functions.GetSn`, method "mean": Welch's method with
    Hann windows of `nperseg` frames overlapping by half, segment means removed), written
    out so that it costs a few FFTs per neuron; equal to GetSn to ~1e-15. Each row is
    computed on its own, so a neuron's value does not depend on the others in the block.
    Returns (neurons,) in the units of `traces`.
    """
    from numpy.lib.stride_tricks import sliding_window_view
    from scipy.signal import get_window

    traces = np.atleast_2d(np.asarray(traces, dtype=np.float64))
    n = min(nperseg, traces.shape[1])
    window = get_window("hann", n)
    frequencies = np.fft.rfftfreq(n)
    band = (frequencies > range_ff[0]) & (frequencies < range_ff[1])
    out = np.empty(traces.shape[0])
    for row, y in enumerate(traces):
        segments = sliding_window_view(y, n)[:: max(n // 2, 1)]
        segments = segments - segments.mean(axis=1, keepdims=True)
        power = np.abs(np.fft.rfft(segments * window, axis=1)) ** 2
        density = power.mean(axis=0) * 2.0 / np.sum(window * window)
        out[row] = np.sqrt(np.mean(density[band] / 2.0))
    return out


def effective_frame_rate(
    traces: np.ndarray, frame_rate_hz: float, nperseg: int = 256, drop: float = 0.1
) -> np.ndarray:
    """Sampling rate that each row's content supports (Hz): frame_rate_hz unless band-limited.

    A trace resampled to a faster rate (spikefinder's 100 Hz from slower scans), or
    low-pass filtered by acquisition software, carries no noise above its band limit
    fc: its power spectral density drops by orders of magnitude there. Natively sampled
    noise is white up to the Nyquist frequency, and a calcium signal's spectrum falls
    at most ~16-fold per octave (1/f² of a decaying exponential, 1/f⁴ with the rise), so
    a drop steeper than `drop` (1/10) from one octave band to the next marks a band
    limit. Rule: Welch PSD (Hann, `nperseg`, as `noise_sd`); median density m_k of
    the octave bands [fs/2^(k+2), fs/2^(k+1)], k = 0 (the top octave) downwards; k* =
    the first k with m_k >= drop·m_(k+1) (0 for natively sampled traces); above band
    k*, fc = the first frequency whose density falls below half of m_k*, located on the
    whole trace's periodogram (resolution 1/frames; `_band_edge`). The effective
    rate is 2·fc (the Nyquist rate of the content), or frame_rate_hz when that is
    above 0.8 of it. traces: (neurons, frames). Returns (neurons,) float64 in Hz.
    """
    from numpy.lib.stride_tricks import sliding_window_view
    from scipy.signal import get_window

    traces = np.atleast_2d(np.asarray(traces, dtype=np.float64))
    fs = float(frame_rate_hz)
    n = min(nperseg, traces.shape[1])
    out = np.full(traces.shape[0], fs)
    if n < 32:
        return out
    window = get_window("hann", n)
    frequencies = np.fft.rfftfreq(n)  # cycles per frame, 0 .. 0.5
    n_bands = int(np.floor(np.log2(n / 8)))  # the lowest band keeps >= 2 frequency bins
    uppers = 0.5 / 2.0 ** np.arange(n_bands)
    for row, y in enumerate(traces):
        segments = sliding_window_view(y, n)[:: max(n // 2, 1)]
        segments = segments - segments.mean(axis=1, keepdims=True)
        density = (np.abs(np.fft.rfft(segments * window, axis=1)) ** 2).mean(axis=0)
        level = np.array([np.median(density[(frequencies > hi / 2) & (frequencies <= hi)]) for hi in uppers])
        if not np.all(np.isfinite(level)) or level.max() <= 0:
            continue
        k = 0
        while k + 1 < level.size and level[k] < drop * level[k + 1]:
            k += 1
        if k == 0:
            continue
        cut = _band_edge(y, uppers[k], level[k] / np.sum(window * window))
        rate = 2.0 * cut * fs
        if rate < 0.8 * fs:
            out[row] = rate
    return out


def _band_edge(y: np.ndarray, above: float, level: float) -> float:
    """First frequency (cycles per frame) above `above` where the periodogram of y, averaged
    over ~1/200 of the band, falls below half the passband level (the middle of a sharp
    edge, where a centred average crosses it whatever its width; level: the passband's density in the
    periodogram's units, |FFT|² / frames). 0.5 if it never does."""
    y = y - y.mean()
    power = np.abs(np.fft.rfft(y)) ** 2 / y.size
    frequencies = np.fft.rfftfreq(y.size)
    width = max(1, power.size // 200)
    smooth = np.convolve(power, np.ones(width) / width, mode="same")
    below = np.flatnonzero((frequencies > above) & (smooth < 0.5 * level))
    if below.size == 0:
        return 0.5
    # the passband just below the edge (where the signal has least power) sets the level
    just_below = (frequencies > above) & (np.arange(frequencies.size) < below[0] - width)
    if just_below.sum() >= width:
        level = float(np.mean(power[just_below]))
        below = np.flatnonzero((frequencies > above) & (smooth < 0.5 * level))
        if below.size == 0:
            return 0.5
    i = int(below[0])  # the crossing lies between bins i - 1 and i: interpolate within the bin
    before, after = smooth[i - 1], smooth[i]
    fraction = (before - 0.5 * level) / (before - after) if before > after else 1.0
    return float(frequencies[i - 1] + np.clip(fraction, 0.0, 1.0) * (frequencies[i] - frequencies[i - 1]))


def deconvolve_traces(
    traces: np.ndarray,
    frame_rate_hz: float,
    ar_order: int = 1,
    tau_decay_s: float | None = None,
    tau_rise_s: float | None = None,
    penalty: str = "l1",
    s_min: float = 0.0,
    optimize_g: int = 0,
    seed: int = 0,
    neuron_ids: np.ndarray | None = None,
    estimate_decay: bool = False,
    decay_bounds_s: tuple[float, float] | None = None,
    effective_rate_hz: np.ndarray | None = None,
) -> Deconvolution:
    """Deconvolve each row of `traces` with OASIS.

    traces: (neurons, frames) ΔF/F (unitless) or any fluorescence units.
    frame_rate_hz: sampling rate in Hz.
    ar_order: 1 (decay only) or 2 (rise and decay).
    tau_decay_s, tau_rise_s: kernel time constants in seconds. tau_decay_s=None
        estimates the AR coefficients from each trace's autocovariance
        (and tau_rise_s is then ignored). tau_rise_s is used for AR(2) only.
    penalty: "l1" (convex) or "l0" sparsity penalty.
    s_min: minimal spike amplitude (input units); > 0 re-solves the problem with
        the fitted lambda, forcing every s_t to be 0 or >= s_min.
    optimize_g: number of large isolated events used to refine g (0: none).
    seed: seeds numpy's global RNG, which OASIS draws from when an estimated time
        constant is out of range, per neuron with [seed, neuron id], so the result of
        a neuron does not depend on the other neurons or on how they are split into blocks. The
        caller's global RNG state is restored afterwards.
    neuron_ids: global ids of the rows (default 0..n-1).
    estimate_decay: AR(1) only: each neuron's decay estimated from its own trace
        (OASIS's autocovariance estimate with the neuron's noise), kept within
        decay_bounds_s (s; default: no bounds) and falling back to tau_decay_s when
        the estimate is no decaying exponential.
    effective_rate_hz: (neurons,) rate each row's content supports
        (`effective_frame_rate`); a row whose rate is below frame_rate_hz is
        deconvolved at that rate (as a slower
        scan would record it: the trace's spectrum resampled, which keeps its noise per
        sample) and mapped back: calcium interpolated, each spike amplitude placed in
        the frame nearest its time. g, lam and noise_sd are then
        those at the effective rate.
    """
    traces = np.asarray(traces, dtype=np.float64)
    n_neurons, n_frames = traces.shape
    if ar_order not in (1, 2):
        raise ValueError("ar_order must be 1 or 2")
    if penalty not in PENALTIES:
        raise ValueError(f"penalty must be one of {tuple(PENALTIES)}")
    if estimate_decay and ar_order != 1:
        raise ValueError("estimate_decay needs ar_order 1")
    ids = np.arange(n_neurons) if neuron_ids is None else np.asarray(neuron_ids)
    rates = np.full(n_neurons, float(frame_rate_hz))
    if effective_rate_hz is not None:
        rates = np.minimum(rates, np.asarray(effective_rate_hz, dtype=float))
    calcium = np.zeros((n_neurons, n_frames), dtype=np.float32)
    spikes = np.zeros((n_neurons, n_frames), dtype=np.float32)
    baseline = np.zeros(n_neurons)
    g_all = np.zeros((n_neurons, 2))
    lam = np.zeros(n_neurons)
    noise = np.zeros(n_neurons)
    kwargs: dict = {"penalty": PENALTIES[penalty], "optimize_g": optimize_g}
    if ar_order == 2 and s_min > 0:
        raise ConfigError(
            "deconvolution.s_min is supported with AR(1) only (re-solving AR(2) with OASIS's lambda "
            "and s_min destroys s); set ar_order: 1 or s_min: 0"
        )
    if ar_order == 2 and tau_decay_s is not None and not tau_rise_s:
        raise ConfigError("ar_order=2 with a fixed tau_decay_s needs tau_rise_s > 0")
    if tau_decay_s is None:  # OASIS estimates the AR coefficients: AR(1) by default,
        if ar_order == 2:  # AR(2) when neither time constant is given
            kwargs["tau_r"] = None
    else:
        kwargs["tau_d"] = tau_decay_s
        kwargs["tau_r"] = (tau_rise_s or 0.0) if ar_order == 2 else 0.0
    from oasis.functions import deconvolve as oasis_deconvolve  # imported here: settings need no OASIS
    from oasis.oasis_methods import oasisAR1

    native = rates >= frame_rate_hz
    sn_all = np.zeros(n_neurons)
    if native.any():  # estimated once per trace, given to OASIS (it would estimate it again)
        sn_all[native] = noise_sd(traces[native])
    state = np.random.get_state()  # noqa: NPY002 (OASIS draws from the global RNG)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            for row in range(n_neurons):
                y = traces[row]
                np.random.seed([int(seed), int(ids[row])])  # noqa: NPY002
                if not np.any(y != y[0]):
                    baseline[row] = y[0]
                    g_all[row, 0] = np.nan
                    continue
                rate = float(rates[row])
                if native[row]:
                    sn = float(sn_all[row])
                else:  # band-limited: the same band sampled at its own Nyquist rate
                    from scipy.signal import resample

                    n_low = max(2, int(round(n_frames * rate / frame_rate_hz)))
                    y = resample(y, n_low)
                    rate = n_low * frame_rate_hz / n_frames
                    rates[row] = rate
                    low_start = 0.0
                    sn = float(noise_sd(y[None, :])[0])
                row_kwargs = dict(kwargs)
                if "tau_d" in row_kwargs:
                    row_kwargs["framerate"] = rate
                if estimate_decay:
                    row_kwargs.update(
                        tau_d=estimated_decay_s(y, rate, sn, tau_decay_s, decay_bounds_s),
                        tau_r=0.0,
                        framerate=rate,
                    )
                c, s, b, g, lam_row = oasis_deconvolve(y, sn=sn, **row_kwargs)
                g = tuple(float(v) for v in np.atleast_1d(g))
                if s_min > 0:
                    c, s = oasisAR1(y - b, g[0], lam=lam_row, s_min=s_min)
                s = np.maximum(s, 0.0)  # s >= 0 by the model; drop -1e-31 round-off
                if not native[row]:  # back onto the session's frames
                    centres_s = low_start + np.arange(y.size) / rate
                    c = np.interp(np.arange(n_frames) / frame_rate_hz, centres_s, c)
                    frames = np.clip(np.rint(centres_s * frame_rate_hz).astype(np.int64), 0, n_frames - 1)
                    s = np.bincount(frames, weights=s, minlength=n_frames)
                calcium[row] = c
                spikes[row] = s
                baseline[row] = b
                g_all[row, : len(g)] = g
                lam[row] = lam_row
                noise[row] = sn
    finally:
        np.random.set_state(state)  # noqa: NPY002
    return Deconvolution(calcium, spikes, baseline, g_all, lam, noise, rates)


def estimated_decay_s(
    trace: np.ndarray,
    frame_rate_hz: float,
    noise_sd_value: float,
    fallback_s: float | None,
    bounds_s: tuple[float, float] | None = None,
) -> float:
    """Decay time constant (s) of one trace from its autocovariance (OASIS's AR(1) estimate).

    The estimate is kept within bounds_s = (shortest, longest) in s; where it is no
    decaying exponential (root outside (0, 1)), fallback_s (the indicator's value) is
    used. OASIS replaces such roots by random values; here they are detected first.
    """
    from oasis.functions import ar1_to_tau, estimate_time_constant

    lo, hi = bounds_s if bounds_s is not None else (0.0, np.inf)
    try:
        g = float(np.atleast_1d(estimate_time_constant(trace, p=1, sn=noise_sd_value))[0])
    except (np.linalg.LinAlgError, ValueError):
        g = np.nan
    if 0 < g < 1 and np.isfinite(g):
        tau = float(ar1_to_tau(g, frame_rate_hz))
    elif fallback_s is not None:
        tau = float(fallback_s)
    else:
        tau = hi if np.isfinite(hi) else 1.0
    return float(np.clip(tau, lo, hi))


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


def _kernel_integral(t_s: np.ndarray, tau_decay_s: float, tau_rise_s: float) -> np.ndarray:
    """∫_0^t (exp(-u/τd) − exp(-u/τr)) du for t >= 0 (0 before the spike), in seconds."""
    t_s = np.maximum(t_s, 0.0)
    decay = tau_decay_s * -np.expm1(-t_s / tau_decay_s)
    rise = tau_rise_s * -np.expm1(-t_s / tau_rise_s) if tau_rise_s > 0 else 0.0
    return decay - rise


def ar_coefficients(
    tau_decay_s: float, tau_rise_s: float | None, frame_rate_hz: float, ar_order: int = 1
) -> tuple[float, float]:
    """(g1, g2) of the AR(p) model with these time constants: per-frame decay factors d, r.

    AR(1): (d, 0); AR(2): (d + r, −d·r), d = exp(−1/(τd·fs)), r = exp(−1/(τr·fs)).
    """
    d = float(np.exp(-1.0 / (tau_decay_s * frame_rate_hz)))
    if ar_order == 1 or not tau_rise_s:
        return d, 0.0
    r = float(np.exp(-1.0 / (tau_rise_s * frame_rate_hz)))
    return d + r, -d * r


def kinetic_lag_s(
    tau_decay_s: float,
    tau_rise_s: float,
    frame_rate_hz: float,
    ar_order: int = 1,
    model_tau_decay_s: float | None = None,
    model_tau_rise_s: float | None = None,
    n_phases: int = 64,
) -> float:
    """How late deconvolved spikes come after the true spike, from kinetics and frame rate (s).

    Model: one spike at a uniformly random time within a frame's exposure; the
    indicator responds with exp(−t/τd) − exp(−t/τr); each frame averages that
    response over its exposure (frame k centred at k / fs); the AR(p) model of the
    deconvolution (time constants model_tau_*, default the indicator's) is inverted
    exactly (s_k = c_k − g1·c_{k−1} − g2·c_{k−2}, negative values dropped, as OASIS
    allows none), and each frame's s is spread over its exposure. The lag is the
    median time of that s minus the spike time, averaged over the spike's position
    in the frame. It grows with the frame length (a spike is found in the frame that
    first shows it, or the next) and, for AR(1), with the rise (the unmodelled rise
    is deconvolved into s that trails the spike). E.g. GCaMP6s (1.25 s, 50 ms)
    AR(1): 111 ms at 7.5 Hz, 44 ms at 60 Hz; jGCaMP8m (0.2 s, 5 ms): 63 ms at 7.5 Hz,
    8 ms at 122 Hz.
    Returns the lag in seconds (>= 0).
    """
    fs = float(frame_rate_hz)
    model_decay = float(model_tau_decay_s or tau_decay_s)
    model_rise = float(model_tau_rise_s if model_tau_rise_s is not None else tau_rise_s)
    half = 0.5 / fs
    n_frames = int(np.ceil(3 * max(tau_decay_s, model_decay) * fs)) + 3
    phase = (np.arange(n_phases) + 0.5) / n_phases
    spike_s = -half + phase / fs  # spike times within frame 0's exposure
    centres = np.arange(n_frames) / fs
    start = centres[None, :] - half - spike_s[:, None]
    calcium = (
        _kernel_integral(start + 1 / fs, tau_decay_s, tau_rise_s)
        - _kernel_integral(start, tau_decay_s, tau_rise_s)
    ) * fs
    g1, g2 = ar_coefficients(model_decay, model_rise, fs, ar_order)
    padded = np.pad(calcium, ((0, 0), (2, 0)))
    s = np.maximum(padded[:, 2:] - g1 * padded[:, 1:-1] - g2 * padded[:, :-2], 0.0)
    cumulative = np.cumsum(s, axis=1) / s.sum(axis=1, keepdims=True)
    frame = np.argmax(cumulative >= 0.5, axis=1)
    before = np.where(frame > 0, cumulative[np.arange(n_phases), frame - 1], 0.0)
    within = (0.5 - before) / (cumulative[np.arange(n_phases), frame] - before)
    median_s = centres[frame] - half + within / fs
    return float(max(0.0, np.mean(median_s - spike_s)))


def spike_amplitude_noise(noise_sd: np.ndarray, g: np.ndarray, max_frames: int = 10_000) -> np.ndarray:
    """SD of an isolated spike's amplitude estimate, per neuron, in units of s (ΔF/F).

    For y = b + c + noise (white, SD sn per frame) with c the AR(p) response h to a
    spike of amplitude A, the least-squares estimate of A has SD sn / ||h||₂ (the
    matched filter). For AR(1) that is sn·sqrt(1 − g²). At a fixed noise per second
    (ν) sn grows as sqrt(fs) while ||h||² grows as fs·τ/2 (τ·fs >> 1), so this SD in
    ΔF/F is about the same at 7.5 Hz and 122 Hz (GCaMP6s: within 5 %).
    noise_sd: (neurons,) sn; g: (neurons, 2) AR coefficients (g2 = 0 for AR(1)).
    Returns (neurons,) float64; NaN where g is NaN or not stable.
    """
    noise_sd = np.asarray(noise_sd, dtype=float)
    g = np.atleast_2d(np.asarray(g, dtype=float))
    out = np.full(noise_sd.shape, np.nan)
    for row in range(noise_sd.size):
        g1, g2 = g[row, 0], g[row, 1] if g.shape[1] > 1 else 0.0
        if not (np.isfinite(g1) and np.isfinite(g2)) or g1 <= 0:
            continue
        if g2 == 0:
            if g1 < 1:
                out[row] = noise_sd[row] * np.sqrt(1 - g1 * g1)
            continue
        impulse = np.zeros(max_frames)
        impulse[0] = 1.0
        from scipy.signal import lfilter

        h = lfilter([1.0], [1.0, -g1, -g2], impulse)  # AR(2) response to one unit spike
        if np.all(np.isfinite(h)) and abs(h[-1]) < 1e-3 * np.abs(h).max():
            out[row] = noise_sd[row] / np.sqrt(np.sum(h * h))
    return out


AUTO = "auto"

# The linear-inverse model of `kinetic_lag_s` places more of a spike's deconvolved mass
# in the following frame than OASIS's sparse (L1) solution does; on the ground truth the
# lag that maximises the correlation is 0.7 of the model's (chosen leaving each paper's
# sets out, in all 13 folds: see docs/accuracy.md). Used by `default_settings`.
LAG_FRACTION = 0.7
# The model's decay is at least this many frames (chosen leaving each paper out: 8 in 11
# of 13 folds, 5 in the other 2; see `default_settings`).
MIN_DECAY_FRAMES = 8.0
# Timing precision of a deconvolved spike: besides the frame (SD 1/(sqrt(12) fs)), the
# indicator's rise blurs where in time a spike is placed; activity is smoothed by a
# Gaussian of SD hypot(1/(sqrt(12) fs), RISE_SMOOTHING_FRACTION x time to peak). 0.1 was
# chosen on the 32 ground-truth sets leaving each paper's sets out, in 12 of 13 folds
# (docs/accuracy.md, "Spike inference on real ground truth"): e.g. 17 ms for GCaMP6s (time to peak
# 0.17 s), 2 ms for jGCaMP8f, on top of the frame's own SD.
RISE_SMOOTHING_FRACTION = 0.1


def time_to_peak_s(tau_decay_s: float, tau_rise_s: float) -> float:
    """Time to peak (s) of exp(-t/τd) − exp(-t/τr): τd·τr/(τd − τr)·ln(τd/τr); 0 without a rise."""
    if not tau_rise_s or tau_rise_s <= 0 or tau_rise_s >= tau_decay_s:
        return 0.0
    return float(tau_decay_s * tau_rise_s / (tau_decay_s - tau_rise_s) * np.log(tau_decay_s / tau_rise_s))


def default_settings(indicator: str | None, frame_rate_hz: float, overrides: dict | None = None) -> dict:
    """Deconvolution settings for one session, derived from its indicator and frame rate.

    The rule (each value applies where `overrides` leaves it "auto" or None):
    - ar_order: 1. OASIS's AR(1) model with the timing correction below places
      spikes as well as AR(2) does on the ground truth and needs no rise time.
    - tau_decay_s: the indicator's in vivo decay (calcium.signal.indicators), but at least
      min_decay_frames (8) frames: when a transient decays within a few frames, the
      frame-to-frame decay is not that of the fast component (the spike's own frame
      is partly exposed; slower components of the decay dominate), and a slower
      model keeps each transient as one event instead of splitting it.
    - tau_rise_s: the indicator's rise (used by AR(2) only).
    - lag_s: LAG_FRACTION (0.7) × `kinetic_lag_s` for the indicator's kinetics, this
      frame rate and the model's decay: how late the deconvolved spikes come;
      activity and spike times are moved this much earlier.
    - smoothing_s: hypot(1 / (sqrt(12) · fs), RISE_SMOOTHING_FRACTION · time to peak):
      the SD of a spike's unknown position within its frame and the blur of the
      indicator's rise.
    - Per neuron (`neuron_timing`): a neuron whose trace is band-limited
      (`effective_frame_rate`) is deconvolved at its effective rate, and its
      smoothing and lag (where auto) follow that rate.
    - estimate_time_constants: true (in overrides) estimates the decay per neuron
      instead (OASIS's autocovariance estimate; tau_decay_s and tau_rise_s None).
    indicator: session indicator (see calcium.signal.indicators), or None when overrides
        give tau_decay_s (and tau_rise_s for AR(2)).
    frame_rate_hz: imaging rate in Hz.
    overrides: the config's `deconvolution` section (keys ar_order, tau_decay_s,
        tau_rise_s, min_decay_frames, estimate_time_constants, smoothing_s, lag_s,
        penalty, s_min, optimize_g, seed; others are ignored; lag_fraction for
        studies of the rule).
    Returns a dict with ar_order (int), tau_decay_s, tau_rise_s (float or None),
    smoothing_s, lag_s (s), penalty, s_min, optimize_g, seed: the keyword arguments of
    `deconvolve_traces` plus smoothing_s and lag_s for `smooth_activity`, and `timing`
    (what `neuron_timing` needs: the indicator's kinetics, the model's decay, the
    lag fraction and which of smoothing/lag the config fixed).
    """
    from calcium.signal.indicators import indicator_kinetics

    given = dict(overrides or {})

    def pick(key, default):
        value = given.get(key, AUTO)
        return default if value is None or value == AUTO else value

    fs = float(frame_rate_hz)
    if fs <= 0:
        raise ValueError("frame_rate_hz must be > 0")
    try:
        kinetics = indicator_kinetics(indicator) if indicator else None
    except KeyError:
        if given.get("tau_decay_s") in (None, AUTO):
            raise
        kinetics = None  # an indicator the table does not know, with its decay given
    tau_decay = pick("tau_decay_s", kinetics.tau_decay_s if kinetics else None)
    tau_rise = pick("tau_rise_s", kinetics.tau_rise_s if kinetics else None)
    if tau_decay is None:
        raise ValueError(f"no decay time constant for indicator {indicator!r}: set deconvolution.tau_decay_s")
    ar_order = int(pick("ar_order", 1))
    if ar_order == 2 and not tau_rise:
        raise ValueError("ar_order 2 needs a rise time: set deconvolution.tau_rise_s")
    tau_decay, tau_rise = float(tau_decay), float(tau_rise or 0.0)
    min_frames = float(pick("min_decay_frames", MIN_DECAY_FRAMES))
    decay_given = given.get("tau_decay_s") not in (None, AUTO)
    timing = {
        "tau_decay_s": tau_decay,
        "tau_rise_s": tau_rise,
        "ar_order": ar_order,
        "min_decay_frames": None if decay_given else min_frames,
        "lag_fraction": float(given.get("lag_fraction", LAG_FRACTION)),
        "rise_smoothing_s": RISE_SMOOTHING_FRACTION * time_to_peak_s(tau_decay, tau_rise),
        "smoothing_given": given.get("smoothing_s", AUTO) not in (None, AUTO),
        "lag_given": given.get("lag_s", AUTO) not in (None, AUTO),
    }
    model_decay = tau_decay if decay_given else max(tau_decay, min_frames / fs)
    smoothing, lag = neuron_timing(timing, np.array([fs]))
    settings = {
        "ar_order": ar_order,
        "tau_decay_s": model_decay,
        "tau_rise_s": tau_rise if ar_order == 2 else None,
        "smoothing_s": float(pick("smoothing_s", smoothing[0])),
        "lag_s": float(pick("lag_s", lag[0])),
        "penalty": given.get("penalty", "l1"),
        "s_min": float(given.get("s_min", 0.0)),
        "optimize_g": int(given.get("optimize_g", 0)),
        "seed": int(given.get("seed", 0)),
        "timing": timing,
    }
    if given.get("estimate_time_constants"):
        settings["tau_decay_s"] = None
        settings["tau_rise_s"] = None
    return settings


def neuron_timing(timing: dict, rates_hz: np.ndarray, smoothing_s: float = 0.0, lag_s: float = 0.0):
    """(smoothing_s, lag_s) per neuron, each deconvolved at rates_hz (Hz, one per neuron).

    timing: `default_settings(...)["timing"]`. Where the config fixed smoothing_s or lag_s
    (timing's smoothing_given / lag_given) the given values are used for every neuron;
    else smoothing = hypot(1/(sqrt(12)·rate), rise_smoothing_s) and lag = lag_fraction ×
    `kinetic_lag_s` at the neuron's rate with the model's decay there (the indicator's,
    at least min_decay_frames frames). Returns two float64 arrays of the rates' shape.
    """
    rates = np.atleast_1d(np.asarray(rates_hz, dtype=float))
    unique, index = np.unique(rates, return_inverse=True)
    smooth = np.hypot(1.0 / (np.sqrt(12.0) * unique), float(timing["rise_smoothing_s"]))
    lags = np.empty(unique.size)
    for i, rate in enumerate(unique):
        frames = timing["min_decay_frames"]
        model = timing["tau_decay_s"] if frames is None else max(timing["tau_decay_s"], frames / rate)
        lags[i] = timing["lag_fraction"] * kinetic_lag_s(
            timing["tau_decay_s"], timing["tau_rise_s"], rate, timing["ar_order"], model_tau_decay_s=model
        )
    smooth, lags = smooth[index], lags[index]
    if timing["smoothing_given"]:
        smooth = np.full(rates.shape, float(smoothing_s))
    if timing["lag_given"]:
        lags = np.full(rates.shape, float(lag_s))
    return smooth, lags


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


def deconvolve_block(
    rows: slice,
    traces: np.ndarray,
    frame_rate_hz: float,
    smoothing_s: float,
    lag_s: float,
    timing: dict | None = None,
    **oasis,
) -> BlockResult:
    """What the deconvolve rule computes for one block of neurons (see `calcium.blocks`):
    OASIS calcium, spike amplitudes and the smoothed, lag-corrected activity, with a
    per-neuron table (baseline, AR coefficients and time constants, λ, noise, spike sum,
    and what each neuron got and why: its noise level ν, the rate its trace supports,
    its smoothing and timing correction)."""
    import pandas as pd

    from calcium.evaluation.resampling import noise_level_nu

    neurons = np.arange(rows.start, rows.stop)
    rates = effective_frame_rate(traces, frame_rate_hz)
    result = deconvolve_traces(traces, frame_rate_hz, neuron_ids=neurons, effective_rate_hz=rates, **oasis)
    if timing is None:
        smoothing, lags = np.full(rates.shape, float(smoothing_s)), np.full(rates.shape, float(lag_s))
    else:
        smoothing, lags = neuron_timing(timing, rates, smoothing_s, lag_s)
        native = rates >= frame_rate_hz
        smoothing[native], lags[native] = smoothing_s, lag_s  # the session's resolved values
    taus = np.array(
        [ar_to_time_constants(g1, g2, rate) for (g1, g2), rate in zip(result.g, rates, strict=True)]
    ).reshape(-1, 2)
    band_limited = rates < frame_rate_hz
    table = pd.DataFrame(
        {
            "neuron": neurons,
            "baseline_dff": result.baseline,
            "g1": result.g[:, 0],
            "g2": result.g[:, 1],
            "tau_decay_s": taus[:, 0],
            "tau_rise_s": taus[:, 1],
            "lambda": result.lam,
            "noise_sd_dff": result.noise_sd,
            "spike_amplitude_noise_dff": spike_amplitude_noise(result.noise_sd, result.g),
            "spike_sum_dff": result.spikes.sum(axis=1),
            "nu_percent_per_sqrt_hz": noise_level_nu(traces, frame_rate_hz),
            "effective_rate_hz": rates,
            "smoothing_s": smoothing,
            "lag_s": lags,
            "rate_reason": np.where(
                band_limited,
                "band-limited: no noise above this rate's Nyquist frequency; deconvolved at it",
                "natively sampled",
            ),
        }
    )
    activity = smooth_activity_per_neuron(result.spikes, frame_rate_hz, smoothing, lags)
    return BlockResult((result.calcium, result.spikes, activity), (table,))
