"""Ensembles by `ensembles.method` (refined, ica or jaccard), each tested against the circular-shift null."""

from calcium.assemblies import stimulus_bins
from calcium.coactivity import bin_count
from calcium.input_tables import parse_stimulus_table, read_user_table
from calcium.io import load_json, read_table, save_json, save_npy, save_table
from calcium.logs import log_to
from calcium.population import Binning, EnsembleSettings, Recording, ensemble_analysis, trial_layout
from calcium.trial_structure import bounds_from_table

log = log_to(snakemake.log[0], snakemake.wildcards)
facts = load_json(snakemake.input.facts)
trials = None  # (trials, 2) frames of each trial (calcium.trial_structure); None: continuous
if "trials" in snakemake.input.keys():
    trials = bounds_from_table(read_table(snakemake.input.trials))
recording = Recording(
    facts["n_neurons"], facts["n_frames"], facts["frame_rate_hz"], facts["start_time_s"], trials
)
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
    layout = trial_layout(recording, binning)  # bins restart at each trial (None: one grid)
    excluded = stimulus_bins(
        stimuli.onset_s.to_numpy() - facts["start_time_s"],
        stimuli.offset_s.to_numpy() - facts["start_time_s"],
        layout.n_bins if layout else bin_count(facts["n_frames"], facts["frame_rate_hz"], binning.bin_s),
        binning.bin_s,
        settings.stimulus_margin_s,
        layout.start_s if layout else None,
        layout.end_s if layout else None,
    )
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
