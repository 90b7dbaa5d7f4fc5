"""Coactivity (neurons with an event per time bin) and its circular-shift null.

Events are reduced to a sparse binary raster: the set of (neuron, bin) pairs in
which the neuron has at least one event. Everything here works on those pairs,
never on a dense neurons × frames matrix.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class ActiveBins(NamedTuple):
    """Sparse binary event raster: neuron i is active in bin b for each (neurons[k], bins[k]).

    frames_per_bin: (n_bins,) number of frames each bin holds (at 4.8 Hz a 0.5 s bin
        holds 2 or 3 frames; at 1.045 Hz half of the 0.5 s bins hold none), or None
        when every bin holds the same number of frames.
    sizes: (pairs,) size of each pair's largest event in units of the neuron's median event size
        (`calcium.population.event_sizes.with_event_sizes`), or None: presence only.
    """

    neurons: np.ndarray
    bins: np.ndarray
    n_neurons: int
    n_bins: int
    frames_per_bin: np.ndarray | None = None
    sizes: np.ndarray | None = None

    @property
    def held_bins(self) -> np.ndarray:
        """(n_bins,) bool: the bins holding at least one frame (all of them when
        frames_per_bin is None)."""
        if self.frames_per_bin is None:
            return np.ones(self.n_bins, bool)
        return np.asarray(self.frames_per_bin) > 0


def sorted_unique(keys: np.ndarray) -> np.ndarray:
    """np.unique(keys) for integer keys made of a few sorted runs (e.g. events listed by
    neuron then frame, or such a list shifted by a few offsets one after the other).

    A stable sort (timsort for integers) merges sorted runs in linear time, where np.unique
    sorts from scratch: 1.5 M keys of a 10^9-sample session take 4 ms instead of 1.4 s.
    """
    keys = np.sort(np.asarray(keys), kind="stable")
    if keys.size < 2:
        return keys
    first = np.empty(keys.size, dtype=bool)
    first[0] = True
    np.not_equal(keys[1:], keys[:-1], out=first[1:])
    return keys[first]


def bin_count(n_frames: int, frame_rate_hz: float, bin_s: float) -> int:
    """Number of bins of bin_s seconds covering n_frames frames (the last may be partial)."""
    return max(1, int(np.ceil(n_frames / frame_rate_hz / bin_s - 1e-9)))


def frame_bins(frames: np.ndarray, frame_rate_hz: float, bin_s: float) -> np.ndarray:
    """Bin index of each frame: floor(frame / frame_rate_hz / bin_s).

    Bins are exactly bin_s seconds wide, whatever the frame rate (at 4.8 Hz a
    0.5 s bin holds 2 or 3 frames).
    """
    return np.floor(np.asarray(frames, dtype=np.float64) / frame_rate_hz / bin_s + 1e-9).astype(np.int64)


def frames_per_bin(n_frames: int, frame_rate_hz: float, bin_s: float) -> np.ndarray:
    """Number of frames in each bin, (n_bins,) int64 (0 for bins shorter than a frame interval)."""
    n_bins = bin_count(n_frames, frame_rate_hz, bin_s)
    return np.bincount(frame_bins(np.arange(n_frames), frame_rate_hz, bin_s), minlength=n_bins)[:n_bins]


def _check_events(neurons: np.ndarray, frames: np.ndarray, n_neurons: int, n_frames: int) -> None:
    if frames.size and (frames.max() >= n_frames or frames.min() < 0):
        raise ValueError("event frames outside the recording")
    if neurons.size and (neurons.max() >= n_neurons or neurons.min() < 0):
        raise ValueError("event neurons outside 0..n_neurons-1")


def active_bins(
    event_neurons: np.ndarray,
    event_frames: np.ndarray,
    n_neurons: int,
    n_frames: int,
    frame_rate_hz: float,
    bin_s: float = 0.5,
) -> ActiveBins:
    """Unique (neuron, bin) pairs holding at least one event; bins of bin_s seconds cover all frames.

    A last, partial bin is kept (it holds fewer frames, which the null accounts
    for; a neuron counts once per bin). The raster records the frames per bin.
    """
    n_bins = bin_count(n_frames, frame_rate_hz, bin_s)
    neurons = np.asarray(event_neurons, dtype=np.int64)
    frames = np.asarray(event_frames, dtype=np.int64)
    _check_events(neurons, frames, n_neurons, n_frames)
    bins = frame_bins(frames, frame_rate_hz, bin_s)
    keys = sorted_unique(neurons * n_bins + bins)
    return ActiveBins(
        keys // n_bins,
        keys % n_bins,
        int(n_neurons),
        int(n_bins),
        frames_per_bin(n_frames, frame_rate_hz, bin_s),
    )


def coactivity(raster: ActiveBins) -> np.ndarray:
    """Number of active neurons in each bin, (n_bins,) int64."""
    return np.bincount(raster.bins, minlength=raster.n_bins)


def _window_counts(
    bins: np.ndarray, previous: np.ndarray, counted: np.ndarray, n_bins: int, jitter_bins: int
) -> np.ndarray:
    """Neurons active within ± jitter_bins of each bin, (rows, n_bins), from each row's active bins.

    bins: (rows, k) active bin of each entry; previous: the bin of the entry before it
    in the neuron's (circular) order, overwritten; counted: the entries to count (one
    per active bin of a neuron). Each counted bin b covers [b - j, b + j], minus what
    the neuron's previous active bin already covers when that one lies before it (not
    at a wrap-around), clipped to the recording: a difference array, then a cumsum.
    """
    rows = bins.shape[0]
    width = n_bins + 1
    offset = (np.arange(rows, dtype=bins.dtype) * width)[:, None]
    unused = rows * width  # one extra slot collects the entries not counted
    follows = previous < bins
    start = bins - jitter_bins
    previous += jitter_bins + 1
    np.maximum(start, previous, out=start, where=follows)
    np.clip(start, 0, n_bins, out=start)  # start == end (both n_bins) cancels out
    start += offset
    np.putmask(start, ~counted, unused)
    end = bins + (jitter_bins + 1)
    np.minimum(end, n_bins, out=end)
    end += offset
    np.putmask(end, ~counted, unused)
    steps = np.bincount(start.ravel(), minlength=unused + 1)[:-1]
    steps -= np.bincount(end.ravel(), minlength=unused + 1)[:-1]
    return np.cumsum(steps.reshape(rows, width), axis=1)[:, :n_bins]


def window_coactivity(raster: ActiveBins, jitter_bins: int = 0) -> np.ndarray:
    """Neurons active within ± jitter_bins bins of each bin, (n_bins,) int64.

    jitter_bins 0: the coactivity of each bin. 1: neurons active in the bin or
    either neighbour, so the members of one activation whose onsets spread over
    neighbouring bins count together (a window of 3 bins sliding by one bin).
    Windows at the edges of the recording are clipped.
    """
    if jitter_bins == 0:
        return coactivity(raster)
    if raster.bins.size == 0:
        return np.zeros(raster.n_bins, dtype=np.int64)
    order = np.lexsort((raster.bins, raster.neurons))
    neurons, bins = raster.neurons[order], raster.bins[order]
    previous = np.concatenate([[-1], bins[:-1]])
    previous[np.concatenate([[True], neurons[1:] != neurons[:-1]])] = raster.n_bins  # first: none before
    counts = _window_counts(
        bins[None, :], previous[None, :], np.ones((1, bins.size), bool), raster.n_bins, jitter_bins
    )
    return counts[0].astype(np.int64)


def window_frames(frames_per_bin: np.ndarray, jitter_bins: int = 0) -> np.ndarray:
    """Frames within ± jitter_bins bins of each bin (windows clipped at the edges), (n_bins,) int64."""
    frames_per_bin = np.asarray(frames_per_bin, dtype=np.int64)
    if jitter_bins == 0:
        return frames_per_bin.copy()
    cumulative = np.concatenate([[0], np.cumsum(frames_per_bin)])
    index = np.arange(frames_per_bin.size)
    return (
        cumulative[np.minimum(index + jitter_bins + 1, frames_per_bin.size)]
        - cumulative[np.maximum(index - jitter_bins, 0)]
    )


def statistic_scale(n_neurons: int, jitter_bins: int) -> int:
    """Units of the tested statistic per neuron: n_neurons + 1 with a jitter window, else 1."""
    return n_neurons + 1 if jitter_bins else 1


def coactivity_statistic(raster: ActiveBins, jitter_bins: int = 0) -> np.ndarray:
    """The statistic tested against the null for each bin, (n_bins,) int64.

    jitter_bins 0: the coactivity (neurons active in the bin). > 0: neurons active
    within ± jitter_bins bins, ties broken by the neurons active in the bin itself,
    as one integer W·(n_neurons + 1) + C (W: window, C: bin; W = the statistic divided
    by `statistic_scale`, rounded down). Counts are integers, so many bins tie at
    the threshold and a test of "more than the null's 99th percentile" would reject
    well under 1% of the time; the tie-break makes the test's size close to its
    nominal level, and among windows with as many neurons it prefers the ones where
    they fire closer together.
    """
    return combined_statistic(
        window_coactivity(raster, jitter_bins), coactivity(raster), raster.n_neurons, jitter_bins
    )


def combined_statistic(
    n_active_window: np.ndarray, n_active: np.ndarray, n_neurons: int, jitter_bins: int
) -> np.ndarray:
    """`coactivity_statistic` from the counts: W·(n_neurons + 1) + C with a jitter window, else C."""
    if jitter_bins == 0:
        return np.asarray(n_active, dtype=np.int64)
    window = np.asarray(n_active_window, dtype=np.int64)
    return window * statistic_scale(n_neurons, jitter_bins) + np.asarray(n_active, dtype=np.int64)


def significant_bins(
    statistic: np.ndarray, thresholds: np.ndarray, min_active: int = 2, n_active: np.ndarray | None = None
) -> np.ndarray:
    """Bins that are ensemble events, (n_bins,) bool: statistic > threshold and n_active >= min_active.

    statistic, thresholds: the tested statistic and its null threshold per bin;
    n_active: the neurons counted (within the jitter window); default the statistic
    itself (jitter_bins 0). min_active: coactivity that one neuron can produce is
    not coactivity; in a sparse session the null's threshold can be 0, and then
    this floor decides.
    """
    statistic = np.asarray(statistic)
    n_active = statistic if n_active is None else np.asarray(n_active)
    return (statistic > np.asarray(thresholds)) & (n_active >= min_active)


def significant_without_each(
    statistic: np.ndarray,
    thresholds: np.ndarray,
    n_active: np.ndarray,
    in_window: np.ndarray,
    in_bin: np.ndarray,
    n_neurons: int,
    jitter_bins: int,
    min_active: int = 2,
) -> np.ndarray:
    """Whether each ensemble event would still be one without each neuron, (events, neurons) bool.

    statistic, thresholds, n_active: per event (at its peak bin); in_window /
    in_bin: (events, neurons) neurons active within the jitter window / in the peak
    bin itself (`contributions` with jitter_bins and 0). Removing neuron i lowers the
    window count by in_window[e, i] and the bin count by in_bin[e, i]. Ensemble
    events are chosen because many neurons are active, so a neuron's presence makes
    a bin likelier to be chosen; testing its participation only on events that are
    ensemble events without it removes that bias (leave-one-out).
    """
    window = np.asarray(in_window, dtype=np.int64)
    centre = np.asarray(in_bin, dtype=np.int64)
    n_active = np.asarray(n_active, dtype=np.int64)[:, None] - window
    tested = np.asarray(statistic, dtype=np.int64)[:, None] - (
        window * statistic_scale(n_neurons, jitter_bins) + centre if jitter_bins else centre
    )
    return (tested > np.asarray(thresholds, dtype=np.float64)[:, None]) & (n_active >= min_active)


def group_ensemble_events(significant: np.ndarray, n_active: np.ndarray, jitter_bins: int = 0):
    """Merge significant bins of one activation into ensemble events.

    Significant bins at most 2·jitter_bins apart (their ± jitter_bins windows
    overlap) belong to one event; jitter_bins 0 keeps every significant bin as its
    own event. Returns (peak, first, last) bin of each event, (events,) int64 each:
    the peak is the event's bin with the most active neurons (the earliest of ties).
    """
    bins = np.flatnonzero(np.asarray(significant))
    if bins.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    new = np.concatenate([[True], np.diff(bins) > 2 * jitter_bins])
    starts = np.flatnonzero(new)
    first = bins[starts]
    last = bins[np.concatenate([starts[1:], [bins.size]]) - 1]
    n = np.asarray(n_active)[bins]
    label = np.cumsum(new) - 1
    # Earliest bin with the run's largest count: sort by (event, -count, bin).
    order = np.lexsort((bins, -n, label))
    peak = bins[order[np.searchsorted(label[order], np.arange(starts.size))]]
    return peak.astype(np.int64), first.astype(np.int64), last.astype(np.int64)


def contributions(raster: ActiveBins, bins: np.ndarray, jitter_bins: int = 0) -> np.ndarray:
    """Binary matrix (len(bins), n_neurons): which neurons are active within ± jitter_bins of each bin.

    jitter_bins: 0 - active in the bin itself; 1 - in the bin or either neighbour
    (members of one activation whose onsets spread over neighbouring bins).
    """
    bins = np.asarray(bins, dtype=np.int64)
    matrix = np.zeros((bins.size, raster.n_neurons), dtype=bool)
    if bins.size == 0:
        return matrix
    for shift in range(-jitter_bins, jitter_bins + 1):
        target = bins + shift
        inside = (target >= 0) & (target < raster.n_bins)
        position = np.full(raster.n_bins, -1, dtype=np.int64)
        # Several requested bins can share a target only if they are < 2·jitter apart; then the
        # later one wins here and the loop over shifts fills the other through its own target.
        position[target[inside]] = np.flatnonzero(inside)
        keep = position[raster.bins] >= 0
        matrix[position[raster.bins[keep]], raster.neurons[keep]] = True
    return matrix


def window_activity(
    raster: ActiveBins, jitter_bins: int = 0, exclude: np.ndarray | None = None
) -> np.ndarray:
    """Fraction of bins b in which each neuron is active within b ± jitter_bins, (n_neurons,).

    The chance that a neuron takes part in an event whose window is placed without
    regard to it, with the jitter tolerance of `contributions`. Bins holding no
    frame are left out (nothing can happen in them), and so are the bins in
    `exclude` ((n_bins,) bool, e.g. around an ensemble's own events, whose
    activity is what is being tested). Sparse: O(active pairs x (2·jitter_bins + 1)).
    """
    holds = raster.held_bins
    if exclude is not None:
        holds = holds & ~np.asarray(exclude, dtype=bool)
    if raster.bins.size == 0 or not holds.any():
        return np.zeros(raster.n_neurons)
    shifts = np.arange(-jitter_bins, jitter_bins + 1)
    # One sorted run per shift (the raster is sorted by neuron, then bin): merged in O(n).
    covered = (shifts[:, None] + raster.bins[None, :]).ravel()
    neurons = np.tile(raster.neurons, shifts.size)
    inside = (covered >= 0) & (covered < raster.n_bins)
    inside[inside] &= holds[covered[inside]]
    keys = sorted_unique(neurons[inside] * raster.n_bins + covered[inside])
    return np.bincount(keys // raster.n_bins, minlength=raster.n_neurons) / holds.sum()


def participation_chance(
    raster: ActiveBins, peaks: np.ndarray, labels: np.ndarray, n_ensembles: int, jitter_bins: int = 0
) -> np.ndarray:
    """Chance that each neuron takes part in one event of each ensemble, (n_ensembles, n_neurons).

    `window_activity` outside the ensemble's own events: the bins within
    ± 2·jitter_bins of its events' peak bins (every window that overlaps an event's
    window) are left out, so a member's activity in the ensemble does not raise
    its own chance level. peaks: (events,) peak bin of each ensemble event;
    labels: (events,) ensemble of each event (-1: none).
    """
    chance = np.zeros((n_ensembles, raster.n_neurons))
    reach = np.arange(-2 * jitter_bins, 2 * jitter_bins + 1)
    for e in range(n_ensembles):
        near = (np.asarray(peaks)[np.asarray(labels) == e][:, None] + reach[None, :]).ravel()
        exclude = np.zeros(raster.n_bins, dtype=bool)
        exclude[near[(near >= 0) & (near < raster.n_bins)]] = True
        chance[e] = window_activity(raster, jitter_bins, exclude)
    return chance


def event_frames(events, event_time: str = "onset") -> tuple[np.ndarray, np.ndarray]:
    """(neurons, frames) of an events table, placing each event by its onset or peak frame."""
    column = {"onset": "onset_frame", "peak": "peak_frame"}[event_time]
    return events["neuron"].to_numpy(dtype=np.int64), events[column].to_numpy(dtype=np.int64)


def raster_from_events(
    events, n_neurons: int, n_frames: int, frame_rate_hz: float, bin_s: float = 0.5, event_time: str = "onset"
) -> ActiveBins:
    """Sparse binary raster from an events table, placing each event by its onset or peak frame."""
    column = {"onset": "onset_frame", "peak": "peak_frame"}[event_time]
    return active_bins(
        events["neuron"].to_numpy(), events[column].to_numpy(), n_neurons, n_frames, frame_rate_hz, bin_s
    )
