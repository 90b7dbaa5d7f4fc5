"""Gather spike times: one tidy CSV and one .npz with an array of times (s) per neuron."""

import pandas as pd

from calcium.io import SPIKE_TIME_FORMAT, load_json, read_table, save_npz, save_table
from calcium.logs import log_to
from calcium.spikes import spike_times_by_neuron

log = log_to(snakemake.log[0])
facts = load_json(snakemake.input.facts)
table = pd.concat([read_table(path) for path in snakemake.input.shards], ignore_index=True)
save_table(snakemake.output.table, table, SPIKE_TIME_FORMAT)
save_npz(snakemake.output.arrays, **spike_times_by_neuron(table, facts["n_neurons"]))
log.info("%d spikes in %d neurons", len(table), facts["n_neurons"])
