"""Figures of example neurons: every step of the signal chain with spike times, and events on traces."""

import numpy as np

from calcium.io import load_json, load_npy, read_table
from calcium.logs import log_to
from calcium.outputs.plots import (
    busiest_window,
    choose_example_neurons,
    events_on_traces_figure,
    example_view,
    save_figure,
    trace_steps_figure,
)

log = log_to(snakemake.log[0], snakemake.wildcards)
inputs, output = snakemake.input, snakemake.output
facts = load_json(inputs.facts)
settings = snakemake.params.figures
fs = facts["frame_rate_hz"]
events = read_table(inputs.events)
if settings["example_neurons"]:
    chosen = [(int(n), "") for n in settings["example_neurons"] if int(n) < facts["n_neurons"]]
else:  # the rule of calcium.outputs.plots.choose_example_neurons
    chosen = choose_example_neurons(
        facts["n_neurons"],
        read_table(inputs.features),
        read_table(inputs.members),
        read_table(inputs.regression) if "regression" in inputs.keys() else None,
    )
window = settings["time_window_s"]
if not window:  # the busiest 120 s of the chosen neurons (calcium.outputs.plots.busiest_window)
    mine = events[events.neuron.isin([n for n, _ in chosen])]
    window = busiest_window(mine.onset_s.to_numpy(), facts["start_time_s"], facts["duration_s"])
neurons, span = example_view(facts["n_neurons"], facts["n_frames"], fs, [n for n, _ in chosen], window)
reasons = [why for n, why in chosen if n in neurons]
time_s = facts["start_time_s"] + np.arange(span.start, span.stop) / fs
session = f"session {snakemake.wildcards.session}"
raw_name, raw_unit = ("input ΔF/F", "ΔF/F") if facts["input_kind"] == "dff" else ("raw F", "F (a.u.)")
steps = [
    (raw_name, raw_unit, load_npy(inputs.raw)[neurons, span]),
    ("ΔF/F", "ΔF/F", load_npy(inputs.dff)[neurons, span]),
    ("detrended", "ΔF/F", load_npy(inputs.detrended)[neurons, span]),
    ("wavelet-denoised", "ΔF/F", load_npy(inputs.denoised)[neurons, span]),
    ("OASIS calcium + spike times", "c (ΔF/F)", load_npy(inputs.calcium)[neurons, span]),
]
spikes = read_table(inputs.spike_times)
spike_times = [
    spikes.time_s[(spikes.neuron == n) & spikes.time_s.between(time_s[0], time_s[-1])].to_numpy()
    for n in neurons
]
figure = trace_steps_figure(
    time_s, steps, spike_times, neurons, title=session, reasons=reasons if any(reasons) else None
)
save_figure(figure, output.traces)

figure = events_on_traces_figure(
    time_s,
    load_npy(inputs.event_traces)[neurons, span],
    events,
    read_table(inputs.thresholds),
    neurons,
    title=f"{session}: events on the {snakemake.params.event_trace} ΔF/F",
)
save_figure(figure, output.events)
log.info("drew neurons %s (%s), %.1f-%.1f s", neurons, reasons, time_s[0], time_s[-1])
