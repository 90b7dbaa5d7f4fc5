"""Ensembles by `ensembles.method` (refined, ica or jaccard), each tested against the circular-shift null."""

from calcium.input.tables import parse_stimulus_table, read_user_table
from calcium.input.trial_structure import trial_bounds
from calcium.io import load_json, read_table, save_json, save_npy, save_table
from calcium.logs import log_to
from calcium.population.ensemble_step import EnsembleSettings, ensemble_analysis
from calcium.population.steps import Binning, Recording
from calcium.population.trial_coactivity import stimulus_exclusion

log = log_to(snakemake.log[0], snakemake.wildcards)
facts = load_json(snakemake.input.facts)
recording = Recording(*(facts[key] for key in Recording._fields[:4]), trial_bounds(snakemake.input))
binning = Binning(**snakemake.params.coactivity)
settings = EnsembleSettings(**snakemake.params.ensembles)
excluded = None
if "stimuli" in snakemake.input.keys():
    stimuli = parse_stimulus_table(
        read_user_table(snakemake.input.stimuli, "stimulus table"),
        str(snakemake.input.stimuli),
        facts["duration_s"],
        facts["start_time_s"],
    )
    onsets_s, offsets_s = stimuli.onset_s.to_numpy(), stimuli.offset_s.to_numpy()
    excluded = stimulus_exclusion(onsets_s, offsets_s, recording, binning, settings.stimulus_margin_s)
    log.info("%d of %d bins within stimulus presentations left out", excluded.sum(), excluded.size)
result = ensemble_analysis(
    read_table(snakemake.input.events),
    read_table(snakemake.input.ensemble_events),
    read_table(snakemake.input.event_neurons),
    snakemake.params.min_active,
    recording,
    binning,
    settings,
    excluded,
)
output = snakemake.output
save_table(output.activations, result.activations)
save_table(output.members, result.members)
save_table(output.ensembles, result.ensembles)
save_table(output.activation_times, result.activation_times)
save_npy(output.strength, result.strength)
save_npy(output.similarity, result.similarity)
save_json(output.clustering, result.clustering)
log.info(
    "%s: %d candidates -> %d ensembles with %s members (p %s)",
    settings.method,
    result.n_clusters,
    len(result.ensembles),
    result.ensembles.n_members.tolist(),
    [round(p, 4) for p in result.ensembles.p_value],
)
