"""Coactivity (neurons with an event per time bin) and its circular-shift null.

Events are reduced to a sparse binary raster: the set of (neuron, bin) pairs in
which the neuron has at least one event. Everything here works on those pairs,
never on a dense neurons × frames matrix.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class ActiveBins(NamedTuple):
    """Sparse binary event raster: neuron i is active in bin b for each (neurons[k], bins[k])."""

    neurons: np.ndarray
    bins: np.ndarray
    n_neurons: int
    n_bins: int


def bin_count(n_frames: int, frame_rate_hz: float, bin_s: float) -> int:
    """Number of bins of bin_s seconds covering n_frames frames (the last may be partial)."""
    return max(1, int(np.ceil(n_frames / frame_rate_hz / bin_s - 1e-9)))


def frame_bins(frames: np.ndarray, frame_rate_hz: float, bin_s: float) -> np.ndarray:
    """Bin index of each frame: floor(frame / frame_rate_hz / bin_s).

    Bins are exactly bin_s seconds wide, whatever the frame rate (at 4.8 Hz a
    0.5 s bin holds 2 or 3 frames).
    """
    return np.floor(np.asarray(frames, dtype=np.float64) / frame_rate_hz / bin_s + 1e-9).astype(np.int64)


def active_bins(
    event_neurons: np.ndarray,
    event_frames: np.ndarray,
    n_neurons: int,
    n_frames: int,
    frame_rate_hz: float,
    bin_s: float = 0.5,
) -> ActiveBins:
    """Unique (neuron, bin) pairs holding at least one event; bins of bin_s seconds cover all frames.

    A last, partial bin is kept (it is shorter; its coactivity is comparable
    because a neuron counts once per bin).
    """
    n_bins = bin_count(n_frames, frame_rate_hz, bin_s)
    bins = frame_bins(event_frames, frame_rate_hz, bin_s)
    neurons = np.asarray(event_neurons, dtype=np.int64)
    if bins.size and (bins.max() >= n_bins or bins.min() < 0):
        raise ValueError("event frames outside the recording")
    if neurons.size and (neurons.max() >= n_neurons or neurons.min() < 0):
        raise ValueError("event neurons outside 0..n_neurons-1")
    keys = np.unique(neurons * n_bins + bins)
    return ActiveBins(keys // n_bins, keys % n_bins, int(n_neurons), int(n_bins))


def coactivity(raster: ActiveBins) -> np.ndarray:
    """Number of active neurons in each bin, (n_bins,) int64."""
    return np.bincount(raster.bins, minlength=raster.n_bins)


def circular_shift_null(
    raster: ActiveBins, n_shuffles: int = 1000, seed: int = 0, shuffles_per_block: int | None = None
) -> np.ndarray:
    """Coactivity of `n_shuffles` surrogates, (n_shuffles, n_bins) int32.

    In each surrogate every neuron's binary event train is circularly shifted by
    its own offset drawn uniformly from 0..n_bins-1: each neuron keeps its event
    count and the autocorrelation of its train, while coincidences between
    neurons become chance. Offsets come from numpy.random.default_rng(seed).
    Only the event indices are shifted (never a dense neurons x bins matrix);
    memory is O(shuffles_per_block x active bins); by default blocks hold about
    2^22 shifted events (16 shuffles of a 324-neuron session; fewer for more).
    """
    rng = np.random.default_rng(seed)
    n_bins = raster.n_bins
    null = np.zeros((n_shuffles, n_bins), dtype=np.int32)
    offsets = rng.integers(0, n_bins, size=(n_shuffles, raster.n_neurons), dtype=np.intp)
    if raster.bins.size == 0:
        return null
    if shuffles_per_block is None:
        shuffles_per_block = int(np.clip(2**22 // raster.bins.size, 1, 16))
    order = np.argsort(raster.neurons, kind="stable")  # already sorted by `active_bins`
    bins = raster.bins[order].astype(np.intp)
    per_neuron = np.bincount(raster.neurons, minlength=raster.n_neurons)
    for first in range(0, n_shuffles, shuffles_per_block):
        block = offsets[first : first + shuffles_per_block]
        # Each event takes its neuron's offset (events are grouped by neuron).
        shifted = np.repeat(block, per_neuron, axis=1)
        shifted += bins
        shifted -= n_bins * (shifted >= n_bins)  # modulo without a division
        shifted += (np.arange(block.shape[0], dtype=np.intp) * n_bins)[:, None]
        counts = np.bincount(shifted.ravel(), minlength=block.shape[0] * n_bins)
        null[first : first + block.shape[0]] = counts.reshape(block.shape[0], n_bins)
    return null


def null_threshold(null: np.ndarray, percentile: float = 99.0, statistic: str = "pooled") -> float:
    """Coactivity threshold from the null.

    statistic: "pooled" - the `percentile` of coactivity over all bins of all
        surrogates (each bin tested at level 1 - percentile/100);
        "max" - the `percentile` of each surrogate's maximum coactivity (controls
        the chance of any false ensemble event in the whole recording).
    Real bins with coactivity strictly above the threshold are significant.
    """
    if statistic == "pooled":
        return float(np.percentile(null, percentile))
    if statistic == "max":
        return float(np.percentile(null.max(axis=1), percentile))
    raise ValueError("statistic must be 'pooled' or 'max'")


def contributions(raster: ActiveBins, bins: np.ndarray) -> np.ndarray:
    """Binary matrix (len(bins), n_neurons): which neurons are active in each given bin."""
    bins = np.asarray(bins, dtype=np.int64)
    matrix = np.zeros((bins.size, raster.n_neurons), dtype=bool)
    if bins.size == 0:
        return matrix
    position = np.full(raster.n_bins, -1, dtype=np.int64)
    position[bins] = np.arange(bins.size)
    keep = position[raster.bins] >= 0
    matrix[position[raster.bins[keep]], raster.neurons[keep]] = True
    return matrix


def raster_from_events(
    events, n_neurons: int, n_frames: int, frame_rate_hz: float, bin_s: float = 0.5, event_time: str = "onset"
) -> ActiveBins:
    """Sparse binary raster from an events table, placing each event by its onset or peak frame."""
    column = {"onset": "onset_frame", "peak": "peak_frame"}[event_time]
    return active_bins(
        events["neuron"].to_numpy(), events[column].to_numpy(), n_neurons, n_frames, frame_rate_hz, bin_s
    )


def session_raster(events, facts: dict, binning: dict) -> ActiveBins:
    """Sparse raster of a session from its events table, its recording facts
    (n_neurons, n_frames, frame_rate_hz) and the coactivity settings (bin_s, event_time)."""
    return raster_from_events(
        events,
        facts["n_neurons"],
        facts["n_frames"],
        facts["frame_rate_hz"],
        binning["bin_s"],
        binning["event_time"],
    )
