"""The ensembles step's tables: their columns, the order of ensemble events for the similarity
figure, the label of each ensemble event, and membership matrices read back from the members
table."""

from __future__ import annotations

import numpy as np
import pandas as pd

ACTIVATION_COLUMNS = [
    "ensemble",
    "activation",
    "bin",
    "first_bin",
    "last_bin",
    "peak_s",
    "start_s",
    "end_s",
    "n_members_active",
    "threshold_n_members",
    "strength",
]


MEMBER_COLUMNS = ["ensemble", "neuron", "participation", "chance", "p_value", "member", "weight"]


ENSEMBLE_COLUMNS = [
    "ensemble",
    "n_events",
    "n_members",
    "first_active_s",
    "last_active_s",
    "members",
    "p_value",
    "method",
]


def frame_jitter_bins(jitter_bins: int, frame_rate_hz: float, bin_s: float) -> int:
    """The jitter window of the "ica" and "refined" methods: `jitter_bins`, and at least one frame
    interval in bins (onsets are known to the frame: at 1 Hz two members one frame apart are
    2 bins of 0.5 s apart)."""
    return max(int(jitter_bins), int(np.floor(1.0 / (frame_rate_hz * bin_s) + 0.5)))


def leaf_order(similarity: np.ndarray, linkage_method: str) -> np.ndarray:
    """Leaf order of the average-linkage dendrogram of the ensemble events (for heat maps)."""
    n = similarity.shape[0]
    if n < 2:
        return np.arange(n, dtype=np.int64)
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    distance = 1.0 - similarity
    np.fill_diagonal(distance, 0.0)
    return leaves_list(linkage(squareform(distance, checks=False), method=linkage_method)).astype(np.int64)


def label_events(ensemble_events: pd.DataFrame, matrix: np.ndarray, found: list, jitter: int) -> np.ndarray:
    """Ensemble of each coactivity ensemble event: among the ensembles with an activation whose
    window overlaps the event's, the one with the largest fraction of its members in it; -1: none."""
    labels = np.full(len(ensemble_events), -1, dtype=np.int64)
    if not found or not len(ensemble_events):
        return labels
    first = ensemble_events["first_bin"].to_numpy(dtype=np.int64)
    last = ensemble_events["last_bin"].to_numpy(dtype=np.int64)
    best = np.zeros(len(ensemble_events))
    for e, f in enumerate(found):
        member, act = f[0], f[5]
        if not act.peak.size:
            continue
        overlaps = (first[:, None] <= act.last[None, :] + 2 * jitter) & (
            last[:, None] >= act.first[None, :] - 2 * jitter
        )
        fraction = matrix[:, member].mean(axis=1) if member.any() else np.zeros(len(labels))
        better = overlaps.any(axis=1) & (fraction > best)
        labels[better] = e
        best[better] = fraction[better]
    return labels


def membership_matrices(
    members: pd.DataFrame, n_ensembles: int, n_neurons: int
) -> tuple[np.ndarray, np.ndarray]:
    """(participation, member) matrices, (ensembles, neurons) each, from the members table."""
    participation = np.zeros((n_ensembles, n_neurons))
    member = np.zeros(participation.shape, dtype=bool)
    rows, columns = members["ensemble"].to_numpy(dtype=int), members["neuron"].to_numpy(dtype=int)
    participation[rows, columns] = members["participation"].to_numpy()
    member[rows, columns] = members["member"].to_numpy(dtype=bool)
    return participation, member
