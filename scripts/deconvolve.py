"""OASIS deconvolution of every neuron: calcium, spike amplitudes, activity and a per-neuron table."""

import functools

import oasis.functions  # noqa: F401 (imported before the pool forks: workers share it)

from calcium.blocks import concat_tables, process_blocks
from calcium.deconvolve import deconvolve_block
from calcium.io import load_json, read_table, save_table
from calcium.logs import log_to
from calcium.trial_structure import bounds_from_table

log = log_to(snakemake.log[0], snakemake.wildcards)
facts = load_json(snakemake.input.facts)
settings = snakemake.params.oasis
trials = None  # (trials, 2) frames of each trial (calcium.trial_structure); None: continuous
if "trials" in snakemake.input.keys():
    trials = bounds_from_table(read_table(snakemake.input.trials))
output = snakemake.output
tables = process_blocks(
    functools.partial(deconvolve_block, frame_rate_hz=facts["frame_rate_hz"], trials=trials, **settings),
    [snakemake.input.traces],
    [output.calcium, output.spikes, output.activity],
    facts["n_neurons"],
    facts["n_frames"],
    snakemake.threads,
    label=snakemake.rule,
)
save_table(output.table, concat_tables(tables))
log.info("deconvolved %d neurons with %s (%d processes)", facts["n_neurons"], settings, snakemake.threads)
