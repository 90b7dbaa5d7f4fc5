"""Scoring inferred spikes against ground-truth spike times.

- Spikefinder correlation (Berens et al. 2018): Pearson r between the inferred
  spike amplitudes and the true spike counts, both summed into 40 ms bins.
- Precision, recall and F1 of discrete spike times, each true spike matched to
  at most one inferred spike within ± tolerance.

Time base: frame k of a recording is centred at start_time_s + k / frame_rate_hz
(start_time_s = the time of frame 0, on the clock of the true spike times) and
covers the exposure [centre − ½ frame, centre + ½ frame). The imaged span is the
union of the exposures; true spikes outside it cannot be inferred from the trace
and are counted apart (`n_true_spikes_outside`), not scored as misses.

Sessions cut into trials (docs/trials.md) are scored within trials only: each trial's
imaged span (its frames' exposures) is binned on its own (bins restart at the trial's first
frame), the correlation is taken over the bins of all trials, and spike times are matched
within each trial (true positives, misses and false positives summed over trials). True
spikes in gaps, where no spike is inferred, are counted apart (`n_true_spikes_in_gaps`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from calcium.io import load_npy


def binned_sum(
    times_s: np.ndarray,
    weights: np.ndarray | None,
    duration_s: float,
    bin_s: float = 0.04,
    start_s: float = 0.0,
) -> np.ndarray:
    """Sum of `weights` (1 per time if None) in bins of bin_s seconds over [start_s, start_s + duration_s)."""
    n_bins = max(1, int(np.ceil(duration_s / bin_s - 1e-9)))
    index = np.floor((np.asarray(times_s, dtype=float) - start_s) / bin_s + 1e-9).astype(np.int64)
    keep = (index >= 0) & (index < n_bins)
    w = None if weights is None else np.asarray(weights, dtype=float)[keep]
    return np.bincount(index[keep], weights=w, minlength=n_bins)


def imaged_span(n_frames: int, frame_rate_hz: float, start_time_s: float = 0.0) -> tuple[float, float]:
    """(first, last) time in seconds covered by the frames' exposures: start_time_s ± ½ frame onwards."""
    half = 0.5 / frame_rate_hz
    return start_time_s - half, start_time_s - half + n_frames / frame_rate_hz


def split_by_span(
    true_times_s: np.ndarray, n_frames: int, frame_rate_hz: float, start_time_s: float = 0.0
) -> tuple[np.ndarray, int]:
    """(true spike times inside the imaged span, number outside it)."""
    times = np.asarray(true_times_s, dtype=float)
    first, last = imaged_span(n_frames, frame_rate_hz, start_time_s)
    inside = (times >= first) & (times < last)
    return times[inside], int(times.size - inside.sum())


def frames_to_bins(
    values: np.ndarray, frame_rate_hz: float, bin_s: float = 0.04, start_time_s: float = 0.0
) -> np.ndarray:
    """Per-frame values (..., frames) summed into bin_s bins, each frame spread over its exposure.

    A frame's value (e.g. an inferred spike count) is taken as evenly spread over
    the frame's exposure and shared between the bins the exposure overlaps. When a
    frame is shorter than a bin this is the usual sum of the frames in the bin;
    when it is longer (e.g. 7.5 Hz frames and 40 ms bins) no bin is left empty just
    because no frame centre falls in it. Bins start at the imaged span's start.
    Returns (..., n_bins), n_bins = ceil(n_frames / frame_rate_hz / bin_s).
    """
    values = np.asarray(values, dtype=float)
    n_frames = values.shape[-1]
    n_bins = max(1, int(np.ceil(n_frames / frame_rate_hz / bin_s - 1e-9)))
    # Cumulative count at each bin edge, the count growing linearly within a frame.
    position = np.clip(np.arange(n_bins + 1) * bin_s * frame_rate_hz, 0, n_frames)
    frame = np.minimum(np.floor(position).astype(np.int64), n_frames - 1)
    cumulative = np.concatenate([np.zeros(values.shape[:-1] + (1,)), np.cumsum(values, axis=-1)], axis=-1)
    at_edges = cumulative[..., frame] + (position - frame) * values[..., frame]
    return np.diff(at_edges, axis=-1)


