"""Gather spike times: one tidy CSV and one .npz with an array of times (s) per neuron."""

import pandas as pd

from calcium.io import load_json, read_table, save_npz, save_table
from calcium.logs import log_to
from calcium.spikes import spike_times_by_neuron

log = log_to(snakemake.log[0], snakemake.wildcards)
facts = load_json(snakemake.input.facts)
table = pd.concat([read_table(path) for path in snakemake.input.shards], ignore_index=True)
save_table(snakemake.output.table, table)
arrays = spike_times_by_neuron(
    table, facts["n_neurons"], facts["frame_rate_hz"], facts.get("start_time_s", 0.0), snakemake.params.lag_s
)
save_npz(snakemake.output.arrays, **arrays)
log.info("%d spikes in %d neurons", len(table), facts["n_neurons"])
