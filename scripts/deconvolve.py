"""OASIS deconvolution of every neuron: calcium, spike amplitudes, activity and a per-neuron table."""

import functools

import oasis.functions  # noqa: F401 (imported before the pool forks: workers share it)

from calcium.blocks import concat_tables, for_sources, process_blocks, trace_sources
from calcium.input.trial_structure import per_trial_block, trial_bounds
from calcium.io import load_json, save_table
from calcium.logs import log_to
from calcium.signal.deconvolve import deconvolve_block
from calcium.signal.scan_rate import read_interpolation

log = log_to(snakemake.log[0], snakemake.wildcards)
facts = load_json(snakemake.input.facts)
settings = snakemake.params.oasis
trials = trial_bounds(snakemake.input)  # (trials, 2) frames of each trial; None: continuous
sources = trace_sources(snakemake.input)  # denoised: the detrended beside them, the scan's rates and noise
# linear interpolation is the acquisition's, shared by the session's neurons: pooled over all of
# them once, as the detrend rule wrote its traces
ratio = read_interpolation(snakemake.input.scan)
stage = functools.partial(
    deconvolve_block,
    frame_rate_hz=facts["frame_rate_hz"],
    session_ratio=ratio,
    denoise=snakemake.params.denoise or None,
    **settings,
)
if trials is not None:  # each trial on its own; the table: one row per neuron, medians over trials
    stage = functools.partial(per_trial_block, stage, trials=trials, sums=("spike_sum_dff",))
output = snakemake.output
tables = process_blocks(
    for_sources(stage, sources),
    sources,
    [output.calcium, output.spikes, output.activity],
    facts["n_neurons"],
    facts["n_frames"],
    snakemake.threads,
    label=snakemake.rule,
)
save_table(output.table, concat_tables(tables))
log.info("deconvolved %d neurons with %s (%d processes)", facts["n_neurons"], settings, snakemake.threads)
