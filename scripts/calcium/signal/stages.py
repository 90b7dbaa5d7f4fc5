"""What each per-neuron rule of the signal chain computes for one block of neurons (see
`calcium.blocks`); deconvolution's is `calcium.signal.deconvolve.deconvolve_block`, beside OASIS
(its own rule and environment).

Each function takes the block's rows (a slice of neuron ids), the block's rows of the
rule's input arrays, and plain settings, and returns a `BlockResult`: the block's rows of
the output arrays (float32, neurons x frames) and of its tables. They are module-level so
that `calcium.blocks.process_blocks` can run them in other processes.
"""

from __future__ import annotations

import numpy as np

from calcium.blocks import BlockResult
from calcium.input.trial_structure import per_neuron_summary, per_trial, shift_frames


def dff(
    rows: slice,
    fluorescence: np.ndarray,
    input_kind: str = "raw",
    percentile: float = 25.0,
    window_s: float | None = None,
    min_f0: float = 1e-3,
    low_f0: str = "error",
    frame_rate_hz: float = 1.0,
    trials: np.ndarray | None = None,
) -> BlockResult:
    """ΔF/F = (F − F0)/F0 with F0 a low percentile (`calcium.signal.dff`); ΔF/F input passes unchanged.

    trials: (trials, 2) first and one-past-last frame of each trial (`calcium.input.trial_structure`):
    F0 and ΔF/F of each trial on its own, gap frames 0; None: the whole recording."""
    ids = np.arange(rows.start, rows.stop)
    if input_kind == "dff":
        if trials is not None:
            return BlockResult((per_trial(lambda x: x, fluorescence, trials),))
        return BlockResult((fluorescence.astype(np.float32, copy=False),))
    from calcium.signal.dff import baseline_f0, delta_f_over_f

    def one(traces):
        f0 = baseline_f0(traces, percentile, window_s, frame_rate_hz)
        return delta_f_over_f(traces, f0, min_f0, low_f0, ids).astype(np.float32)

    return BlockResult((one(fluorescence) if trials is None else per_trial(one, fluorescence, trials),))


def detrend(
    rows: slice,
    traces: np.ndarray,
    frame_rate_hz: float,
    trials: np.ndarray | None = None,
    knot_rows: np.ndarray | None = None,
    **settings,
) -> BlockResult:
    """Fluctuations slower than slow_drift_s removed (`calcium.signal.detrend.detrend`), within each
    trial if `trials` is given (see `dff`); the tables: what the detrended rows say of the session's
    linear interpolation (`calcium.signal.scan_rate.interpolation_evidence`, pooled over the blocks
    by `calcium.signal.interpolation_session.pooled_ratio`), and the windows of the ΔF/F rows of
    `knot_rows` (the session's rows, `calcium.signal.knots.knot_rows`) in this block that the knot
    test reads (`calcium.signal.knots.session_windows`: before detrending, which bends the
    interpolation's straight pieces)."""
    from calcium.signal.detrend import detrend as remove_drift
    from calcium.signal.knots import session_windows
    from calcium.signal.scan_rate import interpolation_evidence

    def one(x):
        return remove_drift(x, frame_rate_hz, **settings)

    detrended = one(traces) if trials is None else per_trial(one, traces, trials)
    chosen = np.asarray([] if knot_rows is None else knot_rows, dtype=np.int64)
    chosen = chosen[(chosen >= rows.start) & (chosen < rows.stop)] - rows.start
    windows = session_windows(traces[chosen], frame_rate_hz, trials)
    return BlockResult((detrended,), (interpolation_evidence(detrended, frame_rate_hz, trials), windows))


def denoise(rows: slice, traces: np.ndarray, trials: np.ndarray | None = None, **settings) -> BlockResult:
    """Wavelet denoising (`calcium.signal.denoise.wavelet_denoise`), within each trial if `trials` is
    given (see `dff`; the decomposition depth is capped by each trial's length)."""
    from calcium.signal.denoise import wavelet_denoise

    def one(x):
        return wavelet_denoise(x, **settings)

    return BlockResult((one(traces) if trials is None else per_trial(one, traces, trials),))


