"""The population stage as two steps, each one rule: coactivity (with its null, the ensemble
events and per-neuron features) and ensembles (clustering and membership).

These functions compose `calcium.coactivity`, `calcium.features` and `calcium.ensembles`
into the tables the workflow writes; they take an events table (one row per calcium
event, `calcium.events.EVENT_COLUMNS`) and plain settings, and return tables.
Times in seconds are on the recording's clock: bin b starts at start_time_s + b·bin_s.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from .coactivity import (
    ActiveBins,
    circular_shift_null,
    combined_statistic,
    contributions,
    degenerate_groups,
    event_frames,
    group_ensemble_events,
    participation_chance,
    raster_from_events,
    significant_bins,
    significant_without_each,
    statistic_scale,
    threshold_table,
    thresholds_from_table,
    window_coactivity,
    window_frames,
)
from .coactivity import null_thresholds as _null_thresholds
from .ensembles import cluster_ensemble_events, find_members
from .features import event_features, population_coupling, session_summary


class Recording(NamedTuple):
    """Size and clock of a session: neurons, frames, frame rate (Hz), time of frame 0 (s)."""

    n_neurons: int
    n_frames: int
    frame_rate_hz: float
    start_time_s: float = 0.0


class Binning(NamedTuple):
    """How events become coactivity (config `coactivity`).

    bin_s: bin width (s); event_time: "onset" or "peak" frame places an event;
    jitter_bins: members of one activation may be this many bins apart.
    """

    bin_s: float = 0.5
    event_time: str = "onset"
    jitter_bins: int = 1


class NullSettings(NamedTuple):
    """The circular-shift null (config `coactivity_null`)."""

    n_shuffles: int = 1000
    seed: int = 0
    percentile: float = 99.0
    statistic: str = "pooled"
    min_active: int = 2


def session_raster(events: pd.DataFrame, recording: Recording, binning: Binning) -> ActiveBins:
    """Sparse (neuron, bin) raster of a session's events."""
    return raster_from_events(
        events,
        recording.n_neurons,
        recording.n_frames,
        recording.frame_rate_hz,
        binning.bin_s,
        binning.event_time,
    )


class Coactivity(NamedTuple):
    """Tables of the coactivity step.

    bins: one row per bin (bin, start_s, end_s, n_frames, n_active, fraction_active,
        n_active_window).
    shuffles: one row per surrogate (shuffle, max_active, mean_active).
    histogram: null distribution per kind of bin (frames, n_active, n_bins, fraction).
    threshold: the null's thresholds and settings (JSON-ready dict; `note` says when
        the null is degenerate).
    ensemble_events: one row per ensemble event (significant activation).
    event_neurons: one row per (event, neuron) taking part.
    """

    bins: pd.DataFrame
    shuffles: pd.DataFrame
    histogram: pd.DataFrame
    threshold: dict
    ensemble_events: pd.DataFrame
    event_neurons: pd.DataFrame


