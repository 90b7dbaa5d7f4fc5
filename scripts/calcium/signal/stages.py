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
    """ΔF/F = (F − F0)/F0 with F0 a low percentile (`calcium.signal.dff`); ΔF/F input passes unchanged."""
    if input_kind == "dff":
        return BlockResult((fluorescence.astype(np.float32, copy=False),))
    from calcium.signal.dff import baseline_f0, delta_f_over_f

    f0 = baseline_f0(fluorescence, percentile, window_s, frame_rate_hz)
    ids = np.arange(rows.start, rows.stop)
    return BlockResult((delta_f_over_f(fluorescence, f0, min_f0, low_f0, ids).astype(np.float32),))


def detrend(rows: slice, traces: np.ndarray, frame_rate_hz: float, **settings) -> BlockResult:
    """Fluctuations slower than slow_drift_s removed (`calcium.signal.detrend.detrend`)."""
    from calcium.signal.detrend import detrend as remove_drift

    return BlockResult((remove_drift(traces, frame_rate_hz, **settings),))


def denoise(rows: slice, traces: np.ndarray, **settings) -> BlockResult:
    """Wavelet denoising (`calcium.signal.denoise.wavelet_denoise`)."""
    from calcium.signal.denoise import wavelet_denoise

    return BlockResult((wavelet_denoise(traces, **settings),))


def spike_times(
    rows: slice,
    spikes: np.ndarray,
    frame_rate_hz: float,
    amplitude_noise: np.ndarray,
    start_time_s: float = 0.0,
    lag_s: float | np.ndarray = 0.0,
    effective_rate_hz: np.ndarray | None = None,
    **thresholds,
) -> BlockResult:
    """Spike frames where s crosses the threshold (`calcium.signal.spikes.detect_spikes`), as table rows."""
    from calcium.signal.spikes import detect_spikes

    table = detect_spikes(
        spikes,
        frame_rate_hz,
        neuron_ids=np.arange(rows.start, rows.stop),
        amplitude_noise=np.asarray(amplitude_noise)[rows],
        lag_s=np.broadcast_to(np.asarray(lag_s, dtype=float), np.shape(amplitude_noise))[rows],
        effective_rate_hz=None if effective_rate_hz is None else np.asarray(effective_rate_hz)[rows],
        start_time_s=start_time_s,
        **thresholds,
    )
    return BlockResult((), (table,))


def events(
    rows: slice, traces: np.ndarray, frame_rate_hz: float, start_time_s: float = 0.0, **settings
) -> BlockResult:
    """Calcium events and per-neuron thresholds (`calcium.population.events.detect_events`), as table rows."""
    from calcium.population.events import detect_events

    found, thresholds = detect_events(
        traces,
        frame_rate_hz,
        neuron_ids=np.arange(rows.start, rows.stop),
        start_time_s=start_time_s,
        **settings,
    )
    return BlockResult((), (found, thresholds))
