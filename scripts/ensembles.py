"""Ensembles: cluster ensemble events by the Jaccard similarity of their neurons; test membership."""

import numpy as np
import pandas as pd

from calcium.coactivity import (
    combined_statistic,
    contributions,
    participation_chance,
    session_raster,
    significant_without_each,
)
from calcium.ensembles import cluster_ensemble_events, find_members
from calcium.io import load_json, read_table, save_json, save_npy, save_table
from calcium.logs import log_to

log = log_to(snakemake.log[0], snakemake.wildcards)
facts = load_json(snakemake.input.facts)
null = load_json(snakemake.input.threshold)
binning = snakemake.params.coactivity
jitter = binning["jitter_bins"]
settings = dict(snakemake.params.ensembles)
min_participation = settings.pop("min_participation")
alpha = settings.pop("membership_alpha")
linkage_method = settings.pop("linkage")
events = read_table(snakemake.input.events)
pairs = read_table(snakemake.input.neurons)
matrix = np.zeros((len(events), facts["n_neurons"]), dtype=bool)
matrix[pairs.event.to_numpy(dtype=int), pairs.neuron.to_numpy(dtype=int)] = True
clusters = cluster_ensemble_events(matrix, linkage_method=linkage_method, **settings)

raster = session_raster(read_table(snakemake.input.calcium_events), facts, binning)
peaks = events.bin.to_numpy(dtype=np.int64)
# Leave-one-out: a neuron's participation counts only in events that are ensemble events without it.
without = significant_without_each(
    combined_statistic(events.n_active, events.n_active_in_bin, facts["n_neurons"], jitter),
    events.threshold_statistic.to_numpy(),
    events.n_active.to_numpy(),
    matrix,
    contributions(raster, peaks, 0),
    facts["n_neurons"],
    jitter,
    null["min_active"],
)


def chance_of(labels, n_ensembles):
    return participation_chance(raster, peaks, labels, n_ensembles, jitter)


result, membership, chance = find_members(matrix, clusters, chance_of, alpha, min_participation, without)
if clusters.n_ensembles > result.n_ensembles:
    log.info(
        "%d of %d recurring clusters are not ensembles (fewer than 2 members, or parts or coincidences "
        "of larger ensembles)",
        clusters.n_ensembles - result.n_ensembles,
        clusters.n_ensembles,
    )

events["ensemble"] = result.labels
save_table(snakemake.output.labels, events)
ensemble, neuron = np.nonzero(membership.participation > 0)
save_table(
    snakemake.output.members,
    pd.DataFrame(
        {
            "ensemble": ensemble,
            "neuron": neuron,
            "participation": membership.participation[ensemble, neuron],
            "chance": chance[ensemble, neuron],
            "p_value": membership.p_value[ensemble, neuron],
            "member": membership.member[ensemble, neuron],
        }
    ),
)
summary = pd.DataFrame(
    [
        {
            "ensemble": e,
            "n_events": int((result.labels == e).sum()),
            "n_members": int(membership.member[e].sum()),
            "first_active_s": float(events.start_s[result.labels == e].min()),
            "last_active_s": float(events.start_s[result.labels == e].max()),
            "members": " ".join(str(n) for n in np.flatnonzero(membership.member[e])),
        }
        for e in range(result.n_ensembles)
    ],
    columns=["ensemble", "n_events", "n_members", "first_active_s", "last_active_s", "members"],
)
save_table(snakemake.output.summary, summary)
save_npy(snakemake.output.similarity, result.similarity.astype(np.float32))
save_json(
    snakemake.output.clustering,
    {
        "n_ensemble_events": len(events),
        "n_clusters": clusters.n_ensembles,
        "n_ensembles": result.n_ensembles,
        "cut_distance": None if np.isnan(result.cut_distance) else result.cut_distance,
        "order": result.order.tolist(),
        "linkage": linkage_method,
        "membership_alpha": alpha,
        "min_participation": min_participation,
        **settings,
    },
)
log.info(
    "%d ensemble events -> %d ensembles with %s members",
    len(events),
    result.n_ensembles,
    [int(n) for n in membership.member.sum(axis=1)],
)
