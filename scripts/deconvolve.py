"""OASIS deconvolution of one shard: inferred calcium, spike amplitudes and a per-neuron table."""

import numpy as np
import pandas as pd

from calcium.deconvolve import ar_to_time_constants, deconvolve_traces, smooth_activity, spike_amplitude_noise
from calcium.io import load_json, load_npy, save_npy, save_table
from calcium.logs import log_to
from calcium.shards import shard_rows

log = log_to(snakemake.log[0], snakemake.wildcards)
settings = dict(snakemake.params.oasis)
smoothing_s = settings.pop("smoothing_s")
lag_s = settings.pop("lag_s")
frame_rate_hz = snakemake.params.frame_rate_hz
facts = load_json(snakemake.input.facts)
rows = shard_rows(int(snakemake.wildcards.shard), facts["n_neurons"], snakemake.params.neurons_per_shard)
neurons = np.arange(rows.start, rows.stop)

result = deconvolve_traces(
    load_npy(snakemake.input.traces, slice(None)), frame_rate_hz, neuron_ids=neurons, **settings
)
taus = np.array([ar_to_time_constants(g1, g2, frame_rate_hz) for g1, g2 in result.g])
table = pd.DataFrame(
    {
        "neuron": neurons,
        "baseline_dff": result.baseline,
        "g1": result.g[:, 0],
        "g2": result.g[:, 1],
        "tau_decay_s": taus[:, 0],
        "tau_rise_s": taus[:, 1],
        "lambda": result.lam,
        "noise_sd_dff": result.noise_sd,
        "spike_amplitude_noise_dff": spike_amplitude_noise(result.noise_sd, result.g),
        "spike_sum_dff": result.spikes.sum(axis=1),
    }
)
log.info(
    "deconvolved neurons %d-%d with %s; activity smoothed by %.4f s and moved %.4f s earlier",
    rows.start,
    rows.stop - 1,
    settings,
    smoothing_s,
    lag_s,
)
save_npy(snakemake.output.calcium, result.calcium)
save_npy(snakemake.output.spikes, result.spikes)
save_npy(snakemake.output.activity, smooth_activity(result.spikes, frame_rate_hz, smoothing_s, lag_s))
save_table(snakemake.output.table, table)
