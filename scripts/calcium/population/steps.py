"""The population stage's coactivity step (rules coactivity and features): coactivity with its
null and the ensemble events, and per-neuron features; the ensembles step (rule ensembles) is
`calcium.population.ensemble_step`.

These functions compose `calcium.population.coactivity`, `calcium.population.features` and
`calcium.population.ensembles` into the tables the workflow writes; they take an events table
(one row per calcium event, `calcium.population.events.EVENT_COLUMNS`) and plain settings, and return tables.
Times in seconds are on the recording's clock: bin b starts at start_time_s + b·bin_s.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from calcium.input.trial_structure import frames_in_trials, window_edges
from calcium.population.coactivity import (
    ActiveBins,
    combined_statistic,
    contributions,
    event_frames,
    group_ensemble_events,
    raster_from_events,
    significant_bins,
    statistic_scale,
    window_coactivity,
    window_frames,
)
from calcium.population.features import event_features, population_coupling, session_summary
from calcium.population.null import (
    circular_shift_null,
    degenerate_groups,
    threshold_table,
    thresholds_from_table,
)
from calcium.population.null import null_thresholds as _null_thresholds
from calcium.population.trial_coactivity import bin_times, trial_layout, trial_raster, trial_shift_null


class Recording(NamedTuple):
    """Size and clock of a session: neurons, frames, frame rate (Hz), frame 0's time (s), trials."""

    n_neurons: int
    n_frames: int
    frame_rate_hz: float
    start_time_s: float = 0.0
    trials: np.ndarray | None = None  # (trials, 2) frames (calcium.input.trial_structure); None: continuous


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
    """Sparse (neuron, bin) raster of a session's events (bins restart at each trial, if any)."""
    if (layout := trial_layout(recording, binning)) is not None:
        return trial_raster(*event_frames(events, binning.event_time), recording.n_neurons, layout)
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

    Each neuron's event frames are shifted circularly (`calcium.population.null.circular_shift_null`);
    the tested statistic is the number of neurons active within ± jitter_bins of a bin, ties
    broken by those in the bin itself; a bin is significant above the null's `percentile`
    for bins holding as many frames and with at least `min_active` neurons. Significant bins
    of one activation merge into one ensemble event. processes: worker processes for the
    null's shuffles (the result does not depend on it).
    """
    rec, jitter, layout = recording, binning.jitter_bins, trial_layout(recording, binning)
    raster = session_raster(events, rec, binning)
    n_active = np.bincount(raster.bins, minlength=raster.n_bins)
    window = window_coactivity(raster, jitter)
    start_s, end_s = bin_times(layout, raster.n_bins, rec, binning)
    table = pd.DataFrame(
        {
            "bin": np.arange(raster.n_bins),
            "start_s": start_s,
            "end_s": end_s,
            "n_frames": raster.frames_per_bin,
            "n_active": n_active,
            "fraction_active": n_active / rec.n_neurons,
            "n_active_window": window,
        }
    )
    neurons, frames = event_frames(events, binning.event_time)
    surrogates = (circular_shift_null if layout is None else trial_shift_null)(
        neurons,
        frames,
        rec.n_neurons,
        *((rec.n_frames,) if layout is None else (layout,)),  # within trials: trial by trial
        rec.frame_rate_hz,
        binning.bin_s,
        null.n_shuffles,
        null.seed,
        jitter_bins=jitter,
        processes=processes,
    )
    frames_in = window_frames(raster.frames_per_bin, jitter)
    scale = statistic_scale(rec.n_neurons, jitter)
    tested = slice(None) if layout is None else layout.bin_trial >= 0  # separators: never tested
    surrogates, tested_frames = surrogates[:, tested], frames_in[tested]
    thresholds = threshold_table(
        _null_thresholds(surrogates, tested_frames, null.percentile, null.statistic), tested_frames, scale
    )
    counted = surrogates // scale  # neurons active within the window (the statistic breaks ties beyond)
    shuffles = pd.DataFrame(
        {
            "shuffle": np.arange(counted.shape[0]),
            "max_active": counted.max(axis=1),
            "mean_active": counted.mean(axis=1),
        }
    )
    histogram = _null_histogram(counted, tested_frames, thresholds, rec.n_neurons)
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
    per_bin = np.full(raster.n_bins, np.nan)  # NaN: the bins separating trials, never tested
    per_bin[tested] = thresholds_from_table(thresholds, tested_frames)
    statistic = combined_statistic(window, n_active, rec.n_neurons, jitter)
    significant = significant_bins(statistic, per_bin, null.min_active, window)
    peak, first, last = group_ensemble_events(significant, statistic, jitter)
    event, neuron = np.nonzero(contributions(raster, peak, jitter))
    window_first, window_last = window_edges(layout, peak, peak, jitter, raster.n_bins)
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
    if layout is not None:  # the trial of each bin (-1: the separators) and ensemble event
        table.insert(1, "trial", layout.bin_trial), ensemble_events.insert(1, "trial", layout.bin_trial[peak])
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
    observed = recording.n_frames if recording.trials is None else frames_in_trials(recording.trials)
    features = event_features(events, recording.n_neurons, observed, recording.frame_rate_hz, burst_iei_s)
    raster = session_raster(events, recording, binning)
    reach = np.arange(-binning.jitter_bins, binning.jitter_bins + 1)
    windows = (ensemble_events["bin"].to_numpy(dtype=np.int64)[:, None] + reach).ravel()
    ensemble_bins = np.unique(windows[(windows >= 0) & (windows < raster.n_bins)])
    features = features.merge(population_coupling(raster, ensemble_bins), on="neuron")
    summary = session_summary(features, n_events=len(events), n_ensemble_events=len(ensemble_events))
    return features, summary


def effective_thresholds(bins: pd.DataFrame, threshold: dict) -> np.ndarray:
    """Per bin, the most active neurons a bin can have and not be an ensemble event:
    the null's threshold for bins holding as many frames, and at least min_active − 1
    (counts are integers), (n_bins,) float."""
    frames_in = window_frames(bins["n_frames"].to_numpy(), threshold["jitter_bins"])
    per_bin = thresholds_from_table(threshold["thresholds"], frames_in, "threshold_n_active")
    return np.maximum(per_bin, threshold["min_active"] - 1)