def coactivity_analysis(
    events: pd.DataFrame, recording: Recording, binning: Binning, null: NullSettings, processes: int = 1
) -> Coactivity:
    """Coactivity per bin, its circular-shift null, and the ensemble events it makes significant.

    Each neuron's event frames are shifted circularly (`calcium.coactivity.circular_shift_null`);
    the tested statistic is the number of neurons active within ± jitter_bins of a bin, ties
    broken by those in the bin itself; a bin is significant above the null's `percentile`
    for bins holding as many frames and with at least `min_active` neurons. Significant bins
    of one activation merge into one ensemble event. processes: worker processes for the
    null's shuffles (the result does not depend on it).
    """
    rec, jitter = recording, binning.jitter_bins
    raster = session_raster(events, rec, binning)
    n_active = np.bincount(raster.bins, minlength=raster.n_bins)
    window = window_coactivity(raster, jitter)
    bins = np.arange(raster.n_bins)
    duration_s = rec.n_frames / rec.frame_rate_hz
    table = pd.DataFrame(
        {
            "bin": bins,
            "start_s": rec.start_time_s + bins * binning.bin_s,
            "end_s": rec.start_time_s + np.minimum((bins + 1) * binning.bin_s, duration_s),
            "n_frames": raster.frames_per_bin,
            "n_active": n_active,
            "fraction_active": n_active / rec.n_neurons,
            "n_active_window": window,
        }
    )
    neurons, frames = event_frames(events, binning.event_time)
    surrogates = circular_shift_null(
        neurons,
        frames,
        rec.n_neurons,
        rec.n_frames,
        rec.frame_rate_hz,
        binning.bin_s,
        null.n_shuffles,
        null.seed,
        jitter_bins=jitter,
        processes=processes,
    )
    frames_in = window_frames(raster.frames_per_bin, jitter)
    scale = statistic_scale(rec.n_neurons, jitter)
    thresholds = threshold_table(
        _null_thresholds(surrogates, frames_in, null.percentile, null.statistic), frames_in, scale
    )
    counted = surrogates // scale  # neurons active within the window (the statistic breaks ties beyond)
    shuffles = pd.DataFrame(
        {
            "shuffle": np.arange(counted.shape[0]),
            "max_active": counted.max(axis=1),
            "mean_active": counted.mean(axis=1),
        }
    )
    histogram = _null_histogram(counted, frames_in, thresholds, rec.n_neurons)
    degenerate = degenerate_groups(thresholds, null.min_active)
    note = None
    if degenerate:
        note = (
            f"degenerate null: in bins holding {[row['frames'] for row in degenerate]} frames the "
            f"{null.percentile}th percentile of the null is "
            f"{[row['threshold_n_active'] for row in degenerate]} active neurons (events are too "
            f"sparse for a null); ensemble events there need at least min_active = {null.min_active} "
            "neurons"
        )
    typical = max(thresholds, key=lambda row: (row["n_bins"], row["frames"]))
    summary = {
        "threshold_n_active": typical["threshold_n_active"],
        "thresholds": thresholds,
        "statistic_scale": scale,
        "degenerate": bool(degenerate),
        "note": note,
        **null._asdict(),
        "bin_s": binning.bin_s,
        "jitter_bins": jitter,
        "n_bins": int(raster.n_bins),
    }
    per_bin = thresholds_from_table(thresholds, frames_in)
    statistic = combined_statistic(window, n_active, rec.n_neurons, jitter)
    significant = significant_bins(statistic, per_bin, null.min_active, window)
    peak, first, last = group_ensemble_events(significant, statistic, jitter)
    event, neuron = np.nonzero(contributions(raster, peak, jitter))
    window_first = np.maximum(peak - jitter, 0)
    window_last = np.minimum(peak + jitter, raster.n_bins - 1)
    ensemble_events = pd.DataFrame(
        {
            "event": np.arange(peak.size),
            "bin": peak,
            "first_bin": first,
            "last_bin": last,
            "start_s": table.start_s.to_numpy()[window_first],
            "end_s": table.end_s.to_numpy()[window_last],
            "n_active": window[peak],
            "n_active_in_bin": n_active[peak],
            "threshold_n_active": per_bin[peak] / scale,
            "threshold_statistic": per_bin[peak],
        }
    )
    return Coactivity(
        table, shuffles, histogram, summary, ensemble_events, pd.DataFrame({"event": event, "neuron": neuron})
    )


