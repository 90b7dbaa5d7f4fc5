"""Trial-aligned responses: stimulus/trial_responses.csv (one row per neuron x presentation) and
the figure of the responsive neurons (per stimulus: mean ± SEM and trials x time)."""

from calcium.input.trial_structure import frame_trials, trial_bounds
from calcium.io import load_json, read_table, save_table
from calcium.logs import log_to
from calcium.outputs.plot_style import save_figure
from calcium.outputs.stimulus_plots import trial_responses_figure
from calcium.stimulus.trial_responses import (
    example_panels,
    presentations,
    responsive_examples,
    session_trial_responses,
)

log = log_to(snakemake.log[0], snakemake.wildcards)
inputs, output = snakemake.input, snakemake.output
facts = load_json(inputs.facts)
settings = snakemake.params.stimulus
fs, start_s, n_neurons = facts["frame_rate_hz"], facts["start_time_s"], facts["n_neurons"]
stimuli = read_table(inputs.stimuli)  # onset_s on the recording's clock
relative = stimuli.assign(onset_s=stimuli.onset_s - start_s)
baseline = tuple(settings["baseline_window_s"]) if settings["baseline_window_s"] else None
response_window = tuple(settings["response_window_s"])
bounds = trial_bounds(inputs)  # with trials: windows within one trial only (docs/trials.md)
frame_trial = None if bounds is None else frame_trials(bounds, facts["n_frames"])
table = session_trial_responses(
    inputs.traces, n_neurons, facts["n_frames"], relative, fs, response_window, baseline, start_s, frame_trial
)
save_table(output.table, table)

examples = responsive_examples(table, read_table(inputs.regression), settings["examples_per_type"])
trials = presentations(relative)
time_s, panels = example_panels(
    inputs.traces, facts["n_frames"], examples, trials, fs, tuple(settings["trial_window_s"]), frame_trial
)
figure = trial_responses_figure(
    time_s,
    panels,
    response_window,
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
