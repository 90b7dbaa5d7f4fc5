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
from calcium.signal.activity_smoothing import smooth_activity_per_neuron
from calcium.signal.bandlimit import band_limits, rate_reasons
from calcium.signal.decay_estimate import estimated_decay_s, longer_decay_s, model_decay_s, oasis_ar_estimate
from calcium.signal.deconvolution_settings import ar_to_time_constants, neuron_timing
from calcium.signal.denoise import denoise_level, noise_left_sd
from calcium.signal.interpolation_session import SessionInterpolation
from calcium.signal.precision import precision_smoothing
from calcium.signal.scan_rate import scan_rate_trace, spread_over_exposure

PENALTIES = {"l1": 1, "l0": 0}


class Deconvolution(NamedTuple):
    """Per-neuron OASIS results for a block of neurons.

    calcium: (neurons, frames) inferred calcium c (input units, baseline removed).
    spikes: (neurons, frames) spike amplitudes s (input units per frame).
    baseline: (neurons,) fluorescence baseline b.
    g: (neurons, 2) AR coefficients (g2 = 0 for AR(1)).
    lam: (neurons,) Lagrange multiplier of the sparsity penalty.
    noise_sd: (neurons,) noise SD sn (OASIS's power-spectral estimate, `noise_sd`, the one the
        noise constraint uses when sn is not given; input units; of `noise_traces` if given).
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
    min_decay_frames: float | None = None,
    max_decay_s: float | None = None,
    interpolated: np.ndarray | None = None,
    noise_traces: np.ndarray | None = None,
    denoise_level: int | None = None,
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
    effective_rate_hz: (neurons,) rate each row's content supports (`effective_frame_rate`); a
        row whose rate is below frame_rate_hz is deconvolved at that rate (as a slower scan would
        record it: the trace's spectrum resampled, which keeps its noise per sample) and mapped
        back: calcium interpolated, each spike amplitude placed in the frame nearest its time.
        g, lam and noise_sd are then those at the effective rate.
    interpolated: (neurons,) bool, rows linearly interpolated from a scan at their effective
        rate (`calcium.signal.bandlimit.band_limits`): the interpolation's sinc² roll-off is
        undone at that rate (`undo_linear_interpolation`), so that the noise is the scan's.
    min_decay_frames: with a fixed tau_decay_s, the model's decay is at least this many
        frames of the rate each row is deconvolved at (`default_settings`' floor, which
        it applies at frame_rate_hz, carried to a band-limited row's effective rate:
        GCaMP8m's 0.2 s is 20 frames at 100 Hz but 1.5 at 7.5 Hz, where the floor gives
        1.07 s, as a natively sampled 7.5 Hz recording gets). None: no floor.
        tau_decay_s may also be one value per row (neurons,), e.g. the decays a first run used.
    max_decay_s: AR(1) with a fixed tau_decay_s only (`longer_decay_s`): where a row's decay
        spans at least min_decay_frames frames at its rate (the floor does not bind) and
        OASIS's default estimate from the row's own trace is longer, the model's decay is that
        estimate, at most max_decay_s (s). None: the given decay for every row.
    noise_traces: (neurons, frames) the detrended ΔF/F `traces` was wavelet-denoised from (to
        `denoise_level`): rates, noise_sd and decays are estimated on it; the noise the fit allows
        is what denoising left of its noise (`noise_left_sd`). None: all from `traces`.
    """
    traces = np.asarray(traces, dtype=np.float64)
    measured = traces if noise_traces is None else np.asarray(noise_traces, dtype=np.float64)
    if noise_traces is not None and denoise_level is None:
        raise ValueError("noise_traces needs the denoise_level of traces")
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
        sn_all[native] = noise_sd(measured[native])
    state = np.random.get_state()  # noqa: NPY002 (OASIS draws from the global RNG)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.simplefilter("ignore", DeprecationWarning)  # OASIS's g=, for noise_traces
            for row in range(n_neurons):
                y, m = traces[row], measured[row]
                np.random.seed([int(seed), int(ids[row])])  # noqa: NPY002
                if not np.any(y != y[0]) or not np.any(m != m[0]):  # flat (as scanned): no spikes
                    baseline[row] = y[0] if np.isfinite(y[0]) else m[0]
                    g_all[row, 0] = np.nan
                    continue
                rate = float(rates[row])
                if native[row]:
                    sn = float(sn_all[row])
                else:  # band-limited: the same band sampled at its own Nyquist rate
                    linear = interpolated is not None and bool(interpolated[row])
                    y, low_rate = scan_rate_trace(y, frame_rate_hz, rate, linear)
                    m = y if noise_traces is None else scan_rate_trace(m, frame_rate_hz, rate, linear)[0]
                    rate = low_rate
                    rates[row] = rate
                    low_start = 0.0
                    sn = float(noise_sd(m[None, :])[0])
                row_kwargs = dict(kwargs)
                if "tau_d" in row_kwargs:
                    tau_row = float(np.broadcast_to(np.asarray(tau_decay_s, dtype=float), (n_neurons,))[row])
                    row_kwargs.update(framerate=rate, tau_d=tau_row)
                    if min_decay_frames:
                        row_kwargs["tau_d"] = max(tau_row, float(min_decay_frames) / rate)
                    if max_decay_s and ar_order == 1:
                        row_kwargs["tau_d"] = longer_decay_s(
                            m, rate, sn, tau_row, max_decay_s, min_decay_frames
                        )
                if estimate_decay:
                    row_kwargs.update(
                        tau_d=estimated_decay_s(m, rate, sn, tau_decay_s, decay_bounds_s),
                        tau_r=0.0,
                        framerate=rate,
                    )
                elif noise_traces is not None and "tau_d" not in row_kwargs:  # OASIS's estimate, from m
                    row_kwargs.pop("tau_r", None)
                    row_kwargs["g"] = oasis_ar_estimate(m, ar_order, optimize_g)
                noise[row] = sn  # the scan's, at the rate deconvolved at
                if noise_traces is not None:  # OASIS allows the noise denoising left (its share at this rate)
                    kept = min(1.0, 2.0**-denoise_level * frame_rate_hz / rate)
                    sn = float(noise_left_sd(y[None, :], m[None, :], np.array([sn]), kept)[0])
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
    finally:
        np.random.set_state(state)  # noqa: NPY002
    return Deconvolution(calcium, spikes, baseline, g_all, lam, noise, rates)


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


