"""Figure: which neurons take part in each ensemble, and which are members."""

import numpy as np

from calcium.io import load_json, read_table
from calcium.logs import log_to
from calcium.plots import membership_figure, save_figure

log = log_to(snakemake.log[0], snakemake.wildcards)
facts = load_json(snakemake.input.facts)
clustering = load_json(snakemake.input.clustering)
members = read_table(snakemake.input.members)
participation = np.zeros((clustering["n_ensembles"], facts["n_neurons"]))
member = np.zeros(participation.shape, dtype=bool)
rows, columns = members.ensemble.to_numpy(dtype=int), members.neuron.to_numpy(dtype=int)
participation[rows, columns] = members.participation.to_numpy()
member[rows, columns] = members.member.to_numpy(dtype=bool)
figure = membership_figure(participation, member, title=f"session {snakemake.wildcards.session}")
save_figure(figure, snakemake.output[0])
log.info("membership drawn")