def _null_histogram(
    counted: np.ndarray, frames_in: np.ndarray, thresholds: list[dict], n_neurons: int
) -> pd.DataFrame:
    """Null distribution of coactivity per kind of bin (frames held within the window)."""
    parts = []
    for row in thresholds:
        counts = np.bincount(counted[:, frames_in == row["frames"]].ravel(), minlength=n_neurons + 1)
        parts.append(
            pd.DataFrame(
                {
                    "frames": row["frames"],
                    "n_active": np.arange(counts.size),
                    "n_bins": counts,
                    "fraction": counts / max(counts.sum(), 1),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def neuron_features(
    events: pd.DataFrame,
    ensemble_events: pd.DataFrame,
    recording: Recording,
    binning: Binning,
    burst_iei_s: float = 1.0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-neuron event features with population coupling, and the session's averages.

    A neuron takes part in an ensemble event when it is active within the event's peak
    bin ± jitter_bins. Returns (features: one row per neuron, summary: one row).
    """
    features = event_features(
        events, recording.n_neurons, recording.n_frames, recording.frame_rate_hz, burst_iei_s
    )
    raster = session_raster(events, recording, binning)
    reach = np.arange(-binning.jitter_bins, binning.jitter_bins + 1)
    windows = (ensemble_events["bin"].to_numpy(dtype=np.int64)[:, None] + reach).ravel()
    ensemble_bins = np.unique(windows[(windows >= 0) & (windows < raster.n_bins)])
    features = features.merge(population_coupling(raster, ensemble_bins), on="neuron")
    summary = session_summary(features, n_events=len(events), n_ensemble_events=len(ensemble_events))
    return features, summary


class EnsembleSettings(NamedTuple):
    """Clustering of ensemble events and membership (config `ensembles`)."""

    linkage: str = "average"
    cutoff: str = "similarity_null"
    null_percentile: float = 95.0
    variance_explained: float = 0.5
    n_null: int = 100
    min_events: int = 3
    min_participation: float = 0.0
    membership_alpha: float = 0.05
    seed: int = 0


class EnsembleTables(NamedTuple):
    """Tables of the ensembles step.

    activations: the ensemble events, each with the ensemble it activates (-1: none).
    members: one row per (ensemble, neuron) that takes part: participation, chance,
        p_value, member.
    ensembles: one row per ensemble: n_events, n_members, first/last_active_s, members.
    similarity: (events, events) Jaccard similarity, float32.
    clustering: dendrogram order, cut distance and settings (JSON-ready dict).
    n_clusters: recurring clusters before membership (some are not ensembles).
    """

    activations: pd.DataFrame
    members: pd.DataFrame
    ensembles: pd.DataFrame
    similarity: np.ndarray
    clustering: dict
    n_clusters: int


def ensemble_analysis(
    events: pd.DataFrame,
    ensemble_events: pd.DataFrame,
    event_neurons: pd.DataFrame,
    min_active: int,
    recording: Recording,
    binning: Binning,
    settings: EnsembleSettings,
) -> EnsembleTables:
    """Cluster ensemble events (Jaccard, hierarchical, cut against a null) and test membership.

    A neuron is a member of an ensemble when it takes part in more of the ensemble's events
    than its own activity outside them predicts (one-sided binomial test, Holm-corrected,
    `calcium.ensembles.find_members`); its participation counts only in events that are
    ensemble events without it (leave-one-out, `significant_without_each`).
    min_active: the coactivity null's minimum (see `NullSettings`).
    """
    rec, jitter = recording, binning.jitter_bins
    matrix = np.zeros((len(ensemble_events), rec.n_neurons), dtype=bool)
    matrix[event_neurons["event"].to_numpy(dtype=int), event_neurons["neuron"].to_numpy(dtype=int)] = True
    clusters = cluster_ensemble_events(
        matrix,
        linkage_method=settings.linkage,
        cutoff=settings.cutoff,
        null_percentile=settings.null_percentile,
        variance_explained=settings.variance_explained,
        n_null=settings.n_null,
        min_events=settings.min_events,
        seed=settings.seed,
    )
    raster = session_raster(events, rec, binning)
    peaks = ensemble_events["bin"].to_numpy(dtype=np.int64)
    without = significant_without_each(
        combined_statistic(ensemble_events.n_active, ensemble_events.n_active_in_bin, rec.n_neurons, jitter),
        ensemble_events.threshold_statistic.to_numpy(),
        ensemble_events.n_active.to_numpy(),
        matrix,
        contributions(raster, peaks, 0),
        rec.n_neurons,
        jitter,
        min_active,
    )

    def chance_of(labels, n_ensembles):
        return participation_chance(raster, peaks, labels, n_ensembles, jitter)

    result, membership, chance = find_members(
        matrix, clusters, chance_of, settings.membership_alpha, settings.min_participation, without
    )
    activations = ensemble_events.assign(ensemble=result.labels)
    ensemble, neuron = np.nonzero(membership.participation > 0)
    members = pd.DataFrame(
        {
            "ensemble": ensemble,
            "neuron": neuron,
            "participation": membership.participation[ensemble, neuron],
            "chance": chance[ensemble, neuron],
            "p_value": membership.p_value[ensemble, neuron],
            "member": membership.member[ensemble, neuron],
        }
    )
    start_s = ensemble_events["start_s"].to_numpy()
    ensembles = pd.DataFrame(
        [
            {
                "ensemble": e,
                "n_events": int((result.labels == e).sum()),
                "n_members": int(membership.member[e].sum()),
                "first_active_s": float(start_s[result.labels == e].min()),
                "last_active_s": float(start_s[result.labels == e].max()),
                "members": " ".join(str(n) for n in np.flatnonzero(membership.member[e])),
            }
            for e in range(result.n_ensembles)
        ],
        columns=["ensemble", "n_events", "n_members", "first_active_s", "last_active_s", "members"],
    )
    clustering = {
        "n_ensemble_events": len(ensemble_events),
        "n_clusters": clusters.n_ensembles,
        "n_ensembles": result.n_ensembles,
        "cut_distance": None if np.isnan(result.cut_distance) else result.cut_distance,
        "order": result.order.tolist(),
        **settings._asdict(),
    }
    return EnsembleTables(
        activations,
        members,
        ensembles,
        result.similarity.astype(np.float32),
        clustering,
        clusters.n_ensembles,
    )


def effective_thresholds(bins: pd.DataFrame, threshold: dict) -> np.ndarray:
    """Per bin, the most active neurons a bin can have and not be an ensemble event:
    the null's threshold for bins holding as many frames, and at least min_active − 1
    (counts are integers), (n_bins,) float."""
    frames_in = window_frames(bins["n_frames"].to_numpy(), threshold["jitter_bins"])
    per_bin = thresholds_from_table(threshold["thresholds"], frames_in, "threshold_n_active")
    return np.maximum(per_bin, threshold["min_active"] - 1)


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