def deconvolve_block(
    rows: slice,
    traces: np.ndarray,
    frame_rate_hz: float,
    smoothing_s: float,
    lag_s: float,
    timing: dict | None = None,
    session_ratio: float | SessionInterpolation | None = None,
    noise_traces: np.ndarray | None = None,
    denoise: dict | None = None,
    **oasis,
) -> BlockResult:
    """What the deconvolve rule computes for one block of neurons (see `calcium.blocks`):
    OASIS calcium, spike amplitudes and the smoothed, lag-corrected activity, with a
    per-neuron table (baseline, AR coefficients and time constants, λ, noise, spike sum,
    and what each neuron got and why: its noise level ν, the rate its trace supports,
    its smoothing and timing correction). session_ratio: the linear interpolation the session's
    rows share (frame rate / scan rate, `calcium.signal.scan_rate.file_interpolation_ratio`;
    NaN: none), which rows not conclusive alone take (`band_limits`; a `SessionInterpolation` the
    traces prove: every row); None: pooled over the block.
    noise_traces, denoise: `traces` wavelet-denoised from these rows (the detrended ΔF/F) with
    these settings (wavelet, level): rates, ν and noise are read from them (the shrunk band is no
    band limit of the scan; `deconvolve_traces`)."""
    import pandas as pd

    from calcium.evaluation.resampling import noise_level_nu

    neurons = np.arange(rows.start, rows.stop)
    measured = traces if noise_traces is None else noise_traces  # as the scan recorded it
    level = denoise_level(traces.shape[1], denoise["wavelet"], denoise["level"]) if denoise else None
    rates, interpolated, pooled = band_limits(
        measured, frame_rate_hz, session_ratio=session_ratio, return_pooled=True
    )
    nu = noise_level_nu(measured, frame_rate_hz)
    for row in np.flatnonzero(rates < frame_rate_hz):  # measured at the rate it is deconvolved at
        low, rate = scan_rate_trace(measured[row], frame_rate_hz, rates[row], bool(interpolated[row]))
        nu[row] = noise_level_nu(low, rate)
    floor = None if timing is None else timing.get("min_decay_frames")
    max_decay = None if timing is None else timing.get("max_decay_s")
    result = deconvolve_traces(
        traces,
        frame_rate_hz,
        neuron_ids=neurons,
        effective_rate_hz=rates,
        min_decay_frames=floor,
        max_decay_s=max_decay,
        interpolated=interpolated,
        noise_traces=noise_traces,
        denoise_level=level,
        **oasis,
    )
    rates = result.rate_hz  # the rate each row was deconvolved at (a whole number of its frames)
    decays = model_decay_s(result)
    longer = np.zeros(rates.shape, dtype=bool)
    rerun = oasis  # the re-inference of `precision_smoothing` uses each neuron's model
    if max_decay and oasis.get("tau_decay_s") is not None:  # lengthened from the trace (`longer_decay_s`)
        default = np.maximum(float(oasis["tau_decay_s"]), (floor or 0.0) / rates)
        longer = decays > default * (1 + 1e-6)
        rerun = {**oasis, "tau_decay_s": np.where(longer, decays, float(oasis["tau_decay_s"]))}
    if timing is None:
        smoothing, lags = np.full(rates.shape, float(smoothing_s)), np.full(rates.shape, float(lag_s))
    else:
        smoothing, lags = neuron_timing(timing, rates, smoothing_s, lag_s, np.where(longer, decays, np.nan))
        native = rates >= frame_rate_hz
        smoothing[native] = smoothing_s  # the session's resolved values
        lags[native & ~longer] = lag_s
    smoothing, extra, reproducible = precision_smoothing(
        result, frame_rate_hz, smoothing, neurons, timing, floor, rerun, longer
    )
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
            "nu_percent_per_sqrt_hz": nu,
            "effective_rate_hz": rates,
            "smoothing_s": smoothing,
            "extra_smoothing_s": extra,
            "reproducibility": reproducible,
            "lag_s": lags,
            "decay_reason": np.where(
                longer,
                f"estimated from the trace: longer than the indicator's (at most {max_decay or 0:g} s)",
                "the indicator's (or the config's) decay, at least the frame floor",
            ),
            "rate_reason": rate_reasons(
                pooled,
                interpolated,
                band_limited,
                isinstance(session_ratio, SessionInterpolation) and session_ratio.proven,
            ),
        }
    )
    # a row deconvolved at a lower rate: its amplitudes read over its own frames' exposures
    activity = smooth_activity_per_neuron(
        spread_over_exposure(result.spikes, frame_rate_hz, rates), frame_rate_hz, smoothing, lags
    )
    return BlockResult((result.calcium, result.spikes, activity), (table,))
