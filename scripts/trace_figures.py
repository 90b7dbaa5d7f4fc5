"""Figures of example neurons: every step of the signal chain with spike times, and events on traces."""

import numpy as np

from calcium.input.trial_structure import blank_gaps, figure_gaps
from calcium.io import load_json, load_npy, read_table
from calcium.logs import log_to
from calcium.outputs.plot_style import save_figure
from calcium.outputs.trace_plots import (
    events_on_traces_figure,
    example_selection,
    spike_times_shown,
    trace_steps_figure,
)

log = log_to(snakemake.log[0], snakemake.wildcards)
inputs, output = snakemake.input, snakemake.output
facts = load_json(inputs.facts)
events = read_table(inputs.events)
neurons, span, reasons = example_selection(  # calcium.outputs.trace_plots: which neurons, when
    facts,
    snakemake.params.figures,
    events,
    read_table(inputs.features),
    read_table(inputs.members),
    read_table(inputs.regression) if "regression" in inputs.keys() else None,
)
time_s = facts["start_time_s"] + np.arange(span.start, span.stop) / facts["frame_rate_hz"]
session = f"session {snakemake.wildcards.session}"
gap, gaps_s = figure_gaps(inputs, facts, span)  # with trials: the gaps (0) drawn as breaks (NaN), marked
raw_name, raw_unit = ("input ΔF/F", "ΔF/F") if facts["input_kind"] == "dff" else ("raw F", "F (a.u.)")
steps = [
    (raw_name, raw_unit, load_npy(inputs.raw)[neurons, span]),
    ("ΔF/F", "ΔF/F", blank_gaps(load_npy(inputs.dff)[neurons, span], gap)),
    ("detrended", "ΔF/F", blank_gaps(load_npy(inputs.detrended)[neurons, span], gap)),
    ("wavelet-denoised", "ΔF/F", blank_gaps(load_npy(inputs.denoised)[neurons, span], gap)),
    ("OASIS calcium + spike times", "c (ΔF/F)", blank_gaps(load_npy(inputs.calcium)[neurons, span], gap)),
]
spike_times = spike_times_shown(read_table(inputs.spike_times), neurons, time_s)
why = reasons if any(reasons) else None
figure = trace_steps_figure(time_s, steps, spike_times, neurons, title=session, reasons=why, gaps_s=gaps_s)
save_figure(figure, output.traces)

figure = events_on_traces_figure(
    time_s,
    blank_gaps(load_npy(inputs.event_traces)[neurons, span], gap),
    events,
    read_table(inputs.thresholds),
    neurons,
    title=f"{session}: events on the {snakemake.params.event_trace} ΔF/F",
    gaps_s=gaps_s,
)
save_figure(figure, output.events)
log.info("drew neurons %s (%s), %.1f-%.1f s", neurons, reasons, time_s[0], time_s[-1])
