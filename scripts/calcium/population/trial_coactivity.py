"""Coactivity of a session cut into trials (`calcium.input.trial_structure`): bins that restart at each
trial, the circular-shift null within each trial, and the windows and times of those bins.

Bins restart at each trial's first frame, so that no bin holds frames of two trials, and empty
separator bins between trials keep the ± jitter windows of neighbouring trials apart. Times in
seconds; frames and bins count from 0.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from calcium.population.coactivity import ActiveBins, sorted_unique
from calcium.population.null import circular_shift_null


class TrialBins(NamedTuple):
    """Coactivity bins of a session cut into trials.

    Bins restart at each trial's first frame and are bin_s wide (a trial's last bin may be
    partial), so that no bin holds frames of two trials; between trials come `separator_bins`
    empty bins (no frame, trial -1), so that windows of ± jitter bins and activations never
    reach across a boundary. Frames in gaps belong to no bin.

    bounds: (trials, 2) first and one-past-last frame of each trial.
    bin_of_frame: (n_frames,) bin of each frame, -1 in gaps.
    bin_trial: (n_bins,) trial of each bin, -1 for separators.
    start_s, end_s: (n_bins,) each bin's first and last instant, s from frame 0 (separators:
        the gap they stand for, from the previous trial's end to the next one's start).
    frames_per_bin: (n_bins,) frames each bin holds (0 for separators).
    """

    bounds: np.ndarray
    bin_of_frame: np.ndarray
    n_bins: int
    bin_trial: np.ndarray
    start_s: np.ndarray
    end_s: np.ndarray
    frames_per_bin: np.ndarray
    separator_bins: int


def trial_bins(
    bounds: np.ndarray, n_frames: int, frame_rate_hz: float, bin_s: float, separator_bins: int
) -> TrialBins:
    """The coactivity bins of a session cut into trials (see `TrialBins`)."""
    bounds = np.asarray(bounds, dtype=np.int64).reshape(-1, 2)
    bin_of_frame = np.full(n_frames, -1, dtype=np.int64)
    trials, starts, ends = [], [], []
    offset = 0
    for trial, (first, stop) in enumerate(bounds):
        if trial:  # separators: the gap between the previous trial and this one
            trials.append(np.full(separator_bins, -1))
            starts.append(np.full(separator_bins, bounds[trial - 1, 1] / frame_rate_hz))
            ends.append(np.full(separator_bins, first / frame_rate_hz))
            offset += separator_bins
        local = np.floor(np.arange(stop - first) / frame_rate_hz / bin_s + 1e-9).astype(np.int64)
        count = max(1, int(np.ceil((stop - first) / frame_rate_hz / bin_s - 1e-9)))
        bin_of_frame[first:stop] = offset + local
        trials.append(np.full(count, trial))
        bin_start = first / frame_rate_hz + np.arange(count) * bin_s
        starts.append(bin_start)
        ends.append(np.minimum(bin_start + bin_s, stop / frame_rate_hz))
        offset += count
    inside = bin_of_frame >= 0
    frames_per_bin = np.bincount(bin_of_frame[inside], minlength=offset)[:offset]
    return TrialBins(
        bounds,
        bin_of_frame,
        int(offset),
        np.concatenate(trials).astype(np.int64),
        np.concatenate(starts).astype(np.float64),
        np.concatenate(ends).astype(np.float64),
        frames_per_bin.astype(np.int64),
        int(separator_bins),
    )


def trial_raster(neurons: np.ndarray, frames: np.ndarray, n_neurons: int, layout: TrialBins) -> ActiveBins:
    """Sparse (neuron, bin) raster of events placed at `frames`, binned by the layout's bins
    (events in gaps, if any, are left out; a neuron counts once per bin)."""
    bins = layout.bin_of_frame[np.asarray(frames, dtype=np.int64)]
    keys = sorted_unique(np.asarray(neurons, dtype=np.int64)[bins >= 0] * layout.n_bins + bins[bins >= 0])
    return ActiveBins(
        keys // layout.n_bins, keys % layout.n_bins, int(n_neurons), layout.n_bins, layout.frames_per_bin
    )


def trial_shift_null(
    neurons: np.ndarray,
    frames: np.ndarray,
    n_neurons: int,
    layout: TrialBins,
    frame_rate_hz: float,
    bin_s: float,
    n_shuffles: int = 1000,
    seed: int = 0,
    jitter_bins: int = 0,
    processes: int = 1,
) -> np.ndarray:
    """The circular-shift null within trials, (n_shuffles, layout.n_bins), in the layout's bins.

    Each trial is a recording of its own for `calcium.population.null.circular_shift_null`: every
    neuron's events in it are shifted by an offset of their own, uniform over the trial's frames
    and wrapping at its end (numpy.random.default_rng([seed, trial])), so each neuron keeps its
    events in each trial and the trial structure (e.g. a drive that differs from trial to trial)
    is in the null; its ± jitter windows end at the trial's edges. Separator bins hold 0.
    """
    neurons = np.asarray(neurons, dtype=np.int64)
    frames = np.asarray(frames, dtype=np.int64)
    bounds = np.asarray(layout.bounds, dtype=np.int64)
    trials = [
        (neurons[inside], frames[inside] - first, int(stop - first), [int(seed), trial])
        for trial, (first, stop) in enumerate(bounds)
        for inside in [(frames >= first) & (frames < stop)]
    ]
    settings = (n_neurons, frame_rate_hz, bin_s, n_shuffles, jitter_bins)
    if processes > 1 and len(trials) >= processes:
        # Trials share out over one pool of processes (a pool per trial would fork
        # `processes` children for every trial: 93 pools for 93 trials); each trial's shuffles
        # are those of its own seed, so the null does not depend on the number of processes.
        from calcium.workers import forked_workers, named_breakage

        global _SHARED_TRIALS
        _SHARED_TRIALS = (trials, settings)  # inherited by the forked workers, never pickled
        try:
            with forked_workers(processes) as pool:
                chunks = max(1, len(trials) // (4 * processes))
                parts = list(
                    named_breakage(
                        pool.map(_trial_null, range(len(trials)), chunksize=chunks), "the trials' null"
                    )
                )
        finally:
            _SHARED_TRIALS = None
    else:  # fewer trials than processes: each trial's shuffles share out over them
        parts = [_one_trial_null(trial, settings, processes) for trial in trials]
    null = np.zeros((n_shuffles, layout.n_bins), dtype=np.result_type(*(part.dtype for part in parts)))
    for (first, _), part in zip(bounds, parts, strict=True):
        start = int(layout.bin_of_frame[first])
        null[:, start : start + part.shape[1]] = part
    return null


_SHARED_TRIALS = None


def _one_trial_null(trial: tuple, settings: tuple, processes: int = 1) -> np.ndarray:
    """The circular-shift null of one trial (its events, frames from its start, length, seed)."""
    trial_neurons, trial_frames, n_frames, seed = trial
    n_neurons, frame_rate_hz, bin_s, n_shuffles, jitter_bins = settings
    return circular_shift_null(
        trial_neurons,
        trial_frames,
        n_neurons,
        n_frames,
        frame_rate_hz,
        bin_s,
        n_shuffles,
        seed,
        jitter_bins=jitter_bins,
        processes=processes,
    )


def _trial_null(index: int) -> np.ndarray:
    trials, settings = _SHARED_TRIALS
    return _one_trial_null(trials[index], settings)


def trial_layout(recording, binning) -> TrialBins | None:
    """The bins of a session cut into trials (`trial_bins`), None without trials (a
    calcium.population.steps `Recording` and `Binning`): 2·j separators between trials, j the widest
    jitter window used (`calcium.population.frame_jitter_bins`)."""
    if recording.trials is None:
        return None
    from calcium.population.ensemble_tables import frame_jitter_bins

    jitter = frame_jitter_bins(binning.jitter_bins, recording.frame_rate_hz, binning.bin_s)
    rate = recording.frame_rate_hz
    return trial_bins(recording.trials, recording.n_frames, rate, binning.bin_s, 2 * jitter)


def bin_times(layout: TrialBins | None, n_bins: int, recording, binning) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (s, on the recording's clock) of each coactivity bin: the layout's, or (None)
    bins of bin_s from frame 0, the last one ending with the recording."""
    start_time_s, bin_s = recording.start_time_s, binning.bin_s
    if layout is not None:
        return start_time_s + layout.start_s, start_time_s + layout.end_s
    bins = np.arange(n_bins)
    duration_s = recording.n_frames / recording.frame_rate_hz
    return start_time_s + bins * bin_s, start_time_s + np.minimum((bins + 1) * bin_s, duration_s)


def stimulus_exclusion(onsets_s, offsets_s, recording, binning, margin_s: float = 1.0) -> np.ndarray:
    """(n_bins,) bool: the session's coactivity bins overlapping a presentation [onset, offset +
    margin_s) (onsets_s, offsets_s: s on the recording's clock;
    `calcium.population.components.stimulus_bins`), in the bins of `trial_layout` for a session
    cut into trials."""
    from calcium.population.coactivity import bin_count
    from calcium.population.components import stimulus_bins

    onsets = np.asarray(onsets_s) - recording.start_time_s
    offsets = np.asarray(offsets_s) - recording.start_time_s
    layout = trial_layout(recording, binning)
    if layout is None:
        n_bins = bin_count(recording.n_frames, recording.frame_rate_hz, binning.bin_s)
        return stimulus_bins(onsets, offsets, n_bins, binning.bin_s, margin_s)
    return stimulus_bins(
        onsets, offsets, layout.n_bins, binning.bin_s, margin_s, layout.start_s, layout.end_s
    )
