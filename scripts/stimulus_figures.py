"""Figures of the stimulus-locked analysis: regressors, R², clustered heat maps, examples."""

import numpy as np

from calcium.io import load_json, load_npy, read_table
from calcium.logs import log_to
from calcium.outputs.plots import (
    heatmaps_figure,
    neurons_shown,
    r2_histogram_figure,
    regressors_figure,
    response_examples_figure,
    save_figure,
)
from calcium.stimulus.clustering import cluster_order, downsample, zscored
from calcium.stimulus.regression import model_prediction, response_kinds
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

save_figure(regressors_figure(time_s, labels, boxcars, regressors, session), output.regressors)
save_figure(r2_histogram_figure(table.r2.to_numpy(), settings["min_r2"], session), output.r2)

factor = max(1, int(round(settings["heatmap_bin_s"] * fs)))
z = zscored(downsample(np.asarray(traces), factor))
binned_time = start_s + np.arange(z.shape[1]) * factor / fs
shown = neurons_shown(z.shape[0], settings["max_neurons"])
order_all = shown[cluster_order(z[shown])]
chosen = np.flatnonzero(table.selected.to_numpy())
order_selected = chosen[cluster_order(z[chosen])] if chosen.size else chosen
panels = [
    (
        f"all neurons ({shown.size} of {z.shape[0]} shown)" if shown.size < z.shape[0] else "all neurons",
        z[order_all],
        [int(n) for n in order_all],
    ),
    (
        f"stimulus-locked neurons (R² > {settings['min_r2']:g})",
        z[order_selected],
        [f"{n} {table.response_type[n]}" for n in order_selected],
    ),
]
save_figure(heatmaps_figure(binned_time, panels, stimuli, session), output.heatmaps)

examples = [
    (kind, int(neuron), np.asarray(traces[neuron]), model_prediction(table, labels, regressors, neuron))
    for kind in response_kinds(labels, table.response_type)
    for neuron in table[table.response_type == kind]
    .sort_values("r2", ascending=False)
    .neuron.head(settings["examples_per_type"])
]
save_figure(response_examples_figure(time_s, examples, stimuli, session), output.examples)
log.info("stimulus figures drawn for %d stimuli", len(labels))
