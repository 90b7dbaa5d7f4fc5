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
) -> list[dict]:
    """Scores of the neurons with ground truth among rows of `spikes`: one dict (table row) each.

    spikes: (neurons, frames) inferred amplitudes of neurons first_neuron,
    first_neuron + 1, ...; inferred_times / true_times: spike times (s) per neuron id,
    on the session's clock (frame k at start_time_s + k / frame_rate_hz).
    True spikes outside the imaged span are counted in `n_true_spikes_outside` and
    left out of every score. Neurons of true_times outside the block are skipped
    (score blocks in turn).
    """
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
) -> pd.DataFrame:
    """`score_neurons` over a session's inferred activity .npy (neurons x frames), read `block`
    neurons at a time (bounded memory). Returns the table of scores, one row per neuron with
    ground truth."""
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
        )
    return pd.DataFrame(rows)


def evaluation_summary(table: pd.DataFrame, session: str) -> pd.DataFrame:
    """One-row summary of a session's scores (`score_session`): neurons scored, true spikes
    (inside and outside the imaged span), median and mean correlation, median F1, precision
    and recall."""
    return pd.DataFrame(
        [
            {
                "session": session,
                "n_neurons_scored": len(table),
                "n_true_spikes": int(table.n_true_spikes.sum()),
                "n_true_spikes_outside": int(table.n_true_spikes_outside.sum()),
                "median_correlation_40ms": float(table.correlation_40ms.median()),
                "mean_correlation_40ms": float(table.correlation_40ms.mean()),
                "median_f1": float(table.f1.median()),
                "median_precision": float(table.precision.median()),
                "median_recall": float(table.recall.median()),
            }
        ]
    )
