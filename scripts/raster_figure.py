"""Figure: raster of event onsets with ensemble events shaded by ensemble."""

import numpy as np

from calcium.io import load_json, read_table
from calcium.logs import log_to
from calcium.plots import neurons_shown, raster_figure, save_figure

log = log_to(snakemake.log[0], snakemake.wildcards)
facts = load_json(snakemake.input.facts)
events = read_table(snakemake.input.events)
title = f"session {snakemake.wildcards.session}"
shown = neurons_shown(facts["n_neurons"], snakemake.params.max_neurons)
if shown.size < facts["n_neurons"]:
    events = events[events.neuron.isin(shown)].copy()
    events["neuron"] = np.searchsorted(shown, events.neuron)
    title += f" ({shown.size} of {facts['n_neurons']} neurons shown, evenly spaced)"
figure = raster_figure(
    events, shown.size, facts["duration_s"], read_table(snakemake.input.ensemble_events), title
)
save_figure(figure, snakemake.output[0])
log.info("raster drawn")