def spike_times(
    rows: slice,
    spikes: np.ndarray,
    frame_rate_hz: float,
    amplitude_noise: np.ndarray,
    start_time_s: float = 0.0,
    lag_s: float | np.ndarray = 0.0,
    effective_rate_hz: np.ndarray | None = None,
    trials: np.ndarray | None = None,
    **thresholds,
) -> BlockResult:
    """Spike frames where s crosses the threshold (`calcium.signal.spikes.detect_spikes`), as table rows.

    trials: (trials, 2) frames of each trial: spikes detected in each trial on its own (its
    thresholds from its frames), rows with a `trial` column; None: the whole recording."""
    from calcium.signal.spikes import detect_spikes

    def one(s, start_s):
        return detect_spikes(
            s,
            frame_rate_hz,
            neuron_ids=np.arange(rows.start, rows.stop),
            amplitude_noise=np.asarray(amplitude_noise)[rows],
            lag_s=np.broadcast_to(np.asarray(lag_s, dtype=float), np.shape(amplitude_noise))[rows],
            effective_rate_hz=None if effective_rate_hz is None else np.asarray(effective_rate_hz)[rows],
            start_time_s=start_s,
            **thresholds,
        )

    if trials is None:
        return BlockResult((), (one(spikes, start_time_s),))
    parts = [
        shift_frames(one(spikes[:, a:b], start_time_s + a / frame_rate_hz), a, frame_rate_hz, k, ["frame"])
        for k, (a, b) in enumerate(np.asarray(trials, dtype=np.int64))
    ]
    return BlockResult((), (_by_neuron(parts, ["neuron", "frame"]),))


def events(
    rows: slice,
    traces: np.ndarray,
    frame_rate_hz: float,
    start_time_s: float = 0.0,
    trials: np.ndarray | None = None,
    session_ratio: float | None = None,
    noise_traces: np.ndarray | None = None,
    **settings,
) -> BlockResult:
    """Calcium events and per-neuron thresholds (`calcium.population.events.detect_events`), as table rows.

    trials: (trials, 2) frames of each trial: events detected in each trial on its own (no event
    spans a boundary), with a `trial` column; the thresholds table keeps one row per neuron (the
    median over trials of baseline, noise and threshold; n_events summed). None: the whole
    recording. Rows linearly interpolated from a slower scan (found on the whole recording, or
    by the session's pooled evidence: session_ratio, `interpolated_scan_rates`) get the scan's
    noise σ (`event_thresholds`). noise_traces: the rows before wavelet denoising, when `traces` is
    denoised: the interpolation is read from them (the shrunk band is no trace of the scan's)."""
    from calcium.population.events import detect_events

    measured = traces if noise_traces is None else noise_traces
    scan_rates = interpolated_scan_rates(measured, frame_rate_hz, session_ratio)

    def one(x, start_s):
        return detect_events(
            x,
            frame_rate_hz,
            neuron_ids=np.arange(rows.start, rows.stop),
            start_time_s=start_s,
            scan_rates_hz=scan_rates,
            **settings,
        )

    if trials is None:
        return BlockResult((), one(traces, start_time_s))
    found, thresholds = [], []
    for k, (a, b) in enumerate(np.asarray(trials, dtype=np.int64)):
        trial_events, trial_thresholds = one(traces[:, a:b], start_time_s + a / frame_rate_hz)
        found.append(
            shift_frames(trial_events, a, frame_rate_hz, k, ["onset_frame", "peak_frame", "end_frame"])
        )
        thresholds.append(trial_thresholds)
    return BlockResult(
        (), (_by_neuron(found, ["neuron", "onset_frame"]), per_neuron_summary(thresholds, ("n_events",)))
    )


def interpolated_scan_rates(
    traces: np.ndarray, frame_rate_hz: float, session_ratio: float | None = None
) -> np.ndarray:
    """(neurons,) the rate (Hz) of the scan each row was linearly interpolated from
    (`calcium.signal.bandlimit.band_limits`); NaN where it was not, or where the row has NaN.
    session_ratio: the interpolation the session's rows share (frame rate / scan rate,
    `calcium.signal.scan_rate.file_interpolation_ratio`; NaN: none; None: pooled over these rows)."""
    from calcium.signal.bandlimit import band_limits

    out = np.full(traces.shape[0], np.nan)
    finite = np.flatnonzero(np.all(np.isfinite(traces), axis=1))
    if finite.size:
        rates, interpolated = band_limits(traces[finite], frame_rate_hz, session_ratio=session_ratio)
        out[finite[interpolated]] = rates[interpolated]
    return out


def _by_neuron(parts: list, order: list[str]):
    """One table from per-trial tables, sorted by `order` (neuron, then frame), as the
    continuous recording's tables are."""
    import pandas as pd

    table = pd.concat(parts, ignore_index=True)
    return table.sort_values(order, kind="stable", ignore_index=True)
