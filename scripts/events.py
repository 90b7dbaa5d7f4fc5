"""Calcium events of one shard: per-neuron k-SD thresholds, onset/peak/amplitude/FWHM/area."""

import numpy as np

from calcium.events import detect_events
from calcium.io import load_json, load_npy, save_table
from calcium.logs import log_to
from calcium.shards import shard_rows

log = log_to(snakemake.log[0], snakemake.wildcards)
settings = snakemake.params.events
facts = load_json(snakemake.input.facts)
rows = shard_rows(int(snakemake.wildcards.shard), facts["n_neurons"], snakemake.params.neurons_per_shard)
events, thresholds = detect_events(
    load_npy(snakemake.input.traces, slice(None)),
    snakemake.params.frame_rate_hz,
    neuron_ids=np.arange(rows.start, rows.stop),
    start_time_s=facts.get("start_time_s", 0.0),
    **settings,
)
log.info(
    "%d events in neurons %d-%d (%d flagged wider than %s s, %d narrower than %.3g s)",
    len(events),
    rows.start,
    rows.stop - 1,
    int(events.exceeds_max_fwhm.sum()),
    settings["max_fwhm_s"],
    int(events.below_min_fwhm.sum()),
    settings["min_fwhm_s"],
)
save_table(snakemake.output.events, events)
save_table(snakemake.output.thresholds, thresholds)
# Large transients narrower than the minimum mean the kinetics do not fit this recording.
with np.errstate(divide="ignore", invalid="ignore"):
    snr = (
        events.amplitude_dff.to_numpy()
        / thresholds.noise_sd_dff.to_numpy()[events.neuron.to_numpy(dtype=np.int64) - rows.start]
    )
large = snr >= 20
if large.sum() >= 10 and events.below_min_fwhm[large].mean() > 0.1:
    log.warning(
        "%.0f%% of the events 20 noise SD or larger are narrower than %.3g s (events.min_fwhm_s): "
        "this recording's transients are faster than the kinetics used (deconvolution.tau_decay_s / "
        "the indicator's); set those, or events.min_fwhm_s, to match it",
        100 * events.below_min_fwhm[large].mean(),
        settings["min_fwhm_s"],
    )
