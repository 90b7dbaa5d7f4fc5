"""Score the inferred spikes against ground-truth spike times; table, summary and figure."""

import numpy as np

from calcium.evaluation.scoring import evaluation_summary, inferred_spikes, score_session
from calcium.input.tables import parse_ground_truth, read_user_table
from calcium.input.trial_structure import blank_gaps, figure_gaps, trial_bounds
from calcium.io import load_json, load_npy, read_table, save_table
from calcium.logs import log_to
from calcium.outputs.evaluation_plots import evaluation_figure
from calcium.outputs.plot_style import save_figure

log = log_to(snakemake.log[0], snakemake.wildcards)
inputs, session, settings = snakemake.input, snakemake.wildcards.session, snakemake.params.evaluation
facts = load_json(inputs.facts)
fs, start_s = facts["frame_rate_hz"], facts.get("start_time_s", 0.0)  # frame 0 on the truth's clock
true_times = parse_ground_truth(
    read_user_table(inputs.truth, "ground-truth file"), str(inputs.truth), facts["n_neurons"]
)
bounds = trial_bounds(inputs)  # a session cut into trials: scored within them (docs/trials.md)
inferred_times, inferred_trials = inferred_spikes(read_table(inputs.spike_times), bounds, facts["n_frames"])
table = score_session(
    inputs.activity,
    facts["n_neurons"],
    fs,
    inferred_times,
    true_times,
    settings["bin_s"],
    settings["tolerance_s"],
    start_s,
    trials=bounds,
    inferred_trials=inferred_trials,
)
save_table(snakemake.output.table, table)
summary = evaluation_summary(table, session, None if bounds is None else len(bounds))
save_table(snakemake.output.summary, summary)
neuron = int(table.sort_values("n_true_spikes", ascending=False).neuron.iloc[0])  # the figure's example
stop = min(facts["n_frames"], int(round(settings["example_s"] * fs)))
gap, gaps_s = figure_gaps(inputs, facts, slice(0, stop))  # with trials: drawn as breaks, marked
inferred = inferred_times.get(neuron, np.zeros(0))
figure = evaluation_figure(
    start_s + np.arange(stop) / fs,
    *(
        blank_gaps(load_npy(path, slice(neuron, neuron + 1))[:, :stop], gap)[0]
        for path in (inputs.traces, inputs.calcium, inputs.activity)
    ),
    inferred[inferred < start_s + stop / fs],
    true_times[neuron][true_times[neuron] < start_s + stop / fs],
    neuron,
    title=f"session {session}, neuron {neuron}: r(40 ms) = "
    f"{table.correlation_40ms[table.neuron == neuron].iloc[0]:.2f}",
    gaps_s=gaps_s,
)
save_figure(figure, snakemake.output.figure)
log.info(
    "scored %d neurons: median r %.3f; %d true spikes outside the imaged span not scored",
    len(table),
    summary.median_correlation_40ms.iloc[0],
    summary.n_true_spikes_outside.iloc[0],
)
