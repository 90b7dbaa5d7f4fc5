"""Per-neuron and per-session features of calcium events."""

from __future__ import annotations

import numpy as np
import pandas as pd

from calcium.population.coactivity import ActiveBins, coactivity

FEATURE_COLUMNS = [
    "neuron",
    "event_count",
    "event_rate_per_min",
    "mean_amplitude_dff",
    "median_amplitude_dff",
    "mean_fwhm_s",
    "mean_area_dff_s",
    "iei_mean_s",
    "iei_cv",
    "fraction_time_active",
    "burst_index",
    "population_coupling",
    "ensemble_event_fraction",
]


def event_features(
    events: pd.DataFrame,
    n_neurons: int,
    n_frames: int,
    frame_rate_hz: float,
    burst_iei_s: float = 1.0,
) -> pd.DataFrame:
    """Per-neuron event statistics, one row per neuron (NaN where undefined).

    events: table from `calcium.population.events.detect_events`.
    event_rate_per_min: events per minute of recording.
    iei_mean_s, iei_cv: mean and coefficient of variation (SD/mean) of the
        intervals between successive event onsets (needs >= 2 / 3 events).
    fraction_time_active: fraction of frames inside an event (onset..end).
    burst_index: fraction of inter-event intervals shorter than burst_iei_s
        (events riding on each other, as in compound transients).
    With a `trial` column (a session cut into trials, `calcium.input.trial_structure`), intervals
    are taken within trials only, and n_frames should count the frames within trials.
    """
    duration_min = n_frames / frame_rate_hz / 60.0
    table = pd.DataFrame({"neuron": np.arange(n_neurons)})
    ordered = events.astype({"neuron": np.int64, "onset_frame": np.int64, "end_frame": np.int64})
    ordered = ordered.sort_values(["neuron", "onset_frame"])
    grouped = ordered.groupby("neuron")
    count = grouped.size().reindex(table.neuron, fill_value=0).to_numpy()
    table["event_count"] = count
    table["event_rate_per_min"] = count / duration_min
    table["mean_amplitude_dff"] = grouped.amplitude_dff.mean().reindex(table.neuron).to_numpy()
    table["median_amplitude_dff"] = grouped.amplitude_dff.median().reindex(table.neuron).to_numpy()
    table["mean_fwhm_s"] = grouped.fwhm_s.mean().reindex(table.neuron).to_numpy()
    table["mean_area_dff_s"] = grouped.area_dff_s.mean().reindex(table.neuron).to_numpy()
    same_neuron = ordered.neuron.to_numpy()[1:] == ordered.neuron.to_numpy()[:-1]
    if "trial" in ordered.columns:  # a session cut into trials: no interval across a boundary
        trial = ordered.trial.to_numpy()
        same_neuron &= trial[1:] == trial[:-1]
    iei = (
        pd.DataFrame(
            {
                "neuron": ordered.neuron.to_numpy()[1:][same_neuron],
                "iei_s": np.diff(ordered.onset_s.to_numpy())[same_neuron],
            }
        )
        .groupby("neuron")
        .iei_s
    )
    mean = iei.mean().reindex(table.neuron).to_numpy()
    sd = iei.std(ddof=1).reindex(table.neuron).to_numpy()
    table["iei_mean_s"] = mean
    table["iei_cv"] = np.where(mean > 0, sd / np.where(mean > 0, mean, 1), np.nan)
    table["burst_index"] = (
        iei.apply(lambda x: float(np.mean(x < burst_iei_s))).reindex(table.neuron).to_numpy()
    )
    active = np.zeros(n_neurons)
    np.add.at(active, ordered.neuron.to_numpy(), (ordered.end_frame - ordered.onset_frame + 1).to_numpy())
    table["fraction_time_active"] = np.minimum(active / n_frames, 1.0)
    return table


def population_coupling(raster: ActiveBins, ensemble_bins: np.ndarray | None = None) -> pd.DataFrame:
    """How strongly each neuron's events lock to the activity of the rest of the population.

    population_coupling (this workflow's metric): the number of *other* neurons
        active in the bins where the neuron is active, divided by the number
        expected if it ignored them,
            PC_i = sum_{b: a_ib=1} (n_b − 1) / sum_{b: a_ib=1} m_{g(b), i},
            m_{g, i} = mean over the bins b' holding as many frames as b of (n_b' − a_ib'),
        with n_b the coactivity of bin b. When every bin holds the same number of
        frames this is mean_{b: a_ib=1} (n_b − 1) / mean_b (n_b − a_ib); comparing
        each bin with bins of its own length keeps PC = 1 for independent neurons at
        any frame rate (bins holding 3 frames have more partners than 2-frame bins,
        bins holding none have none). PC = 1: the neuron ignores the population;
        PC > 1: its events come with population events (PC = 3: three times as many
        partners as chance); PC < 1: it fires when the others are quiet. NaN for
        neurons without events.
    ensemble_event_fraction: fraction of the neuron's active bins that take part in
        an ensemble event (ensemble_bins: the bins counted as such); NaN without events.
    """
    n_active = coactivity(raster)
    n_bins = raster.n_bins
    own = np.bincount(raster.neurons, minlength=raster.n_neurons).astype(float)
    partners = np.bincount(raster.neurons, weights=n_active[raster.bins] - 1.0, minlength=raster.n_neurons)
    frames = np.zeros(n_bins, np.int64) if raster.frames_per_bin is None else raster.frames_per_bin
    kinds, group = np.unique(frames, return_inverse=True)
    n_groups = kinds.size
    bins_in_group = np.bincount(group, minlength=n_groups).astype(float)
    active_in_group = np.bincount(group, weights=n_active, minlength=n_groups)
    # own_g[i, g]: active bins of neuron i among the bins of group g.
    own_g = np.bincount(
        raster.neurons * n_groups + group[raster.bins], minlength=raster.n_neurons * n_groups
    ).reshape(raster.n_neurons, n_groups)
    expected = (own_g * (active_in_group[None, :] - own_g) / bins_in_group[None, :]).sum(axis=1)
    coupling = np.divide(
        partners, expected, out=np.full(raster.n_neurons, np.nan), where=(own > 0) & (expected > 0)
    )
    significant = np.zeros(n_bins, dtype=bool)
    if ensemble_bins is not None and len(ensemble_bins):
        significant[np.asarray(ensemble_bins, dtype=np.int64)] = True
    in_ensemble = np.bincount(
        raster.neurons, weights=significant[raster.bins].astype(float), minlength=raster.n_neurons
    )
    fraction = np.divide(in_ensemble, own, out=np.full(raster.n_neurons, np.nan), where=own > 0)
    return pd.DataFrame(
        {
            "neuron": np.arange(raster.n_neurons),
            "population_coupling": coupling,
            "ensemble_event_fraction": fraction,
        }
    )


def session_summary(features: pd.DataFrame, **counts) -> pd.DataFrame:
    """One row: the mean of every per-neuron feature across neurons (NaNs skipped), plus counts."""
    numeric = features.drop(columns="neuron")
    row = {"n_neurons": len(features), "n_neurons_with_events": int((features.event_count > 0).sum())}
    row.update(counts)
    row.update({f"mean_{c}": float(numeric[c].mean()) for c in numeric.columns})
    return pd.DataFrame([row])