def spikefinder_correlation(
    inferred: np.ndarray,
    frame_rate_hz: float,
    true_times_s: np.ndarray,
    bin_s: float = 0.04,
    start_time_s: float = 0.0,
) -> float:
    """Pearson r between per-frame inferred activity and true spikes, both in bin_s bins.

    inferred: (frames,) inferred spike amplitudes (e.g. OASIS s); frame k centred at
        start_time_s + k / frame_rate_hz, spread over its exposure (`frames_to_bins`).
    true_times_s: true spike times in seconds, same clock; those outside the
        imaged span are ignored (see `split_by_span`).
    NaN if either binned series is constant.
    """
    inferred = np.asarray(inferred, dtype=float)
    first, last = imaged_span(inferred.size, frame_rate_hz, start_time_s)
    predicted = frames_to_bins(inferred, frame_rate_hz, bin_s, start_time_s)
    truth = binned_sum(true_times_s, None, last - first, bin_s, start_s=first)
    if predicted.std() == 0 or truth.std() == 0:
        return float("nan")
    return float(np.corrcoef(predicted, truth)[0, 1])


def match_spike_times(
    inferred_s: np.ndarray, true_s: np.ndarray, tolerance_s: float = 0.1
) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives) of a one-to-one matching.

    Times are matched greedily in time order, each true spike to the earliest
    unmatched inferred spike within ± tolerance_s; on a line, this greedy
    matching is a maximum matching.
    """
    inferred = np.sort(np.asarray(inferred_s, dtype=float))
    truth = np.sort(np.asarray(true_s, dtype=float))
    i = matched = 0
    for t in truth:
        while i < inferred.size and inferred[i] < t - tolerance_s:
            i += 1
        if i < inferred.size and inferred[i] <= t + tolerance_s:
            matched += 1
            i += 1
    return matched, inferred.size - matched, truth.size - matched


def precision_recall_f1(
    inferred_s: np.ndarray, true_s: np.ndarray, tolerance_s: float = 0.1
) -> dict[str, float]:
    """Precision, recall and F1 of spike times within ± tolerance_s (NaN where undefined)."""
    tp, fp, fn = match_spike_times(inferred_s, true_s, tolerance_s)
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
    return {"precision": precision, "recall": recall, "f1": f1, "true_positives": tp}


def score_neurons(
    spikes: np.ndarray,
    frame_rate_hz: float,
    inferred_times: dict[int, np.ndarray],
    true_times: dict[int, np.ndarray],
    bin_s: float = 0.04,
    tolerance_s: float = 0.1,
    first_neuron: int = 0,
    start_time_s: float = 0.0,
    trials: np.ndarray | None = None,
    inferred_trials: dict[int, np.ndarray] | None = None,
) -> list[dict]:
    """Scores of the neurons with ground truth among rows of `spikes`: one dict (table row) each.

    spikes: (neurons, frames) inferred amplitudes of neurons first_neuron,
    first_neuron + 1, ...; inferred_times / true_times: spike times (s) per neuron id,
    on the session's clock (frame k at start_time_s + k / frame_rate_hz).
    True spikes outside the imaged span are counted in `n_true_spikes_outside` and
    left out of every score. Neurons of true_times outside the block are skipped
    (score blocks in turn).
    trials: None (one continuous recording) or (trials, 2) first and one-past-last frame of
    each trial: scored within trials only (`score_within_trials`); inferred_trials then gives
    each inferred spike's trial (per neuron, aligned with inferred_times; -1 or missing: none).
    """
    if trials is not None:
        return score_within_trials(
            spikes,
            frame_rate_hz,
            inferred_times,
            inferred_trials or {},
            true_times,
            trials,
            bin_s,
            tolerance_s,
            first_neuron,
            start_time_s,
        )
    rows = []
    n_frames = spikes.shape[1]
    for neuron in sorted(true_times):
        if not first_neuron <= neuron < first_neuron + spikes.shape[0]:
            continue
        truth, outside = split_by_span(true_times[neuron], n_frames, frame_rate_hz, start_time_s)
        inferred = np.asarray(inferred_times.get(neuron, np.zeros(0)), dtype=float)
        scores = precision_recall_f1(inferred, truth, tolerance_s)
        rows.append(
            {
                "neuron": neuron,
                "n_true_spikes": int(truth.size),
                "n_true_spikes_outside": outside,
                "n_inferred_spikes": int(inferred.size),
                "correlation_40ms": spikefinder_correlation(
                    spikes[neuron - first_neuron], frame_rate_hz, truth, bin_s, start_time_s
                ),
                "precision": scores["precision"],
                "recall": scores["recall"],
                "f1": scores["f1"],
            }
        )
    return rows


def true_spike_trials(
    true_times_s: np.ndarray,
    trials: np.ndarray,
    n_frames: int,
    frame_rate_hz: float,
    start_time_s: float = 0.0,
) -> np.ndarray:
    """Trial of each true spike: the trial whose frames' exposures (`imaged_span` of its frames)
    hold it; -1 in a gap, -2 outside the recording's imaged span. (spikes,) int64."""
    times = np.asarray(true_times_s, dtype=float)
    bounds = np.asarray(trials, dtype=np.int64).reshape(-1, 2)
    out = np.full(times.size, -1, dtype=np.int64)
    first, last = imaged_span(n_frames, frame_rate_hz, start_time_s)
    out[(times < first) | (times >= last)] = -2
    half = 0.5 / frame_rate_hz
    for trial, (a, b) in enumerate(bounds):
        inside = (times >= start_time_s + a / frame_rate_hz - half) & (
            times < start_time_s + b / frame_rate_hz - half
        )
        out[inside] = trial
    return out


