"""Discrete spike times from deconvolved activity s by thresholding.

Time base: frame k is at start_time_s + k / frame_rate_hz (start_time_s = the
time of frame 0 on the session's clock); spike times are that minus lag_s, the
timing correction of the deconvolution (calcium.signal.deconvolution_settings.kinetic_lag_s).
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pandas as pd

SPIKE_METHODS = ("noise", "noise_pairs", "absolute", "fraction_of_max", "percentile", "k_sigma", "peaks")


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
            calcium.signal.bandlimit.effective_frame_rate).
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

    "noise" (the default) and the other threshold methods: each frame with s strictly
    above the threshold (and above 0) is a spike, as in thresholding OASIS output.
    "noise_pairs": the threshold of "noise" on the sum of s over a pair of adjacent frames
    of the neuron's grid (its effective rate, `effective_rate_hz`, or frame_rate_hz), pairs
    taken greedily (`_merged_spikes`): a spike that falls between two frames splits its
    deconvolved amplitude over both, which thresholding frames alone counts 0, 1 or 2 times
    depending on where the frames fall. Each frame is tested in the two pairs it belongs
    to, so k_noise "auto" is taken at half false_positive_rate_hz. Counts hold better
    (docs/accuracy.md, "Spike inference on real ground truth"), but two spikes in adjacent frames
    count as one, so spike counts in 40 ms bins correlate less with the truth.
    "peaks" keeps the local maxima of s at least `min_height` high and `min_distance_s`
    seconds apart (scipy.signal.find_peaks).
    Returns a tidy table, one row per spike: neuron, frame, time_s (= start_time_s +
    frame / frame_rate_hz − lag_s, on the recording's clock; lag_s a number or one per
    row), amplitude_dff (s at that
    frame, or the pair's sum for "noise_pairs", in the units of the deconvolved trace: ΔF/F per
    frame), sorted by neuron then frame.
    """
    spikes = np.asarray(spikes, dtype=np.float32)
    ids = np.arange(spikes.shape[0]) if neuron_ids is None else np.asarray(neuron_ids)
    thresholds = spike_thresholds(
        spikes,
        "noise" if method == "noise_pairs" else method,
        absolute,
        fraction_of_max,
        percentile,
        k_sigma,
        min_height,
        k_noise,
        amplitude_noise,
        frame_rate_hz if effective_rate_hz is None else effective_rate_hz,
        # "noise_pairs" tests each frame in the two pairs it belongs to (`_merged_spikes`): half
        # the false-positive budget each, so that noise alone still gives about the rate asked for
        false_positive_rate_hz / 2 if method == "noise_pairs" else false_positive_rate_hz,
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
    elif method == "noise_pairs":
        rates = np.broadcast_to(
            np.asarray(frame_rate_hz if effective_rate_hz is None else effective_rate_hz, dtype=float),
            (spikes.shape[0],),
        )
        rows, frames, amplitudes = _merged_spikes(spikes, thresholds, float(frame_rate_hz), rates)
    else:
        above = (spikes > thresholds[:, None]) & (spikes > 0)
        rows, frames = np.nonzero(above)
    if method != "noise_pairs":
        amplitudes = spikes[rows, frames].astype(np.float64)
    return pd.DataFrame(
        {
            "neuron": ids[rows].astype(np.int64),
            "frame": frames.astype(np.int64),
            "time_s": float(start_time_s)
            + frames / float(frame_rate_hz)
            - np.broadcast_to(np.asarray(lag_s, dtype=float), (spikes.shape[0],))[rows],
            "amplitude_dff": amplitudes,
        }
    )


def _merged_spikes(
    spikes: np.ndarray, thresholds: np.ndarray, frame_rate_hz: float, rates_hz: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, frames, amplitudes) of the spikes of method "noise_pairs": s on each row's own grid
    (its effective rate, where `calcium.deconvolve.deconvolve_traces` placed one value per
    frame of that rate), adjacent frames merged in pairs.

    A spike between two frames of the grid is seen by both (each integrates part of the
    response), so its deconvolved amplitude splits over the two: thresholding frames alone
    counts it 0, 1 or 2 times depending on where it fell, and a recording resampled onto
    another grid gets another count. A spike is therefore the sum of s over a pair of
    adjacent frames (one frame at the grid's ends), and pairs are taken greedily: in
    rounds, every pair whose sum exceeds the threshold and is larger than the sums of the
    two pairs overlapping it (the left one strictly) is a spike and its two frames are
    used; repeated until no pair is left (a few rounds: rounds, not frames, are the loop).
    A spike is placed at the larger of its two frames, with the pair's sum as its
    amplitude. Two spikes in adjacent frames whose sum exceeds the threshold count as one
    (the grid cannot tell them from one split spike); three count as two.
    """
    spikes = np.asarray(spikes, dtype=np.float32)
    n_frames = spikes.shape[1]
    out_rows, out_frames, out_amplitudes = [], [], []
    unique = np.unique(rates_hz)
    for rate in unique:
        members = np.flatnonzero(rates_hz == rate) if unique.size > 1 else np.arange(spikes.shape[0])
        ratio = frame_rate_hz / rate if rate < frame_rate_hz else 1.0
        block = spikes[members] if unique.size > 1 else spikes
        if ratio > 1.0:  # onto the row's grid: frame j of it sits at rint(j * ratio)
            slot = np.rint(np.arange(n_frames) / ratio).astype(np.int64)  # steps of 0 or 1
            starts = np.flatnonzero(np.diff(slot, prepend=-1))
            grid = np.add.reduceat(np.maximum(block, np.float32(0.0)), starts, axis=1)
            to_frame = np.minimum(np.rint(np.arange(grid.shape[1]) * ratio).astype(np.int64), n_frames - 1)
        else:
            grid = np.maximum(block, np.float32(0.0))  # a copy (s >= 0 by the model)
            to_frame = np.arange(n_frames)
        threshold = np.asarray(thresholds, dtype=float)[members, None]
        while True:  # memory: grid, pair and two boolean arrays of the block
            pair = grid.copy()  # pair j: frames j and j + 1
            pair[:, :-1] += grid[:, 1:]
            chosen = pair > threshold
            chosen[:, 1:] &= pair[:, 1:] > pair[:, :-1]  # larger than the pair on its left
            chosen[:, :-1] &= pair[:, :-1] >= pair[:, 1:]  # at least the pair on its right
            if not chosen.any():
                break
            row, j = np.nonzero(chosen)
            nxt = np.minimum(j + 1, grid.shape[1] - 1)
            at = np.where(grid[row, nxt] > grid[row, j], nxt, j)
            out_rows.append(members[row])
            out_frames.append(to_frame[at])
            out_amplitudes.append(pair[row, j].astype(np.float64))
            grid[row, j] = 0.0
            grid[row, nxt] = 0.0
    if not out_rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    rows, frames, amplitudes = (np.concatenate(v) for v in (out_rows, out_frames, out_amplitudes))
    order = np.lexsort((frames, rows))
    return rows[order], frames[order], amplitudes[order]


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
