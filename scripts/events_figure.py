"""Figure: example traces with their detected events."""

import numpy as np

from calcium.io import load_json, load_npy, read_table
from calcium.logs import log_to
from calcium.plots import events_on_traces_figure, example_view, save_figure

log = log_to(snakemake.log[0], snakemake.wildcards)
facts = load_json(snakemake.input.facts)
settings = snakemake.params.figures
fs = facts["frame_rate_hz"]
neurons, span = example_view(
    facts["n_neurons"], facts["n_frames"], fs, settings["example_neurons"], settings["time_window_s"]
)
traces = load_npy(snakemake.input.traces)[neurons, span]
figure = events_on_traces_figure(
    facts.get("start_time_s", 0.0) + np.arange(span.start, span.stop) / fs,
    traces,
    read_table(snakemake.input.events),
    read_table(snakemake.input.thresholds),
    neurons,
    title=f"session {snakemake.wildcards.session}: events on the {snakemake.params.trace} ΔF/F",
)
save_figure(figure, snakemake.output[0])
log.info("drew events of neurons %s", neurons)