def score_within_trials(
    spikes: np.ndarray,
    frame_rate_hz: float,
    inferred_times: dict[int, np.ndarray],
    inferred_trials: dict[int, np.ndarray],
    true_times: dict[int, np.ndarray],
    trials: np.ndarray,
    bin_s: float = 0.04,
    tolerance_s: float = 0.1,
    first_neuron: int = 0,
    start_time_s: float = 0.0,
) -> list[dict]:
    """`score_neurons` of a session cut into trials, scored within trials only.

    Each trial is scored as a recording of its own (its frames' exposures, bins of bin_s
    from its first frame) and the scores pooled: the correlation over the bins of all trials,
    precision/recall/F1 from the true positives, misses and false positives summed over
    trials (a spike is matched only to one of its own trial). True spikes in gaps are counted
    in `n_true_spikes_in_gaps` (not scored: no spike is inferred there), those outside the
    recording in `n_true_spikes_outside`. Inferred spikes in no trial (-1) are left out.
    """
    bounds = np.asarray(trials, dtype=np.int64).reshape(-1, 2)
    n_frames = spikes.shape[1]
    rows = []
    for neuron in sorted(true_times):
        if not first_neuron <= neuron < first_neuron + spikes.shape[0]:
            continue
        truth = np.asarray(true_times[neuron], dtype=float)
        truth_trial = true_spike_trials(truth, bounds, n_frames, frame_rate_hz, start_time_s)
        inferred = np.asarray(inferred_times.get(neuron, np.zeros(0)), dtype=float)
        inferred_trial = np.asarray(inferred_trials.get(neuron, np.full(inferred.size, -1)), dtype=np.int64)
        predicted, binned_truth = [], []
        tp = fp = fn = 0
        for trial, (a, b) in enumerate(bounds):
            start = start_time_s + a / frame_rate_hz
            first, last = imaged_span(b - a, frame_rate_hz, start)
            mine = truth[truth_trial == trial]
            predicted.append(frames_to_bins(spikes[neuron - first_neuron, a:b], frame_rate_hz, bin_s, start))
            binned_truth.append(binned_sum(mine, None, last - first, bin_s, start_s=first))
            matched, false_positives, misses = match_spike_times(
                inferred[inferred_trial == trial], mine, tolerance_s
            )
            tp, fp, fn = tp + matched, fp + false_positives, fn + misses
        predicted, binned_truth = np.concatenate(predicted), np.concatenate(binned_truth)
        constant = predicted.std() == 0 or binned_truth.std() == 0
        rows.append(
            {
                "neuron": neuron,
                "n_true_spikes": int((truth_trial >= 0).sum()),
                "n_true_spikes_outside": int((truth_trial == -2).sum()),
                "n_true_spikes_in_gaps": int((truth_trial == -1).sum()),
                "n_inferred_spikes": int((inferred_trial >= 0).sum()),
                "correlation_40ms": float("nan")
                if constant
                else float(np.corrcoef(predicted, binned_truth)[0, 1]),
                "precision": tp / (tp + fp) if tp + fp else float("nan"),
                "recall": tp / (tp + fn) if tp + fn else float("nan"),
                "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan"),
            }
        )
    return rows


