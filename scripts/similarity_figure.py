"""Figure: Jaccard similarity between ensemble events, ordered by the clustering."""

from calcium.io import load_json, load_npy, read_table
from calcium.logs import log_to
from calcium.plots import save_figure, similarity_figure

log = log_to(snakemake.log[0], snakemake.wildcards)
clustering = load_json(snakemake.input.clustering)
labels = read_table(snakemake.input.labels).ensemble.to_numpy()
figure = similarity_figure(
    load_npy(snakemake.input.similarity),
    clustering["order"],
    labels,
    title=f"session {snakemake.wildcards.session}: {clustering['n_ensembles']} ensembles",
)
save_figure(figure, snakemake.output[0])
log.info("similarity drawn")
