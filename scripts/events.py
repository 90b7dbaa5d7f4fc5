"""Calcium events of one shard: per-neuron k-SD thresholds, onset/peak/amplitude/FWHM/area."""

import numpy as np

from calcium.events import detect_events
from calcium.io import load_json, load_npy, save_table
from calcium.logs import log_to
from calcium.shards import shard_rows

log = log_to(snakemake.log[0], snakemake.wildcards)
settings = dict(snakemake.params.events)
settings.pop("burst_iei_s")
settings.pop("input")
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
    "%d events in neurons %d-%d (%d flagged wide)",
    len(events),
    rows.start,
    rows.stop - 1,
    int(events.exceeds_max_fwhm.sum()),
)
save_table(snakemake.output.events, events)
save_table(snakemake.output.thresholds, thresholds)
