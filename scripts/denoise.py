"""Wavelet-denoise every neuron's detrended ΔF/F."""

import functools

import calcium.signal.denoise  # noqa: F401 (imported before the pool forks: workers share it)
from calcium.blocks import process_blocks
from calcium.input.trial_structure import trial_bounds
from calcium.io import load_json
from calcium.logs import log_to
from calcium.signal import stages

log = log_to(snakemake.log[0], snakemake.wildcards)
facts = load_json(snakemake.input.facts)
settings = snakemake.params.denoise
trials = trial_bounds(snakemake.input)  # (trials, 2) frames of each trial; None: continuous
process_blocks(
    functools.partial(stages.denoise, trials=trials, **settings),
    [snakemake.input.traces],
    [snakemake.output[0]],
    facts["n_neurons"],
    facts["n_frames"],
    snakemake.threads,
    label=snakemake.rule,
)
used = calcium.signal.denoise.denoise_level(facts["n_frames"], settings["wavelet"], settings["level"])
log.info(
    "denoised %d neurons with %s; decomposition level used: %d (requested: %s)",
    facts["n_neurons"],
    settings,
    used,
    settings["level"],
)
