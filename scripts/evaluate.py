"""Score the inferred spikes against ground-truth spike times; table, summary and figure."""

import numpy as np
import pandas as pd

from calcium.evaluation.scoring import score_neurons
from calcium.input.tables import parse_ground_truth, read_user_table
from calcium.io import load_json, load_npy, read_table, save_table
from calcium.logs import log_to
from calcium.outputs.evaluation_plots import evaluation_figure
from calcium.outputs.plot_style import save_figure

log = log_to(snakemake.log[0], snakemake.wildcards)
facts = load_json(snakemake.input.facts)
settings = snakemake.params.evaluation
fs = facts["frame_rate_hz"]
start_s = facts.get("start_time_s", 0.0)  # time of frame 0 on the ground truth's clock
true_times = parse_ground_truth(
    read_user_table(snakemake.input.truth, "ground-truth file"),
    str(snakemake.input.truth),
    facts["n_neurons"],
)
found = read_table(snakemake.input.spike_times)
inferred_times = {int(n): g.time_s.to_numpy(dtype=float) for n, g in found.groupby("neuron")}
rows = []
for first in range(0, facts["n_neurons"], 1000):  # blocks of neurons: bounded memory
    block = load_npy(snakemake.input.activity, slice(first, first + 1000))
    rows += score_neurons(
        block, fs, inferred_times, true_times, settings["bin_s"], settings["tolerance_s"], first, start_s
    )
table = pd.DataFrame(rows)
save_table(snakemake.output.table, table)
summary = pd.DataFrame(
    [
        {
            "session": snakemake.wildcards.session,
            "n_neurons_scored": len(table),
            "n_true_spikes": int(table.n_true_spikes.sum()),
            "n_true_spikes_outside": int(table.n_true_spikes_outside.sum()),
            "median_correlation_40ms": float(table.correlation_40ms.median()),
            "mean_correlation_40ms": float(table.correlation_40ms.mean()),
            "median_f1": float(table.f1.median()),
            "median_precision": float(table.precision.median()),
            "median_recall": float(table.recall.median()),
        }
    ]
)
save_table(snakemake.output.summary, summary)

neuron = int(table.sort_values("n_true_spikes", ascending=False).neuron.iloc[0])
stop = min(facts["n_frames"], int(round(settings["example_s"] * fs)))
time_s = start_s + np.arange(stop) / fs
end_s = start_s + stop / fs
figure = evaluation_figure(
    time_s,
    load_npy(snakemake.input.traces, slice(neuron, neuron + 1))[0, :stop],
    load_npy(snakemake.input.calcium, slice(neuron, neuron + 1))[0, :stop],
    load_npy(snakemake.input.activity, slice(neuron, neuron + 1))[0, :stop],
    inferred_times.get(neuron, np.zeros(0))[inferred_times.get(neuron, np.zeros(0)) < end_s],
    true_times[neuron][true_times[neuron] < end_s],
    neuron,
    title=f"session {snakemake.wildcards.session}, neuron {neuron}: r(40 ms) = "
    f"{table.correlation_40ms[table.neuron == neuron].iloc[0]:.2f}",
)
save_figure(figure, snakemake.output.figure)
log.info(
    "scored %d neurons: median r %.3f; %d true spikes outside the imaged span not scored",
    len(table),
    summary.median_correlation_40ms.iloc[0],
    summary.n_true_spikes_outside.iloc[0],
)
