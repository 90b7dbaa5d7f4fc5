"""Scoring inferred spikes against ground-truth spike times.

- Spikefinder correlation (Berens et al. 2018): Pearson r between the inferred
  spike amplitudes and the true spike counts, both summed into 40 ms bins.
- Precision, recall and F1 of discrete spike times, each true spike matched to
  at most one inferred spike within ± tolerance.
"""

from __future__ import annotations

import numpy as np


def binned_sum(
    times_s: np.ndarray, weights: np.ndarray | None, duration_s: float, bin_s: float = 0.04
) -> np.ndarray:
    """Sum of `weights` (1 per time if None) in bins of bin_s seconds over [0, duration_s)."""
    n_bins = max(1, int(np.ceil(duration_s / bin_s - 1e-9)))
    index = np.floor(np.asarray(times_s, dtype=float) / bin_s + 1e-9).astype(np.int64)
    keep = (index >= 0) & (index < n_bins)
    w = None if weights is None else np.asarray(weights, dtype=float)[keep]
    return np.bincount(index[keep], weights=w, minlength=n_bins)


def spikefinder_correlation(
    inferred: np.ndarray, frame_rate_hz: float, true_times_s: np.ndarray, bin_s: float = 0.04
) -> float:
    """Pearson r between per-frame inferred activity and true spikes, both in bin_s bins.

    inferred: (frames,) inferred spike amplitudes (e.g. OASIS s); frame k at k / rate.
    true_times_s: true spike times in seconds. NaN if either binned series is constant.
    """
    inferred = np.asarray(inferred, dtype=float)
    duration_s = inferred.size / frame_rate_hz
    frame_times = np.arange(inferred.size) / frame_rate_hz
    predicted = binned_sum(frame_times, inferred, duration_s, bin_s)
    truth = binned_sum(true_times_s, None, duration_s, bin_s)
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
) -> list[dict]:
    """Scores of the neurons with ground truth among rows of `spikes`: one dict (table row) each.

    spikes: (neurons, frames) inferred amplitudes of neurons first_neuron,
    first_neuron + 1, ...; inferred_times / true_times: spike times (s) per neuron id.
    Neurons of true_times outside the block are skipped (score blocks in turn).
    """
    rows = []
    for neuron in sorted(true_times):
        if not first_neuron <= neuron < first_neuron + spikes.shape[0]:
            continue
        truth = np.asarray(true_times[neuron], dtype=float)
        inferred = np.asarray(inferred_times.get(neuron, np.zeros(0)), dtype=float)
        scores = precision_recall_f1(inferred, truth, tolerance_s)
        rows.append(
            {
                "neuron": neuron,
                "n_true_spikes": int(truth.size),
                "n_inferred_spikes": int(inferred.size),
                "correlation_40ms": spikefinder_correlation(
                    spikes[neuron - first_neuron], frame_rate_hz, truth, bin_s
                ),
                "precision": scores["precision"],
                "recall": scores["recall"],
                "f1": scores["f1"],
            }
        )
    return rows
