"""Per-neuron event features (rates, amplitudes, widths, bursts, population coupling) and the
session's averages."""

from calcium.input.trial_structure import trial_bounds
from calcium.io import load_json, read_table, save_table
from calcium.logs import log_to
from calcium.population.steps import Binning, Recording, neuron_features

log = log_to(snakemake.log[0], snakemake.wildcards)
facts = load_json(snakemake.input.facts)
recording = Recording(*(facts[key] for key in Recording._fields[:4]), trial_bounds(snakemake.input))
events = read_table(snakemake.input.events)
ensemble_events = read_table(snakemake.input.ensemble_events)
features, summary = neuron_features(
    events, ensemble_events, recording, Binning(**snakemake.params.coactivity), snakemake.params.burst_iei_s
)
save_table(snakemake.output.features, features)
summary.insert(0, "session", snakemake.wildcards.session)
save_table(snakemake.output.summary, summary)
log.info("features of %d neurons from %d events", len(features), len(events))
