"""Calcium events of every neuron: per-neuron k-SD thresholds, onset/peak/amplitude/FWHM/area."""

import functools

import calcium.population.events  # noqa: F401 (imported before the pool forks: workers share it)
from calcium.blocks import concat_tables, for_sources, process_blocks, trace_sources
from calcium.input.trial_structure import trial_bounds
from calcium.io import load_json, save_table
from calcium.logs import log_to
from calcium.population.events import narrow_large_events
from calcium.signal import stages
from calcium.signal.scan_rate import read_interpolation

log = log_to(snakemake.log[0], snakemake.wildcards)
facts = load_json(snakemake.input.facts)
settings = snakemake.params.events
trials = trial_bounds(snakemake.input)  # (trials, 2) frames of each trial; None: continuous
sources = trace_sources(snakemake.input)  # denoised: the detrended beside them, the scan's interpolation
stage = functools.partial(
    stages.events,
    frame_rate_hz=facts["frame_rate_hz"],
    start_time_s=facts["start_time_s"],
    trials=trials,
    # a session's linear interpolation, pooled over all its neurons once (by the detrend rule)
    session_ratio=read_interpolation(snakemake.input.scan),
    **settings,
)
tables = process_blocks(
    for_sources(stage, sources),
    sources,
    [],
    facts["n_neurons"],
    facts["n_frames"],
    snakemake.threads,
    label=snakemake.rule,
)
events, thresholds = concat_tables(tables, 0), concat_tables(tables, 1)
save_table(snakemake.output.events, events)
save_table(snakemake.output.thresholds, thresholds)
log.info(
    "%d events in %d neurons (%d wider than %s s, %d narrower than %.3g s)",
    len(events),
    facts["n_neurons"],
    int(events.exceeds_max_fwhm.sum()),
    settings["max_fwhm_s"],
    int(events.below_min_fwhm.sum()),
    settings["min_fwhm_s"],
)
n_large, narrow = narrow_large_events(events, thresholds)
if n_large >= 10 and narrow > 0.1:
    log.warning(
        "%.0f%% of the events 20 noise SD or larger are narrower than %.3g s (events.min_fwhm_s): "
        "this recording's transients are faster than the kinetics used (deconvolution.tau_decay_s / "
        "the indicator's); set those, or events.min_fwhm_s, to match it",
        100 * narrow,
        settings["min_fwhm_s"],
    )
