"""Spike times of one shard by thresholding the deconvolved activity."""

import numpy as np

from calcium.io import load_json, load_npy, read_table, save_table
from calcium.logs import log_to
from calcium.shards import shard_rows
from calcium.spikes import detect_spikes

log = log_to(snakemake.log[0], snakemake.wildcards)
facts = load_json(snakemake.input.facts)
rows = shard_rows(int(snakemake.wildcards.shard), facts["n_neurons"], snakemake.params.neurons_per_shard)
deconvolution = read_table(snakemake.input.table)
table = detect_spikes(
    load_npy(snakemake.input.spikes, slice(None)),
    snakemake.params.frame_rate_hz,
    neuron_ids=np.arange(rows.start, rows.stop),
    amplitude_noise=deconvolution["spike_amplitude_noise_dff"].to_numpy(dtype=float),
    lag_s=snakemake.params.lag_s,
    start_time_s=facts.get("start_time_s", 0.0),
    **snakemake.params.thresholds,
)
log.info(
    "%d spikes in neurons %d-%d (times moved %.4f s earlier)",
    len(table),
    rows.start,
    rows.stop - 1,
    snakemake.params.lag_s,
)
save_table(snakemake.output[0], table)