def inferred_spikes(
    table: pd.DataFrame, trials: np.ndarray | None, n_frames: int
) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray] | None]:
    """(spike times per neuron id, each spike's trial per neuron id or None without trials) from
    a spike-time table (columns neuron, frame, time_s), as `score_session` takes them."""
    times = spike_times_by_neuron(table)
    return times, None if trials is None else spike_trials_by_neuron(table, trials, n_frames)


def spike_trials_by_neuron(table: pd.DataFrame, trials: np.ndarray, n_frames: int) -> dict[int, np.ndarray]:
    """Trial of each spike (-1: none) per neuron id, in the order of `spike_times_by_neuron`, from
    a spike-time table's `frame` column and the trials' (trials, 2) first and one-past-last frames."""
    from calcium.input.trial_structure import frame_trials

    of_frame = frame_trials(trials, n_frames)
    frames = np.clip(table.frame.to_numpy(dtype=np.int64), 0, max(n_frames - 1, 0))
    trial = pd.Series(of_frame[frames] if n_frames else np.zeros(0, np.int64), index=table.index)
    return {int(n): trial[g.index].to_numpy(dtype=np.int64) for n, g in table.groupby("neuron")}


def spike_times_by_neuron(table: pd.DataFrame) -> dict[int, np.ndarray]:
    """Spike times (s) per neuron id from a spike-time table (columns neuron, time_s)."""
    return {int(n): g.time_s.to_numpy(dtype=float) for n, g in table.groupby("neuron")}


def score_session(
    activity_path,
    n_neurons: int,
    frame_rate_hz: float,
    inferred_times: dict[int, np.ndarray],
    true_times: dict[int, np.ndarray],
    bin_s: float = 0.04,
    tolerance_s: float = 0.1,
    start_time_s: float = 0.0,
    block: int = 1000,
    trials: np.ndarray | None = None,
    inferred_trials: dict[int, np.ndarray] | None = None,
) -> pd.DataFrame:
    """`score_neurons` over a session's inferred activity .npy (neurons x frames), read `block`
    neurons at a time (bounded memory). Returns the table of scores, one row per neuron with
    ground truth. trials, inferred_trials: a session cut into trials (see `score_neurons`)."""
    rows = []
    for first in range(0, n_neurons, block):
        rows += score_neurons(
            load_npy(activity_path, slice(first, first + block)),
            frame_rate_hz,
            inferred_times,
            true_times,
            bin_s,
            tolerance_s,
            first,
            start_time_s,
            trials,
            inferred_trials,
        )
    return pd.DataFrame(rows)


def evaluation_summary(table: pd.DataFrame, session: str, n_trials: int | None = None) -> pd.DataFrame:
    """One-row summary of a session's scores (`score_session`): neurons scored, true spikes
    (inside and outside the imaged span), median and mean correlation, median F1, precision
    and recall. A session cut into trials (n_trials given) also says how many trials were
    scored and how many true spikes fell in gaps (not scored)."""
    within = {}
    if n_trials is not None:
        within = {
            "n_trials": int(n_trials),
            "n_true_spikes_in_gaps": int(table.n_true_spikes_in_gaps.sum()) if len(table) else 0,
        }
    return pd.DataFrame(
        [
            {
                "session": session,
                "n_neurons_scored": len(table),
                "n_true_spikes": int(table.n_true_spikes.sum()),
                "n_true_spikes_outside": int(table.n_true_spikes_outside.sum()),
                **within,
                "median_correlation_40ms": float(table.correlation_40ms.median()),
                "mean_correlation_40ms": float(table.correlation_40ms.mean()),
                "median_f1": float(table.f1.median()),
                "median_precision": float(table.precision.median()),
                "median_recall": float(table.recall.median()),
            }
        ]
    )
