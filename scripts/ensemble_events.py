"""Ensemble events: coactivity above the null threshold and min_active, merged per activation."""

import numpy as np
import pandas as pd

from calcium.coactivity import (
    combined_statistic,
    contributions,
    group_ensemble_events,
    session_raster,
    significant_bins,
    thresholds_from_table,
    window_frames,
)
from calcium.io import load_json, read_table, save_table
from calcium.logs import log_to

log = log_to(snakemake.log[0], snakemake.wildcards)
facts = load_json(snakemake.input.facts)
binning = snakemake.params.coactivity
jitter = binning["jitter_bins"]
null = load_json(snakemake.input.threshold)
table = read_table(snakemake.input.coactivity)
frames_in = window_frames(table.n_frames.to_numpy(), jitter)
thresholds = thresholds_from_table(null["thresholds"], frames_in)
# The tested statistic: neurons active within the window, ties broken by those in the bin itself.
window = table.n_active_window.to_numpy()
statistic = combined_statistic(window, table.n_active.to_numpy(), facts["n_neurons"], jitter)
significant = significant_bins(statistic, thresholds, null["min_active"], window)
peak, first, last = group_ensemble_events(significant, statistic, jitter)
raster = session_raster(read_table(snakemake.input.events), facts, binning)
matrix = contributions(raster, peak, jitter)
event, neuron = np.nonzero(matrix)
window_first = np.maximum(peak - jitter, 0)
window_last = np.minimum(peak + jitter, len(table) - 1)
save_table(
    snakemake.output.events,
    pd.DataFrame(
        {
            "event": np.arange(peak.size),
            "bin": peak,
            "first_bin": first,
            "last_bin": last,
            "start_s": table.start_s.to_numpy()[window_first],
            "end_s": table.end_s.to_numpy()[window_last],
            "n_active": window[peak],
            "n_active_in_bin": table.n_active.to_numpy()[peak],
            "threshold_n_active": thresholds[peak] / null["statistic_scale"],
            "threshold_statistic": thresholds[peak],
        }
    ),
)
save_table(snakemake.output.neurons, pd.DataFrame({"event": event, "neuron": neuron}))
log.info(
    "%d significant bins -> %d ensemble events (neurons within ± %d bins > null threshold, >= %d)",
    int(significant.sum()),
    peak.size,
    jitter,
    null["min_active"],
)
if null.get("note"):
    log.warning(null["note"])
