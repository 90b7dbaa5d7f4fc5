"""Trial-aligned responses: stimulus/trial_responses.csv (one row per neuron x presentation) and
the figure of the responsive neurons (per stimulus: mean ± SEM and trials x time)."""

import numpy as np
import pandas as pd

from calcium.io import load_json, load_npy, read_table, save_table
from calcium.logs import log_to
from calcium.outputs.plot_style import save_figure
from calcium.outputs.stimulus_plots import trial_responses_figure
from calcium.progress import Progress, track
from calcium.stimulus.trial_responses import (
    peri_stimulus,
    presentations,
    responsive_examples,
    trial_responses,
)

log = log_to(snakemake.log[0], snakemake.wildcards)
inputs, output = snakemake.input, snakemake.output
facts = load_json(inputs.facts)
settings = snakemake.params.stimulus
fs, start_s, n_neurons = facts["frame_rate_hz"], facts["start_time_s"], facts["n_neurons"]
stimuli = read_table(inputs.stimuli)  # onset_s on the recording's clock
relative = stimuli.assign(onset_s=stimuli.onset_s - start_s)
baseline = tuple(settings["baseline_window_s"]) if settings["baseline_window_s"] else None
block = max(1, 25_000_000 // facts["n_frames"])  # neurons at a time: ~0.1 GB of float32
parts = []
firsts = range(0, n_neurons, block)
with Progress(len(firsts), f"trial responses ({n_neurons} neurons)", "blocks") as progress:
    for first in track(firsts, progress):
        traces = load_npy(inputs.traces, slice(first, first + block))
        parts.append(
            trial_responses(
                traces, relative, fs, tuple(settings["response_window_s"]), baseline, first, start_s
            )
        )
table = pd.concat(parts, ignore_index=True)
save_table(output.table, table)

regression = read_table(inputs.regression)
examples = responsive_examples(table, regression, settings["examples_per_type"])
trials = presentations(relative)
chosen = sorted({neuron for _, neuron in examples})
time_s, windows = peri_stimulus(
    load_npy(inputs.traces)[chosen] if chosen else np.zeros((0, facts["n_frames"])),
    trials.onset_s.to_numpy(),
    fs,
    tuple(settings["trial_window_s"]),
)
panels = [
    (stimulus, neuron, windows[chosen.index(neuron)][(trials.stimulus == stimulus).to_numpy()])
    for stimulus, neuron in examples
]
figure = trial_responses_figure(
    time_s,
    panels,
    tuple(settings["response_window_s"]),
    title=f"session {snakemake.wildcards.session}: {snakemake.params.trace} around each onset",
)
save_figure(figure, output.figure)
log.info(
    "%d neurons x %d presentations (%d rows); figure: %s",
    n_neurons,
    len(trials),
    len(table),
    ", ".join(f"neuron {n} ({s})" for s, n in examples) or "no responsive neuron",
)
