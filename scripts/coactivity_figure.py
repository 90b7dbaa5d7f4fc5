"""Figure: coactivity over time with the circular-shift null threshold."""

from calcium.io import load_json, read_table
from calcium.logs import log_to
from calcium.plots import coactivity_figure, save_figure

log = log_to(snakemake.log[0], snakemake.wildcards)
facts = load_json(snakemake.input.facts)
table = read_table(snakemake.input.coactivity)
null = load_json(snakemake.input.threshold)
figure = coactivity_figure(
    table.start_s.to_numpy(),
    table.n_active.to_numpy(),
    null["threshold_n_active"],
    read_table(snakemake.input.histogram),
    facts["n_neurons"],
    title=f"session {snakemake.wildcards.session}: {null['n_shuffles']} circular shifts, "
    f"{null['percentile']}th percentile ({null['statistic']})",
)
save_figure(figure, snakemake.output[0])
log.info("coactivity drawn")
