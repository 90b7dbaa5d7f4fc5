"""Figures of the population stage: raster, feature distributions, coactivity, similarity, membership."""

from calcium.input.trial_structure import figure_gaps
from calcium.io import load_json, load_npy, read_table
from calcium.logs import log_to
from calcium.outputs.plot_style import save_figure
from calcium.outputs.population_plots import (
    FEATURE_AXES,
    coactivity_figure,
    coactivity_title,
    feature_distributions_figure,
    membership_figure,
    raster_figure,
    raster_subset,
    similarity_figure,
)
from calcium.population.ensemble_tables import membership_matrices
from calcium.population.steps import effective_thresholds

log = log_to(snakemake.log[0], snakemake.wildcards)
inputs, output = snakemake.input, snakemake.output
facts = load_json(inputs.facts)
session = f"session {snakemake.wildcards.session}"
activations = read_table(inputs.activations)
clustering = load_json(inputs.clustering)
_, gaps_s = figure_gaps(inputs, facts)  # with trials: their gaps marked on the time axes

events, n_shown, note = raster_subset(
    read_table(inputs.events), facts["n_neurons"], snakemake.params.max_neurons
)
raster = raster_figure(
    events, n_shown, facts["duration_s"], activations, session + note, facts.get("start_time_s", 0.0), gaps_s
)
save_figure(raster, output.raster)
save_figure(feature_distributions_figure(read_table(inputs.features), FEATURE_AXES, session), output.features)

bins = read_table(inputs.coactivity)
null = load_json(inputs.threshold)
figure = coactivity_figure(
    bins.start_s.to_numpy(),
    bins.n_active_window.to_numpy(),
    effective_thresholds(bins, null),
    read_table(inputs.histogram),
    facts["n_neurons"],
    title=coactivity_title(session, null),
    separators=None if gaps_s is None else bins.trial.to_numpy() < 0,  # the bins between trials
    gaps_s=gaps_s,
)
save_figure(figure, output.coactivity)

labels = activations.ensemble.to_numpy()
title = f"{session}: {clustering['n_ensembles']} ensembles"
save_figure(
    similarity_figure(load_npy(inputs.similarity), clustering["order"], labels, title), output.similarity
)
participation, member = membership_matrices(
    read_table(inputs.members), clustering["n_ensembles"], facts["n_neurons"]
)
save_figure(membership_figure(participation, member, title=session), output.membership)
log.info("population figures drawn")
