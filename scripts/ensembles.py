"""Ensembles: cluster ensemble events by the Jaccard similarity of their neurons; test membership."""

from calcium.io import load_json, read_table, save_json, save_npy, save_table
from calcium.logs import log_to
from calcium.population import Binning, EnsembleSettings, Recording, ensemble_analysis

log = log_to(snakemake.log[0], snakemake.wildcards)
facts = load_json(snakemake.input.facts)
recording = Recording(facts["n_neurons"], facts["n_frames"], facts["frame_rate_hz"], facts["start_time_s"])
result = ensemble_analysis(
    read_table(snakemake.input.events),
    read_table(snakemake.input.ensemble_events),
    read_table(snakemake.input.event_neurons),
    snakemake.params.min_active,
    recording,
    Binning(**snakemake.params.coactivity),
    EnsembleSettings(**snakemake.params.ensembles),
)
output = snakemake.output
save_table(output.activations, result.activations)
save_table(output.members, result.members)
save_table(output.ensembles, result.ensembles)
save_npy(output.similarity, result.similarity)
save_json(output.clustering, result.clustering)
log.info(
    "%d ensemble events -> %d recurring clusters -> %d ensembles with %s members",
    len(result.activations),
    result.n_clusters,
    len(result.ensembles),
    result.ensembles.n_members.tolist(),
)
