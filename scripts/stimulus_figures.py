"""Figures of the stimulus-locked analysis: regressors, R², clustered heat maps, examples."""

import numpy as np

from calcium.input.trial_structure import blank_gaps, figure_gaps
from calcium.io import load_json, load_npy, read_table
from calcium.logs import log_to
from calcium.outputs.plot_style import save_figure
from calcium.outputs.stimulus_plots import (
    heatmap_panels,
    heatmaps_figure,
    r2_histogram_figure,
    regressors_figure,
    response_example_traces,
    response_examples_figure,
)
from calcium.stimulus.regressors import regressors_from_table

log = log_to(snakemake.log[0], snakemake.wildcards)
inputs, output = snakemake.input, snakemake.output
facts = load_json(inputs.facts)
settings = snakemake.params.figures
session = f"session {snakemake.wildcards.session}"
fs, start_s = facts["frame_rate_hz"], facts["start_time_s"]
time_s = start_s + np.arange(facts["n_frames"]) / fs
labels, boxcars, regressors = regressors_from_table(read_table(inputs.regressors))
stimuli = read_table(inputs.stimuli)
table = read_table(inputs.regression)
traces = load_npy(inputs.traces)
gap, gaps_s = figure_gaps(inputs, facts)  # with trials: the gaps (0 in the traces) left out, blank, marked

shown = blank_gaps(regressors, gap) if len(labels) else regressors  # breaks in the gaps, not their 0
save_figure(regressors_figure(time_s, labels, boxcars, shown, session, gaps_s), output.regressors)
save_figure(r2_histogram_figure(table.r2.to_numpy(), settings["min_r2"], session), output.r2)

factor = max(1, int(round(settings["heatmap_bin_s"] * fs)))
panels, n_bins = heatmap_panels(traces, table, factor, settings["max_neurons"], settings["min_r2"], gap)
binned_time = start_s + np.arange(n_bins) * factor / fs
save_figure(heatmaps_figure(binned_time, panels, stimuli, session, gaps_s, factor / fs), output.heatmaps)

examples = response_example_traces(traces, table, labels, regressors, settings["examples_per_type"], gap)
save_figure(response_examples_figure(time_s, examples, stimuli, session, gaps_s), output.examples)
log.info("stimulus figures drawn for %d stimuli", len(labels))
