"""Spike times by thresholding the deconvolved spike amplitudes: a tidy table and per-neuron arrays."""

import functools

import calcium.signal.spikes  # noqa: F401 (imported before the pool forks: workers share it)
from calcium.blocks import concat_tables, process_blocks
from calcium.input.trial_structure import trial_bounds
from calcium.io import load_json, read_table, save_npz, save_table
from calcium.logs import log_to
from calcium.signal import stages
from calcium.signal.spikes import spike_times_by_neuron

log = log_to(snakemake.log[0], snakemake.wildcards)
facts = load_json(snakemake.input.facts)
fs, start_s = facts["frame_rate_hz"], facts["start_time_s"]
trials = trial_bounds(snakemake.input)  # (trials, 2) frames of each trial; None: continuous
neurons = read_table(snakemake.input.table)
amplitude_noise = neurons["spike_amplitude_noise_dff"].to_numpy(dtype=float)
lag_s = neurons["lag_s"].to_numpy(dtype=float)  # per neuron: its timing correction
rates = neurons["effective_rate_hz"].to_numpy(dtype=float)  # per neuron: the rate it was deconvolved at
stage = functools.partial(
    stages.spike_times,
    frame_rate_hz=fs,
    amplitude_noise=amplitude_noise,
    start_time_s=start_s,
    lag_s=lag_s,
    effective_rate_hz=rates,
    trials=trials,
    **snakemake.params.thresholds,
)
tables = process_blocks(
    stage,
    [snakemake.input.spikes],
    [],
    facts["n_neurons"],
    facts["n_frames"],
    snakemake.threads,
    label=snakemake.rule,
)
table = concat_tables(tables)
save_table(snakemake.output.table, table)
save_npz(snakemake.output.arrays, **spike_times_by_neuron(table, facts["n_neurons"], fs, start_s, lag_s))
log.info(
    "%d spikes in %d neurons (times moved %.4f-%.4f s earlier)",
    len(table),
    facts["n_neurons"],
    lag_s.min(initial=0.0),
    lag_s.max(initial=0.0),
)
