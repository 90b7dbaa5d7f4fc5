"""Per-neuron event features (with population coupling) and their session averages."""

import numpy as np

from calcium.coactivity import session_raster
from calcium.features import event_features, population_coupling, session_summary
from calcium.io import load_json, read_table, save_table
from calcium.logs import log_to

log = log_to(snakemake.log[0], snakemake.wildcards)
facts = load_json(snakemake.input.facts)
binning = snakemake.params.coactivity
events = read_table(snakemake.input.events)
ensemble_events = read_table(snakemake.input.ensemble_events)
features = event_features(
    events, facts["n_neurons"], facts["n_frames"], facts["frame_rate_hz"], snakemake.params.burst_iei_s
)
raster = session_raster(events, facts, binning)
# A neuron takes part in an ensemble event when it is active within its peak bin ± jitter_bins.
jitter = binning["jitter_bins"]
windows = (ensemble_events.bin.to_numpy(dtype=np.int64)[:, None] + np.arange(-jitter, jitter + 1)).ravel()
ensemble_bins = np.unique(windows[(windows >= 0) & (windows < raster.n_bins)])
features = features.merge(population_coupling(raster, ensemble_bins), on="neuron")
save_table(snakemake.output.features, features)
summary = session_summary(
    features,
    session=snakemake.wildcards.session,
    n_events=len(events),
    n_ensemble_events=len(ensemble_events),
)
save_table(snakemake.output.summary, summary)
log.info("features of %d neurons, %d events", len(features), len(events))
