"""What each per-neuron rule computes for one block of neurons (see `calcium.blocks`).

Each function takes the block's rows (a slice of neuron ids), the block's rows of the
rule's input arrays, and plain settings, and returns a `BlockResult`: the block's rows of
the output arrays (float32, neurons x frames) and of its tables. They are module-level so
that `calcium.blocks.process_blocks` can run them in other processes.
"""

from __future__ import annotations

import numpy as np

from .blocks import BlockResult


def dff(
    rows: slice,
    fluorescence: np.ndarray,
    input_kind: str = "raw",
    percentile: float = 25.0,
    window_s: float | None = None,
    min_f0: float = 1e-3,
    low_f0: str = "error",
    frame_rate_hz: float = 1.0,
) -> BlockResult:
    """ΔF/F = (F − F0)/F0 with F0 a low percentile (`calcium.dff`); ΔF/F input passes unchanged."""
    if input_kind == "dff":
        return BlockResult((fluorescence.astype(np.float32, copy=False),))
    from .dff import baseline_f0, delta_f_over_f

    f0 = baseline_f0(fluorescence, percentile, window_s, frame_rate_hz)
    ids = np.arange(rows.start, rows.stop)
    return BlockResult((delta_f_over_f(fluorescence, f0, min_f0, low_f0, ids).astype(np.float32),))


def detrend(rows: slice, traces: np.ndarray, frame_rate_hz: float, **settings) -> BlockResult:
    """Fluctuations slower than slow_drift_s removed (`calcium.detrend.detrend`)."""
    from .detrend import detrend as remove_drift

    return BlockResult((remove_drift(traces, frame_rate_hz, **settings),))


def denoise(rows: slice, traces: np.ndarray, **settings) -> BlockResult:
    """Wavelet denoising (`calcium.denoise.wavelet_denoise`)."""
    from .denoise import wavelet_denoise

    return BlockResult((wavelet_denoise(traces, **settings),))


def deconvolve(
    rows: slice, traces: np.ndarray, frame_rate_hz: float, smoothing_s: float, lag_s: float, **oasis
) -> BlockResult:
    """OASIS: calcium, spike amplitudes and the smoothed, lag-corrected activity, with a
    per-neuron table (baseline, AR coefficients and time constants, λ, noise, spike sum)."""
    import pandas as pd

    from .deconvolve import ar_to_time_constants, deconvolve_traces, smooth_activity, spike_amplitude_noise

    neurons = np.arange(rows.start, rows.stop)
    result = deconvolve_traces(traces, frame_rate_hz, neuron_ids=neurons, **oasis)
    taus = np.array([ar_to_time_constants(g1, g2, frame_rate_hz) for g1, g2 in result.g]).reshape(-1, 2)
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
        }
    )
    activity = smooth_activity(result.spikes, frame_rate_hz, smoothing_s, lag_s)
    return BlockResult((result.calcium, result.spikes, activity), (table,))


def spike_times(
    rows: slice,
    spikes: np.ndarray,
    frame_rate_hz: float,
    amplitude_noise: np.ndarray,
    start_time_s: float = 0.0,
    lag_s: float = 0.0,
    **thresholds,
) -> BlockResult:
    """Spike frames where s crosses the threshold (`calcium.spikes.detect_spikes`), as table rows."""
    from .spikes import detect_spikes

    table = detect_spikes(
        spikes,
        frame_rate_hz,
        neuron_ids=np.arange(rows.start, rows.stop),
        amplitude_noise=np.asarray(amplitude_noise)[rows],
        lag_s=lag_s,
        start_time_s=start_time_s,
        **thresholds,
    )
    return BlockResult((), (table,))


def events(
    rows: slice, traces: np.ndarray, frame_rate_hz: float, start_time_s: float = 0.0, **settings
) -> BlockResult:
    """Calcium events and per-neuron thresholds (`calcium.events.detect_events`), as table rows."""
    from .events import detect_events

    found, thresholds = detect_events(
        traces,
        frame_rate_hz,
        neuron_ids=np.arange(rows.start, rows.stop),
        start_time_s=start_time_s,
        **settings,
    )
    return BlockResult((), (found, thresholds))


def concat_tables(tables: list[tuple], which: int = 0):
    """One table (DataFrame) from the `which`-th table of every block (in block order)."""
    import pandas as pd

    parts = [block[which] for block in tables]
    nonempty = [part for part in parts if len(part)]
    return pd.concat(nonempty, ignore_index=True) if nonempty else parts[0].iloc[0:0]
