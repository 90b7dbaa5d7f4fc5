"""The study level: every session's summary per output kind, figures, the page; variants compared."""

from pathlib import Path

import numpy as np

from calcium.io import load_json, read_table, save_table, save_text
from calcium.logs import log_to
from calcium.outputs.plot_style import save_figure
from calcium.outputs.study_page import study_page
from calcium.outputs.study_plots import neurons_figure, sessions_figure, variants_figure
from calcium.study.tables import block_correlations, study_tables, variant_tables

log = log_to(snakemake.log[0])
inputs, params, output = snakemake.input, snakemake.params, snakemake.output
sessions, groups, variants = params.sessions, params.groups, list(params.variants)
group_by, truth, stimulus = list(next(iter(groups.values()), {})), params.ground_truth, params.stimulus
OWN = ("features_summary", "features", "spike_times", "coactivity", "ensemble_events", "ensembles")
RUN = ("spike_times", "features_summary", "ensemble_events", "ensembles")


def read(names, index, prefix=""):
    return {name: read_table(inputs[prefix + name][index]) for name in names}


found, runs, correlations = {}, {}, {}
for i, s in enumerate(sessions):
    t = found[s] = read((*OWN, "expected_accuracy", "expected_accuracy_neurons"), i)
    t.update(null=load_json(inputs.null[i]), recording=load_json(inputs.recording[i]))
    t["recording"]["indicator"] = params.indicators[s]
    if s in stimulus:
        t["regression"] = read_table(inputs.regression[stimulus.index(s)])
    if s in truth:
        t["evaluation"] = read_table(inputs.evaluation[truth.index(s)])
    runs[s], correlations[s] = {"default": t}, {}
    for v, variant in enumerate(variants):  # inputs: variant by variant, sessions in sheet order
        run = runs[s][variant] = read(RUN, v * len(sessions) + i, "variant_")
        if s in truth:
            run["evaluation"] = read_table(inputs.variant_evaluation[v * len(truth) + truth.index(s)])
        pair = (inputs.activity[i], inputs.variant_activity[v * len(sessions) + i])
        correlations[s][variant] = block_correlations(*(np.load(p, mmap_mode="r") for p in pair))

tables = study_tables(found, groups)
for path in output.tables:
    save_table(path, tables[Path(path).stem])
save_figure(sessions_figure(tables["sessions"], group_by), output.sessions_figure)
save_figure(neurons_figure(tables["neurons"], tables["sessions"], group_by), output.neurons_figure)
figures = {"Sessions by group": output.sessions_figure, "Neurons of each session": output.neurons_figure}
compared = None
if variants:
    compared, per_neuron = variant_tables(runs, correlations, groups)
    save_table(output.variant_tables[0], compared)
    save_table(output.variant_tables[1], per_neuron)
    save_figure(variants_figure(compared), output.variants_figure)
    figures["Variants against the default run"] = output.variants_figure
links = {s: f"../{s}/browser.html" for s in sessions}  # the page is results/study/study.html
pngs = {caption: Path(path).read_bytes() for caption, path in figures.items()}
save_text(output.page, study_page(tables["sessions"], group_by, links, pngs, compared, dict(params.variants)))
log.info("study of %d sessions written (%d variants)", len(sessions), len(variants))
