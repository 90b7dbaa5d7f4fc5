"""Figure: which neurons take part in each ensemble."""

import numpy as np

from calcium.io import load_json, read_table
from calcium.logs import log_to
from calcium.plots import membership_figure, save_figure

log = log_to(snakemake.log[0], snakemake.wildcards)
facts = load_json(snakemake.input.facts)
clustering = load_json(snakemake.input.clustering)
members = read_table(snakemake.input.members)
participation = np.zeros((clustering["n_ensembles"], facts["n_neurons"]))
participation[members.ensemble.to_numpy(dtype=int), members.neuron.to_numpy(dtype=int)] = (
    members.participation.to_numpy()
)
figure = membership_figure(
    participation, snakemake.params.min_participation, title=f"session {snakemake.wildcards.session}"
)
save_figure(figure, snakemake.output[0])
log.info("membership drawn")
