"""Figure: example traces with their detected events."""

import numpy as np

from calcium.io import load_json, load_npy, read_table
from calcium.logs import log_to
from calcium.plots import events_on_traces_figure, save_figure

log = log_to(snakemake.log[0])
facts = load_json(snakemake.input.facts)
settings = snakemake.params.figures
fs = facts["frame_rate_hz"]
neurons = [n for n in settings["example_neurons"] if n < facts["n_neurons"]] or [0]
frames = np.arange(facts["n_frames"])
if settings["time_window_s"]:
    start_s, end_s = settings["time_window_s"]
    chosen = frames[(frames / fs >= start_s) & (frames / fs <= end_s)]
    frames = chosen if chosen.size >= 2 else frames
traces = load_npy(snakemake.input.traces)[neurons][:, frames[0] : frames[-1] + 1]
figure = events_on_traces_figure(
    frames / fs,
    traces,
    read_table(snakemake.input.events),
    read_table(snakemake.input.thresholds),
    neurons,
    title=f"session {snakemake.wildcards.session}: events on the {snakemake.params.trace} ΔF/F",
)
save_figure(figure, snakemake.output[0])
log.info("drew events of neurons %s", neurons)
