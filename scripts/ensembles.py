"""Ensembles: cluster ensemble events by the Jaccard similarity of their neurons."""

import numpy as np
import pandas as pd

from calcium.ensembles import cluster_ensemble_events, ensemble_membership
from calcium.io import load_json, read_table, save_json, save_npy, save_table
from calcium.logs import log_to

log = log_to(snakemake.log[0], snakemake.wildcards)
facts = load_json(snakemake.input.facts)
settings = dict(snakemake.params.ensembles)
min_participation = settings.pop("min_participation")
linkage_method = settings.pop("linkage")
events = read_table(snakemake.input.events)
pairs = read_table(snakemake.input.neurons)
matrix = np.zeros((len(events), facts["n_neurons"]), dtype=bool)
matrix[pairs.event.to_numpy(dtype=int), pairs.neuron.to_numpy(dtype=int)] = True
result = cluster_ensemble_events(matrix, linkage_method=linkage_method, **settings)
participation = ensemble_membership(matrix, result.labels, result.n_ensembles)

events["ensemble"] = result.labels
save_table(snakemake.output.labels, events)
ensemble, neuron = np.nonzero(participation > 0)
members = pd.DataFrame(
    {"ensemble": ensemble, "neuron": neuron, "participation": participation[ensemble, neuron]}
)
members["member"] = members.participation >= min_participation
save_table(snakemake.output.members, members)
summary = pd.DataFrame(
    [
        {
            "ensemble": e,
            "n_events": int((result.labels == e).sum()),
            "n_members": int((participation[e] >= min_participation).sum()),
            "first_active_s": float(events.start_s[result.labels == e].min()),
            "last_active_s": float(events.start_s[result.labels == e].max()),
            "members": " ".join(str(n) for n in np.flatnonzero(participation[e] >= min_participation)),
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
        "n_ensembles": result.n_ensembles,
        "cut_distance": None if np.isnan(result.cut_distance) else result.cut_distance,
        "order": result.order.tolist(),
        "linkage": linkage_method,
        **settings,
    },
)
log.info("%d ensemble events -> %d ensembles", len(events), result.n_ensembles)
