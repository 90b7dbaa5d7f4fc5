"""The circular-shift null of coactivity: each neuron's events shifted by its own random offset,
binned like the data, and the thresholds that the data's bins are compared with.

Shuffles are seeded (one generator per shuffle), shared between forked processes, and give
the same null whatever the number of processes."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from calcium.population.coactivity import (
    _check_events,
    _window_counts,
    bin_count,
    frame_bins,
    sorted_unique,
    statistic_scale,
)
from calcium.progress import Progress, track


def circular_shift_null(
    event_neurons: np.ndarray,
    event_frames: np.ndarray,
    n_neurons: int,
    n_frames: int,
    frame_rate_hz: float,
    bin_s: float = 0.5,
    n_shuffles: int = 1000,
    seed: int = 0,
    shuffles_per_block: int | None = None,
    jitter_bins: int = 0,
    processes: int = 1,
    frame_weights: np.ndarray | None = None,
) -> np.ndarray:
    """Coactivity statistic of `n_shuffles` surrogates, (n_shuffles, n_bins).

    Model: in each surrogate every neuron's event *frames* are circularly shifted
    by its own offset, uniform in 0..n_frames-1 (numpy.random.default_rng(seed)),
    then binned exactly like the data (bins of bin_s seconds; a neuron counts once
    per bin). Each neuron keeps its events, their intervals and the autocorrelation
    of its train, while coincidences between neurons become chance; because frames,
    not bins, are shifted, a bin holding 3 frames is as likely to be active as the
    data's 3-frame bins and a bin holding no frame is never active, at any frame
    rate. Only event indices are shifted (never a dense matrix); memory is
    O(shuffles_per_block x events), by default about 2^18 shifted events per block
    (small blocks stay in the CPU cache: faster than large ones).

    event_neurons, event_frames: one entry per event (duplicates allowed).
    jitter_bins: 0 - the statistic is the coactivity (neurons active in the bin);
        > 0 - `coactivity_statistic` (neurons active within ± jitter_bins bins,
        ties broken by those active in the bin itself).
    processes: worker processes sharing the shuffles (all offsets are drawn first, so the
        result does not depend on it).
    frame_weights: (n_frames,) > 0, the population's relative rate in each frame (its state,
        `calcium.population.state`), or None (uniform: the shifts above). The shifts are then
        rotations in operational time, the cumulative sum of the weights, uniform over it: each
        frame spans its weight there, so a shifted event falls in a frame with a chance in
        proportion to its weight (a neuron keeps its events and is as active in the up states
        as the population is), and coincidences beyond the shared state become chance. A
        Poisson train whose rate follows the state is a homogeneous one in operational time.
        (n_neurons, n_frames): each neuron's own weights, rotations in its own operational time
        (a neuron following the state more or less than the population,
        `calcium.population.state.state_coupling`).
    Returns (n_shuffles, n_bins) int32 (int64 for > 46,000 neurons with jitter).
    """
    n_bins = bin_count(n_frames, frame_rate_hz, bin_s)
    neurons = np.asarray(event_neurons, dtype=np.int64)
    frames = np.asarray(event_frames, dtype=np.int64)
    _check_events(neurons, frames, n_neurons, n_frames)
    rng = np.random.default_rng(seed)
    if frame_weights is None:
        offsets = rng.integers(0, n_frames, size=(n_shuffles, n_neurons), dtype=np.intp)
    else:
        clock = operational_clock(frame_weights, n_frames, n_neurons)
        offsets = rng.random((n_shuffles, n_neurons)) * clock[..., -1]
    scale = statistic_scale(n_neurons, jitter_bins)
    dtype = np.int32 if (n_neurons + 1) * scale < 2**31 else np.int64
    if neurons.size == 0:
        return np.zeros((n_shuffles, n_bins), dtype=dtype)
    keys = sorted_unique(neurons * n_frames + frames)  # sorted by neuron, then frame
    neurons, frames = keys // n_frames, (keys % n_frames).astype(np.intp)
    per_neuron = np.bincount(neurons, minlength=n_neurons)
    firing = np.flatnonzero(per_neuron)
    starts = np.concatenate([[0], np.cumsum(per_neuron[firing])[:-1]])
    if shuffles_per_block is None:
        shuffles_per_block = int(np.clip(2**18 // keys.size, 1, 64))
    trains = _Trains(
        frames,
        per_neuron[firing],
        starts,
        starts + per_neuron[firing] - 1,
        frame_bins(np.arange(n_frames), frame_rate_hz, bin_s).astype(np.intp),
        n_frames,
        n_bins,
        jitter_bins,
        scale,
        dtype,
        shuffles_per_block,
        None if frame_weights is None else _operational(clock, neurons, frames, firing),
    )
    offsets = offsets[:, firing]
    chunks = -(-n_shuffles // max(1, 4 * processes))  # a few chunks per process: even finish
    parts = [slice(a, min(a + chunks, n_shuffles)) for a in range(0, n_shuffles, chunks)]

    def count(rows: slice) -> int:
        return rows.stop - rows.start

    if processes <= 1 or len(parts) < 2:
        with Progress(n_shuffles, "circular-shift null", "shuffles") as progress:
            return np.concatenate(
                [_null_rows(trains, offsets[rows]) for rows in track(parts, progress, count)]
            )
    from calcium.workers import forked_workers, named_breakage

    global _SHARED_NULL_WORK
    _SHARED_NULL_WORK = (trains, offsets)  # inherited by the forked workers, never pickled
    try:
        with forked_workers(min(processes, len(parts))) as pool:
            chunks = named_breakage(pool.map(_null_chunk, parts), "the circular-shift null")  # forks
            # the progress thread starts after the fork: the workers inherit none
            with Progress(n_shuffles, "circular-shift null", "shuffles") as progress:
                return np.concatenate(list(track(chunks, progress, len)))
    finally:
        _SHARED_NULL_WORK = None


class _Trains(NamedTuple):
    """The event trains of the neurons that have events, prepared for shifting."""

    frames: np.ndarray  # (events,) frame of each event, by neuron then frame
    counts: np.ndarray  # (firing neurons,) events of each
    starts: np.ndarray  # index of each neuron's first event
    last: np.ndarray  # index of each neuron's last event
    bin_of_frame: np.ndarray
    n_frames: int
    n_bins: int
    jitter_bins: int
    scale: int
    dtype: type
    shuffles_per_block: int
    # None, or (clock, event_times): each frame's end in operational time (`operational_clock`),
    # and each event's time there (its frame's middle); shifts are then rotations of that time.
    # With a clock per neuron (`_operational`): (the firing neurons' clocks, event_times in the
    # neuron's own clock, its clock's length per event); each neuron's events are found in its own
    # clock (searched one neuron at a time: a clock of one neuron stays in the CPU cache, all of
    # them laid end to end did not, 2.4x slower).
    operational: tuple | None = None


_SHARED_NULL_WORK = None


def operational_clock(frame_weights: np.ndarray, n_frames: int, n_neurons: int | None = None) -> np.ndarray:
    """(n_frames,) float64, the end of each frame in operational time: the cumulative sum of
    the frames' weights (each frame spans its weight); (n_neurons, n_frames) weights give each
    neuron its own clock, (n_neurons, n_frames)."""
    weights = np.asarray(frame_weights, dtype=np.float64)
    shapes = [(n_frames,)] + ([] if n_neurons is None else [(n_neurons, n_frames)])
    if weights.shape not in shapes or not np.all(np.isfinite(weights)) or np.any(weights <= 0):
        raise ValueError(f"frame_weights must be {' or '.join(map(str, shapes))}, finite and positive")
    return np.cumsum(weights, axis=-1)


def _operational(clock: np.ndarray, neurons: np.ndarray, frames: np.ndarray, firing: np.ndarray) -> tuple:
    """`_Trains.operational` of one clock (n_frames,) shared by every neuron, or of one clock per
    neuron (n_neurons, n_frames): then (the firing neurons' clocks, each event's time in its
    neuron's clock, that clock's length per event)."""
    widths = np.diff(clock, prepend=0.0, axis=-1)
    if clock.ndim == 1:
        return clock, clock[frames] - 0.5 * widths[frames]
    clock, widths = clock[firing], widths[firing]
    row = np.searchsorted(firing, neurons)  # each event's row among the firing neurons
    return clock, clock[row, frames] - 0.5 * widths[row, frames], clock[row, -1]


def _null_chunk(rows: slice) -> np.ndarray:
    trains, offsets = _SHARED_NULL_WORK
    return _null_rows(trains, offsets[rows])


def _null_rows(trains: _Trains, offsets: np.ndarray) -> np.ndarray:
    """The null statistic of one shuffle per row of `offsets` (shuffles, firing neurons)."""
    t = trains
    n_bins, starts, last = t.n_bins, t.starts, t.last
    null = np.zeros((offsets.shape[0], n_bins), dtype=t.dtype)
    for first in range(0, offsets.shape[0], t.shuffles_per_block):
        block = offsets[first : first + t.shuffles_per_block]
        shifted = np.repeat(block, t.counts, axis=1)
        if t.operational is None:
            shifted += t.frames
            np.subtract(shifted, t.n_frames, out=shifted, where=shifted >= t.n_frames)  # modulo, no division
        elif t.operational[0].ndim == 1:  # rotated in operational time, then the frame each new time falls in
            clock, times = t.operational
            shifted += times
            np.subtract(shifted, clock[-1], out=shifted, where=shifted >= clock[-1])
            shifted = np.minimum(np.searchsorted(clock, shifted, side="right"), t.n_frames - 1)
        else:  # in each neuron's own operational time, its clock laid after the previous ones'
            clocks, times, lengths = t.operational
            shifted += times
            np.subtract(shifted, lengths, out=shifted, where=shifted >= lengths)
            found = np.empty(shifted.shape, dtype=np.intp)
            for row, (a, b) in enumerate(zip(starts, last + 1, strict=True)):
                found[:, a:b] = np.searchsorted(clocks[row], shifted[:, a:b], side="right")
            shifted = np.minimum(found, t.n_frames - 1)
        bins = t.bin_of_frame[shifted]
        # A neuron's shifted frames stay in circular order, so its events that share a bin are
        # circular neighbours: count each run of equal bins once, where the bin changes ...
        counted = np.empty(bins.shape, dtype=bool)
        counted[:, 1:] = bins[:, 1:] != bins[:, :-1]
        counted[:, starts] = bins[:, starts] != bins[:, last]
        # ... and a neuron whose events all fall in one bin once: no change of bin anywhere in its
        # circular order, also where its first and last events meet across the end of the session
        # (a train at both ends shifted into one bin; a wide frame of operational time)
        counted[:, starts] |= np.add.reduceat(counted, starts, axis=1) == 0
        if t.jitter_bins:
            previous = np.empty_like(bins)
            previous[:, 1:] = bins[:, :-1]
            previous[:, starts] = bins[:, last]
            window = _window_counts(bins, previous, counted, n_bins, t.jitter_bins)
        bins += (np.arange(block.shape[0], dtype=np.intp) * n_bins)[:, None]
        uncounted = block.shape[0] * n_bins  # one extra bin collects the events not counted
        counts = np.bincount(np.where(counted, bins, uncounted).ravel(), minlength=uncounted + 1)[:-1]
        counts = counts.reshape(block.shape[0], n_bins)
        if t.jitter_bins:
            counts = window * t.scale + counts
        null[first : first + block.shape[0]] = counts
    return null


def _survival(values: np.ndarray, size: int) -> np.ndarray:
    """P(X >= n) for n = 0..size-1 of the empirical distribution of integer `values`."""
    counts = np.bincount(values.ravel(), minlength=size)[:size]
    return np.cumsum(counts[::-1])[::-1] / max(values.size, 1)


def null_thresholds(
    null: np.ndarray,
    frames_per_bin: np.ndarray | None = None,
    percentile: float = 99.0,
    statistic: str = "pooled",
) -> np.ndarray:
    """Coactivity threshold of every bin from the null, (n_bins,) float64.

    The circular-shift null of a bin depends only on how many frames it holds, so
    bins are grouped by frames_per_bin (None: one group) and each group gets its
    own threshold:
    statistic: "pooled" - the `percentile` of the null coactivity of all bins of
        the group in all surrogates (each bin tested at level 1 - percentile/100);
        "max" - a family-wise threshold: each null count is turned into its p-value
        within its group, alpha* is the (100 - percentile)th percentile of every
        surrogate's smallest p-value, and a group's threshold is the largest count
        whose p-value is >= alpha* (controls the chance of any false ensemble
        event in the whole recording, whatever the mix of bins).
    Real bins with coactivity strictly above their threshold are significant.
    """
    null = np.asarray(null)
    n_bins = null.shape[1]
    groups = np.zeros(n_bins, dtype=np.int64) if frames_per_bin is None else np.asarray(frames_per_bin)
    if statistic not in ("pooled", "max"):
        raise ValueError("statistic must be 'pooled' or 'max'")
    thresholds = np.zeros(n_bins)
    kinds = np.unique(groups)
    if statistic == "pooled":
        for kind in kinds:
            chosen = groups == kind
            thresholds[chosen] = np.percentile(null[:, chosen], percentile)
        return thresholds
    size = int(null.max()) + 2 if null.size else 2
    survival = {kind: _survival(null[:, groups == kind], size) for kind in kinds}
    smallest = np.ones(null.shape[0])
    for kind in kinds:
        chosen = groups == kind
        smallest = np.minimum(smallest, survival[kind][null[:, chosen]].min(axis=1))
    alpha = np.percentile(smallest, 100.0 - percentile)
    for kind in kinds:
        # Largest n with P(X >= n) >= alpha*: counts above it have p < alpha*.
        thresholds[groups == kind] = float(np.flatnonzero(survival[kind] >= alpha)[-1])
    return thresholds


def null_threshold(null: np.ndarray, percentile: float = 99.0, statistic: str = "pooled") -> float:
    """One coactivity threshold for bins that all hold the same number of frames (see null_thresholds)."""
    return float(null_thresholds(null, None, percentile, statistic)[0])


def threshold_table(thresholds: np.ndarray, frames: np.ndarray, scale: int = 1) -> list[dict]:
    """The distinct thresholds: one record per number of frames a (window of) bin(s) holds.

    thresholds: (n_bins,) in units of the tested statistic (see `coactivity_statistic`);
    scale: `statistic_scale`. Returns [{"frames": k, "n_bins": bins holding k frames,
    "threshold_statistic": t, "threshold_n_active": t / scale (neurons, for reading)}], by k.
    """
    frames = np.asarray(frames)
    rows = []
    for k in np.unique(frames):
        value = float(np.asarray(thresholds)[frames == k][0])
        rows.append(
            {
                "frames": int(k),
                "n_bins": int((frames == k).sum()),
                "threshold_statistic": value,
                "threshold_n_active": value / scale,
            }
        )
    return rows


def thresholds_from_table(
    table: list[dict], frames: np.ndarray, key: str = "threshold_statistic"
) -> np.ndarray:
    """Per-bin thresholds, (n_bins,), from `threshold_table` records and each bin's frames (NaN
    for kinds the table does not hold: the bins separating trials, never tested)."""
    lookup = {int(row["frames"]): float(row[key]) for row in table}
    return np.array([lookup.get(int(k), np.nan) for k in np.asarray(frames)], dtype=np.float64)


def degenerate_groups(table: list[dict], min_active: int) -> list[dict]:
    """Records of `threshold_table` (bins holding frames) whose threshold lets fewer than
    min_active neurons pass (threshold < min_active - 1 neurons): there the null alone would
    call a bin with min_active - 1 or fewer neurons coactive, and min_active decides instead."""
    return [row for row in table if row["frames"] > 0 and row["threshold_n_active"] < min_active - 1]


def null_exceedance(
    n_active: np.ndarray,
    frames_in: np.ndarray,
    null_frames: np.ndarray,
    null_n_active: np.ndarray,
    null_n_bins: np.ndarray,
) -> np.ndarray:
    """Per observed bin, the fraction of null bins of its kind with at least as many active
    neurons: P(null ≥ observed), the bin's empirical p-value under the circular shifts.

    n_active: (n_bins,) the tested coactivity of each observed bin (neurons active within
        the window); frames_in: (n_bins,) frames its window holds (the kind of bin).
    null_frames, null_n_active, null_n_bins: the null histogram (one row per kind of bin and
        count: how many null bins had that many active neurons).
    Returns (n_bins,) float64; NaN for a kind of bin the null does not hold.
    """
    n_active = np.asarray(n_active, dtype=np.int64)
    frames_in = np.asarray(frames_in, dtype=np.int64)
    null_frames = np.asarray(null_frames, dtype=np.int64)
    null_n_active = np.asarray(null_n_active, dtype=np.int64)
    null_n_bins = np.asarray(null_n_bins, dtype=np.float64)
    out = np.full(n_active.shape, np.nan)
    top = int(max(n_active.max(initial=0), null_n_active.max(initial=0))) + 2
    for kind in np.unique(null_frames):
        rows = null_frames == kind
        counts = np.bincount(null_n_active[rows], weights=null_n_bins[rows], minlength=top)
        total = counts.sum()
        if total <= 0:
            continue
        survival = np.cumsum(counts[::-1])[::-1] / total  # survival[k] = P(null >= k)
        mine = frames_in == kind
        out[mine] = survival[np.clip(n_active[mine], 0, top - 1)]
    return out
