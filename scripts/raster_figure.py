"""Figure: raster of event onsets with ensemble events shaded by ensemble."""

from calcium.io import load_json, read_table
from calcium.logs import log_to
from calcium.plots import raster_figure, save_figure

log = log_to(snakemake.log[0])
facts = load_json(snakemake.input.facts)
figure = raster_figure(
    read_table(snakemake.input.events),
    facts["n_neurons"],
    facts["duration_s"],
    read_table(snakemake.input.ensemble_events),
    title=f"session {snakemake.wildcards.session}",
)
save_figure(figure, snakemake.output[0])
log.info("raster drawn")
