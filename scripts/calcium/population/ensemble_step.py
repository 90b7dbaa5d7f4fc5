"""The population stage's ensembles step (rule ensembles): ensembles by the configured method
(`refined`, `ica` or `jaccard`), each tested against the circular-shift null, with the tables the
workflow writes (members, activations with times, per-neuron membership strength).

It takes the coactivity step's tables (`calcium.population.steps`: the session's recording,
binning and ensemble events) and plain settings, and returns tables. Times in seconds are on
the recording's clock.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from calcium.input.trial_structure import window_edges
from calcium.population.activations import Activations, coactivity_threshold
from calcium.population.assemblies import METHODS, AssemblySettings, find_assemblies
from calcium.population.coactivity import (
    combined_statistic,
    contributions,
    event_frames,
    frame_bins,
    participation_chance,
    significant_without_each,
    window_activity,
)
from calcium.population.components import (
    activation_strength,
    binned_activity,
    window_matrix,
    without_bins,
    zscore_rows,
)
from calcium.population.ensemble_significance import ensemble_p_values
from calcium.population.ensemble_tables import (
    ACTIVATION_COLUMNS,
    ENSEMBLE_COLUMNS,
    MEMBER_COLUMNS,
    frame_jitter_bins,
    label_events,
    leaf_order,
)
from calcium.population.ensembles import cluster_ensemble_events, jaccard_similarity
from calcium.population.event_sizes import with_event_sizes
from calcium.population.membership import find_members
from calcium.population.state import session_state
from calcium.population.steps import Binning, Recording, session_raster
from calcium.population.trial_coactivity import bin_times, trial_layout


class EnsembleSettings(NamedTuple):
    """How ensembles are found and tested (config `ensembles`).

    method: "refined" (ICA-seeded member sets refined against the circular-shift null, the
        default), "ica" (Lopes-dos-Santos et al. 2013) or "jaccard" (clustering of ensemble
        events by the Jaccard similarity of their neurons, the seed's procedure); see
        `calcium.population.assemblies`. The clustering keys (linkage, cutoff, cut_distance,
        null_percentile, variance_explained, n_null) apply to "jaccard" only;
        activation_alpha to "refined" and "ica".
    alpha: an ensemble is reported when its circular-shift p-value (Bonferroni over the
        candidates) is below alpha (1: every candidate); n_shuffles surrogates.
    exclude_stimuli, stimulus_margin_s: read by the rule, which turns the session's stimulus
        table into the `excluded` bins of `ensemble_analysis`.
    """

    method: str = "refined"
    linkage: str = "average"
    cutoff: str = "similarity_null"
    null_percentile: float = 95.0
    variance_explained: float = 0.5
    n_null: int = 100
    min_events: int = 3
    min_participation: float = 0.0
    membership_alpha: float = 0.05
    seed: int = 0
    cut_distance: float = 0.7
    activation_alpha: float = 0.01
    alpha: float = 0.05
    n_shuffles: int = 1000
    exclude_stimuli: bool = True
    stimulus_margin_s: float = 1.0


class EnsembleTables(NamedTuple):
    """Tables of the ensembles step (the same for every method).

    activations: the ensemble events, each with the ensemble it activates (-1: none).
    members: one row per (ensemble, neuron) that takes part or is a member: participation,
        chance, p_value, member, weight (the ICA pattern weight; for "jaccard" the
        participation of members, scaled to unit length).
    ensembles: one row per ensemble: n_events, n_members, first/last_active_s, members,
        p_value (circular-shift null, Bonferroni over the candidates), method.
    activation_times: one row per (ensemble, activation): the bins and times of each.
    strength: (ensembles, bins) activation strength R(t) of each ensemble's pattern, float32.
    similarity: (events, events) Jaccard similarity of the ensemble events, float32.
    clustering: dendrogram order, cut distance, method and settings (JSON-ready dict).
    n_clusters: candidates before testing (clusters, or ICA components).
    """

    activations: pd.DataFrame
    members: pd.DataFrame
    ensembles: pd.DataFrame
    activation_times: pd.DataFrame
    strength: np.ndarray
    similarity: np.ndarray
    clustering: dict
    n_clusters: int


def _jaccard_candidates(matrix, ensemble_events, raster, rec, binning, settings, min_active):
    """The seed's procedure: clusters of ensemble events, members by the binomial test.

    Returns (labels of the events, [(member, participation, p_value, chance, weight,
    Activations)] per ensemble, number of recurring clusters, cut distance, order)."""
    jitter = binning.jitter_bins
    clusters = cluster_ensemble_events(
        matrix,
        linkage_method=settings.linkage,
        cutoff=settings.cutoff,
        null_percentile=settings.null_percentile,
        variance_explained=settings.variance_explained,
        n_null=settings.n_null,
        min_events=settings.min_events,
        seed=settings.seed,
        cut_distance=settings.cut_distance,
    )
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
    first = ensemble_events["first_bin"].to_numpy(dtype=np.int64)
    last = ensemble_events["last_bin"].to_numpy(dtype=np.int64)
    found = []
    for e in range(result.n_ensembles):
        chosen = result.labels == e
        member = membership.member[e]
        weight = np.where(member, membership.participation[e], 0.0)
        norm = np.linalg.norm(weight)
        weight = weight / norm if norm > 0 else weight
        k = coactivity_threshold(chance[e][member], settings.activation_alpha)
        activations = Activations(
            peaks[chosen], first[chosen], last[chosen], matrix[chosen][:, member].sum(axis=1), k
        )
        found.append(
            (
                member,
                membership.participation[e],
                membership.p_value[e],
                chance[e],
                weight,
                activations,
                member,
            )
        )
    return result.labels, found, clusters.n_ensembles, result.cut_distance


def ensemble_analysis(
    events: pd.DataFrame,
    ensemble_events: pd.DataFrame,
    event_neurons: pd.DataFrame,
    min_active: int,
    recording: Recording,
    binning: Binning,
    settings: EnsembleSettings,
    excluded: np.ndarray | None = None,
) -> EnsembleTables:
    """Ensembles by `settings.method` (`EnsembleSettings`), each tested against the circular-shift null.

    "jaccard": ensemble events clustered by Jaccard similarity, members by a binomial test
    against each neuron's own activity (`calcium.population.membership.find_members`). "ica" and
    "refined": `calcium.population.assemblies.find_assemblies` on the session's events binned at bin_s.
    Every ensemble then gets its p-value (`calcium.population.ensemble_significance.ensemble_p_values`);
    those at or above settings.alpha are not reported (their events are relabelled -1).
    min_active: the coactivity null's minimum (see `NullSettings`).
    excluded: (n_bins,) bool, bins left out of the detection and the test of ensembles
        (`calcium.population.components.stimulus_bins`: presentations of stimuli, where neurons driven
        by one stimulus are coactive without forming an ensemble); None: none. The Jaccard
        method still clusters every ensemble event; its ensembles are tested without them.
    """
    if settings.method not in METHODS:
        raise ValueError(f"ensembles.method must be one of {METHODS}, not {settings.method!r}")
    rec = recording
    jitter = (
        binning.jitter_bins
        if settings.method == "jaccard"
        else frame_jitter_bins(binning.jitter_bins, rec.frame_rate_hz, binning.bin_s)
    )
    matrix = np.zeros((len(ensemble_events), rec.n_neurons), dtype=bool)
    matrix[event_neurons["event"].to_numpy(dtype=int), event_neurons["neuron"].to_numpy(dtype=int)] = True
    raster = session_raster(events, rec, binning)
    layout = trial_layout(rec, binning)
    if settings.method == "refined" and "amplitude_dff" in events and len(events):
        # Each member's event sizes weigh its presence at the activations (`event_sizes`).
        neurons, frames = event_frames(events, binning.event_time)
        of_frame = (
            layout.bin_of_frame[frames] if layout else frame_bins(frames, rec.frame_rate_hz, binning.bin_s)
        )
        raster = with_event_sizes(raster, neurons, of_frame, events["amplitude_dff"].to_numpy(dtype=float))
    tested = raster if excluded is None else without_bins(raster, excluded)
    similarity = jaccard_similarity(matrix)
    order = leaf_order(similarity, settings.linkage)
    activity, held = binned_activity(tested)
    zscored = zscore_rows(activity)
    del activity
    windows = window_matrix(tested, jitter)
    extra: dict = {}
    if settings.method == "jaccard":
        labels, found, n_candidates, cut = _jaccard_candidates(
            matrix, ensemble_events, raster, rec, binning, settings, min_active
        )
    else:
        assembly_settings = AssemblySettings(
            settings.activation_alpha, settings.membership_alpha, settings.min_events, jitter, settings.seed
        )
        assemblies, n_candidates, patterns, window_patterns = find_assemblies(
            tested, assembly_settings, refine=settings.method == "refined", zscored=zscored, windows=windows
        )
        found = [tuple(a) for a in assemblies]
        labels, cut = None, float("nan")
        extra = {
            "marchenko_pastur_bound": patterns.bound if np.isfinite(patterns.bound) else None,
            "eigenvalues_above_bound": [
                float(v) for v in patterns.eigenvalues[patterns.eigenvalues > patterns.bound]
            ],
        }
        if window_patterns is not None:
            bound = window_patterns.bound
            extra["windowed_bound"] = bound if np.isfinite(bound) else None
            above = window_patterns.eigenvalues > window_patterns.bound
            extra["windowed_eigenvalues_above_bound"] = [float(v) for v in window_patterns.eigenvalues[above]]
    # Every candidate's p-value against the circular-shift null of its members' coactivity.
    neurons, frames = event_frames(events, binning.event_time)
    counted = np.asarray(tested.frames_per_bin) > 0
    of_frame = layout.bin_of_frame[frames] if layout else frame_bins(frames, rec.frame_rate_hz, binning.bin_s)
    keep = counted[of_frame] if frames.size else frames > 0
    neurons, frames = neurons[keep], frames[keep]
    member_ids = [np.flatnonzero(f[6]) for f in found]  # the core: its coactivity is tested
    # The test's k: from each neuron's window activity over every counted bin, the rate the
    # circular shifts keep (the activations' k, from activity away from them, is lower: with it
    # a strong ensemble's own events, spread by the shifts, fill the null with bins above k).
    overall = window_activity(tested, jitter)
    # Where the population has a state, k is what chance reaches rarely in its up states too (the
    # rates times the state's 90th percentile over the counted bins): with the rates over all bins
    # chance alone filled the up states with bins at k, in the data and in surrogates that keep the
    # state alike, and a planted ensemble's 15 activations were lost among them (p 1.0).
    # Raised by the state to at most every member (a k no bin can reach made the ensemble
    # untestable, p 1; any k is a valid test, the data and the surrogates counted alike). Trials
    # keep no state (`ensemble_p_values`). Without a state, k is the flat one.
    state = session_state(tested, jitter)
    high = 1.0 if state is None or layout else float(np.percentile(state[counted], 90))
    thresholds = []
    for ids in member_ids:
        flat = coactivity_threshold(overall[ids], settings.activation_alpha)
        raised = coactivity_threshold(np.minimum(overall[ids] * high, 1.0), settings.activation_alpha)
        thresholds.append(min(raised, max(flat, ids.size)))
    observed = [
        int((windows[:, ids].sum(axis=1) >= k).sum()) for ids, k in zip(member_ids, thresholds, strict=True)
    ]
    p_values = ensemble_p_values(
        neurons,
        frames,
        rec.n_frames,
        rec.frame_rate_hz,
        binning.bin_s,
        jitter,
        member_ids,
        thresholds,
        observed,
        settings.n_shuffles,
        settings.seed,
        n_candidates=max(n_candidates, len(found)),
        counted=counted,
        layout=layout,
        state=state,
    )
    passing = [e for e in range(len(found)) if p_values[e] < settings.alpha or settings.alpha >= 1]
    if labels is None:  # number by activations (most first), ties by the first activation
        passing.sort(key=lambda e: (-found[e][5].peak.size, int(found[e][5].peak.min(initial=0))))
    found = [found[e] for e in passing]
    p_values = p_values[passing]
    n = len(found)
    if labels is not None:
        relabel = np.full(max(labels.max(initial=-1), 0) + 1, -1, dtype=np.int64)
        relabel[passing] = np.arange(n)
        event_labels = np.where(labels >= 0, relabel[np.maximum(labels, 0)], -1)
    else:
        event_labels = label_events(ensemble_events, matrix, found, jitter)
    weights = np.array([f[4] for f in found]).reshape(n, rec.n_neurons)
    strength = np.zeros((n, raster.n_bins), dtype=np.float32)
    strength[:, held] = activation_strength(zscored, weights)
    bin_start, bin_end = bin_times(layout, raster.n_bins, rec, binning)
    times = []
    for e, f in enumerate(found):
        act = f[5]
        first, last = window_edges(layout, act.first, act.last, jitter, raster.n_bins)
        times.append(
            pd.DataFrame(
                {
                    "ensemble": e,
                    "activation": np.arange(act.peak.size),
                    "bin": act.peak,
                    "first_bin": act.first,
                    "last_bin": act.last,
                    "peak_s": bin_start[act.peak],
                    "start_s": bin_start[first],
                    "end_s": bin_end[last],
                    "n_members_active": act.n_active,
                    "threshold_n_members": act.threshold,
                    "strength": strength[e, act.peak],
                }
            )
        )
    activation_times = (
        pd.concat(times, ignore_index=True) if times else pd.DataFrame(columns=ACTIVATION_COLUMNS)
    )
    if layout is not None:  # an activation never spans a boundary (`trial_layout`)
        activation_times.insert(2, "trial", layout.bin_trial[activation_times["bin"].to_numpy(int)])
    rows = []
    for e, f in enumerate(found):
        member, participation, p_member, chance, weight = f[:5]
        neuron = np.flatnonzero((participation > 0) | member)
        rows.append(
            pd.DataFrame(
                {
                    "ensemble": e,
                    "neuron": neuron,
                    "participation": participation[neuron],
                    "chance": chance[neuron],
                    "p_value": p_member[neuron],
                    "member": member[neuron],
                    "weight": weight[neuron],
                }
            )
        )
    members = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=MEMBER_COLUMNS)
    ensembles = pd.DataFrame(
        [
            {
                "ensemble": e,
                "n_events": int(f[5].peak.size),
                "n_members": int(f[0].sum()),
                "first_active_s": float(bin_start[f[5].peak].min()) if f[5].peak.size else float("nan"),
                "last_active_s": float(bin_start[f[5].peak].max()) if f[5].peak.size else float("nan"),
                "members": " ".join(str(i) for i in np.flatnonzero(f[0])),
                "p_value": float(p_values[e]),
                "method": settings.method,
            }
            for e, f in enumerate(found)
        ],
        columns=ENSEMBLE_COLUMNS,
    )
    if labels is not None:  # the seed's times: the window start of the ensemble's events
        start_s = ensemble_events["start_s"].to_numpy()
        for e in range(n):
            ensembles.loc[e, "first_active_s"] = float(start_s[event_labels == e].min())
            ensembles.loc[e, "last_active_s"] = float(start_s[event_labels == e].max())
    clustering = {
        "method": settings.method,
        "n_ensemble_events": len(ensemble_events),
        "n_clusters": int(n_candidates),
        "n_candidates": int(n_candidates),
        "n_ensembles": n,
        "cut_distance": None if np.isnan(cut) else cut,
        "order": order.tolist(),
        **extra,
        **settings._asdict(),
    }
    return EnsembleTables(
        ensemble_events.assign(ensemble=event_labels),
        members,
        ensembles,
        activation_times,
        strength,
        similarity.astype(np.float32),
        clustering,
        int(n_candidates),
    )
