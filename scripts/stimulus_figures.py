"""Figures of the stimulus-locked analysis: regressors, R², clustered heat maps, examples."""

import numpy as np

from calcium.io import load_json, load_npy, read_table
from calcium.logs import log_to
from calcium.plots import (
    heatmaps_figure,
    neurons_shown,
    r2_histogram_figure,
    regressors_figure,
    response_examples_figure,
    save_figure,
)
from calcium.regressors import cluster_order, downsample

log = log_to(snakemake.log[0], snakemake.wildcards)
facts = load_json(snakemake.input.facts)
settings = snakemake.params.stimulus
session = snakemake.wildcards.session
fs = facts["frame_rate_hz"]
time_s = facts.get("start_time_s", 0.0) + np.arange(facts["n_frames"]) / fs
long = read_table(snakemake.input.regressors)
labels = list(dict.fromkeys(long.stimulus))
boxcars = np.stack([long.boxcar[long.stimulus == label].to_numpy() for label in labels])
regressors = np.stack([long.regressor[long.stimulus == label].to_numpy() for label in labels])
stimuli = read_table(snakemake.input.table)
table = read_table(snakemake.input.regression)
traces = load_npy(snakemake.input.traces)

save_figure(
    regressors_figure(time_s, labels, boxcars, regressors, f"session {session}"), snakemake.output.regressors
)
save_figure(
    r2_histogram_figure(table.r2.to_numpy(), settings["min_r2"], f"session {session}"), snakemake.output.r2
)

factor = max(1, int(round(settings["heatmap_bin_s"] * fs)))
binned = downsample(np.asarray(traces), factor)
sd = binned.std(axis=1, keepdims=True)
z = (binned - binned.mean(axis=1, keepdims=True)) / np.where(sd > 0, sd, 1)
binned_time = facts.get("start_time_s", 0.0) + np.arange(z.shape[1]) * factor / fs
shown = neurons_shown(z.shape[0], snakemake.params.max_neurons)
order_all = shown[cluster_order(z[shown])]
chosen = np.flatnonzero(table.selected.to_numpy())
order_selected = chosen[cluster_order(z[chosen])] if chosen.size else chosen
panels = [
    (
        f"all neurons ({shown.size} of {z.shape[0]} shown)" if shown.size < z.shape[0] else "all neurons",
        z[order_all],
        None,
    ),
    (
        f"stimulus-locked neurons (R² > {settings['min_r2']:g})",
        z[order_selected],
        [f"{n} {table.response_type[n]}" for n in order_selected],
    ),
]
save_figure(heatmaps_figure(binned_time, panels, stimuli, f"session {session}"), snakemake.output.heatmaps)

examples = []
coefficients = table[[f"coef_{label}" for label in labels]].to_numpy()
# Excited types in stimulus order, then the suppressed ones (suppressed:<stimulus>).
kinds = [label for label in labels if (table.response_type == label).any()]
kinds += [f"suppressed:{label}" for label in labels if (table.response_type == f"suppressed:{label}").any()]
for kind in kinds:
    of_kind = table[(table.response_type == kind)].sort_values("r2", ascending=False)
    for neuron in of_kind.neuron.head(settings["examples_per_type"]):
        model = table.intercept_dff[neuron] + coefficients[neuron] @ regressors
        examples.append((kind, int(neuron), np.asarray(traces[neuron]), model))
save_figure(
    response_examples_figure(time_s, examples, stimuli, f"session {session}"), snakemake.output.examples
)
log.info("stimulus figures drawn for %d stimuli", len(labels))
