"""Coactivity per bin, its circular-shift null, and the ensemble events."""

from calcium.input.trial_structure import trial_bounds
from calcium.io import load_json, read_table, save_json, save_table
from calcium.logs import log_to
from calcium.population.steps import Binning, NullSettings, Recording, coactivity_analysis

log = log_to(snakemake.log[0], snakemake.wildcards)
facts = load_json(snakemake.input.facts)
trials = trial_bounds(snakemake.input)  # (trials, 2) frames of each trial; None: continuous
recording = Recording(
    facts["n_neurons"], facts["n_frames"], facts["frame_rate_hz"], facts["start_time_s"], trials
)
binning = Binning(**snakemake.params.coactivity)
events = read_table(snakemake.input.events)
result = coactivity_analysis(
    events, recording, binning, NullSettings(**snakemake.params.null), processes=snakemake.threads
)
output = snakemake.output
save_table(output.coactivity, result.bins)
save_table(output.shuffles, result.shuffles)
save_table(output.histogram, result.histogram)
save_json(output.threshold, result.threshold)
save_table(output.ensemble_events, result.ensemble_events)
save_table(output.event_neurons, result.event_neurons)
if result.threshold["note"]:
    log.warning(result.threshold["note"])
log.info(
    "%d bins of %s s, %d events: %d ensemble events (thresholds %s active neurons by frames per window)",
    len(result.bins),
    binning.bin_s,
    len(events),
    len(result.ensemble_events),
    {row["frames"]: round(row["threshold_n_active"], 3) for row in result.threshold["thresholds"]},
)
