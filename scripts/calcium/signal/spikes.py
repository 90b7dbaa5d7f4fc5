"""Discrete spike times from deconvolved activity s by thresholding.

Time base: frame k is at start_time_s + k / frame_rate_hz (start_time_s = the
time of frame 0 on the session's clock); spike times are that minus lag_s, the
timing correction of the deconvolution (calcium.signal.deconvolve.kinetic_lag_s).
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pandas as pd

SPIKE_METHODS = ("noise", "absolute", "fraction_of_max", "percentile", "k_sigma", "peaks")


def noise_threshold_k(frame_rate_hz: float, false_positive_rate_hz: float = 0.01) -> float:
    """Threshold in noise SDs that pure noise crosses false_positive_rate_hz times per second.

    k = Φ⁻¹(1 − r / fs): each frame is one draw of a (Gaussian) amplitude estimate, so
    a frame rate fs gives fs draws per second. r = 0.01 Hz: k = 3.0 at 7.5 Hz, 3.4 at
    30 Hz, 3.8 at 122 Hz.
    """
    if false_positive_rate_hz <= 0 or false_positive_rate_hz >= frame_rate_hz:
        raise ValueError("false_positive_rate_hz must be in (0, frame rate)")
    # Φ⁻¹(1 − p) = −Φ⁻¹(p), computed at p (no 1 − p round-off); the standard library's
    # inverse normal CDF spares the spike-time jobs scipy.stats' ~1 s import.
    return -NormalDist().inv_cdf(false_positive_rate_hz / frame_rate_hz)


def spike_thresholds(
    spikes: np.ndarray,
    method: str = "noise",
    absolute: float = 0.1,
    fraction_of_max: float = 0.1,
    percentile: float = 95.0,
    k_sigma: float = 3.0,
    min_height: float = 0.0,
    k_noise: float | str = "auto",
    amplitude_noise: np.ndarray | None = None,
    frame_rate_hz: float | None = None,
    false_positive_rate_hz: float = 0.01,
) -> np.ndarray:
    """Per-neuron threshold on the spike amplitudes s (input units of s).

    method:
        "noise": k_noise · amplitude_noise, amplitude_noise the SD of a spike's
            amplitude estimate due to the recording's noise
            (calcium.signal.deconvolve.spike_amplitude_noise: sn·sqrt(1 − g²) for AR(1)),
            per neuron: at the same noise per second (ν) it is the same in ΔF/F at
            any frame rate. k_noise "auto" = `noise_threshold_k(frame_rate_hz,
            false_positive_rate_hz)`: noise alone gives false_positive_rate_hz false
            spikes per second at 7.5 Hz as at 122 Hz. frame_rate_hz may be
            per neuron (the rate each was deconvolved at, see
            calcium.signal.deconvolve.effective_frame_rate).
        "absolute": the same value `absolute` for every neuron.
        "fraction_of_max": fraction_of_max · max_t s (per neuron).
        "percentile": the `percentile`-th percentile of s (per neuron).
        "k_sigma": mean + k_sigma · SD of s (per neuron).
        "peaks": `min_height` (peak finding, see `detect_spikes`).
    Returns (neurons,) thresholds.
    """
    spikes = np.asarray(spikes)
    if method == "noise":
        if amplitude_noise is None:
            raise ValueError("method 'noise' needs amplitude_noise (per-neuron SD of spike amplitudes)")
        noise = np.asarray(amplitude_noise, dtype=float)
        if noise.shape != (spikes.shape[0],):
            raise ValueError(f"amplitude_noise has shape {noise.shape}; expected ({spikes.shape[0]},)")
        if k_noise == "auto":
            if frame_rate_hz is None:
                raise ValueError("k_noise 'auto' needs frame_rate_hz")
            rates = np.broadcast_to(np.asarray(frame_rate_hz, dtype=float), noise.shape)
            k = np.array([noise_threshold_k(rate, false_positive_rate_hz) for rate in np.unique(rates)])
            k_noise = k[np.searchsorted(np.unique(rates), rates)]
        return np.asarray(k_noise, dtype=float) * np.where(np.isfinite(noise), noise, np.inf)
    if method == "absolute":
        return np.full(spikes.shape[0], float(absolute))
    if method == "fraction_of_max":
        return fraction_of_max * spikes.max(axis=1)
    if method == "percentile":
        return np.percentile(spikes, percentile, axis=1)
    if method == "k_sigma":
        return spikes.mean(axis=1) + k_sigma * spikes.std(axis=1)
    if method == "peaks":
        return np.full(spikes.shape[0], float(min_height))
    raise ValueError(f"unknown spike threshold method {method!r}; choose one of {SPIKE_METHODS}")


def detect_spikes(
    spikes: np.ndarray,
    frame_rate_hz: float,
    method: str = "noise",
    absolute: float = 0.1,
    fraction_of_max: float = 0.1,
    percentile: float = 95.0,
    k_sigma: float = 3.0,
    min_height: float = 0.0,
    min_distance_s: float = 0.0,
    neuron_ids: np.ndarray | None = None,
    k_noise: float | str = "auto",
    amplitude_noise: np.ndarray | None = None,
    false_positive_rate_hz: float = 0.01,
    lag_s: float | np.ndarray = 0.0,
    start_time_s: float = 0.0,
    effective_rate_hz: np.ndarray | None = None,
) -> pd.DataFrame:
    """Spike frames where s exceeds a per-neuron threshold (see `spike_thresholds`).

    For every method but "peaks", each frame with s strictly above the threshold
    (and above 0) is a spike, as in thresholding OASIS output. "peaks" keeps the
    local maxima of s at least `min_height` high and `min_distance_s` seconds
    apart (scipy.signal.find_peaks).
    Returns a tidy table, one row per spike: neuron, frame, time_s (= start_time_s +
    frame / frame_rate_hz − lag_s, on the recording's clock; lag_s a number or one per
    row), amplitude_dff (s at that
    frame, in the units of the deconvolved trace: ΔF/F per frame), sorted by neuron then
    frame.
    """
    spikes = np.asarray(spikes, dtype=np.float32)
    ids = np.arange(spikes.shape[0]) if neuron_ids is None else np.asarray(neuron_ids)
    thresholds = spike_thresholds(
        spikes,
        method,
        absolute,
        fraction_of_max,
        percentile,
        k_sigma,
        min_height,
        k_noise,
        amplitude_noise,
        frame_rate_hz if effective_rate_hz is None else effective_rate_hz,
        false_positive_rate_hz,
    )
    if method == "peaks":
        import scipy.signal  # only this method needs it (a slow import)

        distance = max(1, int(round(min_distance_s * frame_rate_hz)))
        rows, frames = [], []
        for row in range(spikes.shape[0]):
            peaks, _ = scipy.signal.find_peaks(
                spikes[row], height=max(min_height, np.finfo(np.float32).tiny), distance=distance
            )
            rows.append(np.full(peaks.size, row))
            frames.append(peaks)
        rows = np.concatenate(rows) if rows else np.zeros(0, int)
        frames = np.concatenate(frames) if frames else np.zeros(0, int)
    else:
        above = (spikes > thresholds[:, None]) & (spikes > 0)
        rows, frames = np.nonzero(above)
    return pd.DataFrame(
        {
            "neuron": ids[rows].astype(np.int64),
            "frame": frames.astype(np.int64),
            "time_s": float(start_time_s)
            + frames / float(frame_rate_hz)
            - np.broadcast_to(np.asarray(lag_s, dtype=float), (spikes.shape[0],))[rows],
            "amplitude_dff": spikes[rows, frames].astype(np.float64),
        }
    )


def spike_times_by_neuron(
    table: pd.DataFrame,
    n_neurons: int,
    frame_rate_hz: float,
    start_time_s: float = 0.0,
    lag_s: float | np.ndarray = 0.0,
) -> dict[str, np.ndarray]:
    """One float64 array of spike times (s) per neuron, keyed 'neuron_<id>' (ids 0..n-1).

    Times are computed from the table's `frame` column (start_time_s + frame /
    frame_rate_hz − lag_s, as `detect_spikes` gives them; lag_s a number or one per neuron
    id), not read back from text.
    Plain arrays (no pickled objects), suitable for np.savez.
    """
    neurons = table["neuron"].to_numpy()
    lags = np.broadcast_to(np.asarray(lag_s, dtype=float), (n_neurons,))
    times = (
        float(start_time_s)
        + table["frame"].to_numpy(dtype=np.float64) / float(frame_rate_hz)
        - lags[neurons.astype(np.int64)]
    )
    order = np.argsort(neurons, kind="stable")
    bounds = np.searchsorted(neurons[order], np.arange(n_neurons + 1))
    width = len(str(max(n_neurons - 1, 0)))
    return {f"neuron_{i:0{width}d}": times[order[bounds[i] : bounds[i + 1]]] for i in range(n_neurons)}
